#!/usr/bin/env bash
# `whittle audit` over a big real image vs `gzip -dc` over the same layer blobs (issue 4's goal:
# within 1.3x). Makes a Debian 12 rootfs with mmdebstrap from the mirror this host already uses
# (read from /etc/apt/sources.list.d/*.sources or $WHITTLE_DEBIAN_MIRROR; never written here),
# packs it as a 2-layer OCI layout (the rootfs, then a layer that deletes a file with a whiteout
# and overwrites another), and times both with hyperfine.
# Needs: mmdebstrap, pigz, hyperfine, python3; run as root. Set BENCH_DIR to keep the image.
#   bench/audit.sh                       # ~1 GB rootfs (build-essential, python3, a JRE, git)
#   BENCH_INCLUDE=ca-certificates bench/audit.sh   # a small one
set -euo pipefail
cd "$(dirname "$0")/.."
work=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

mirror=${WHITTLE_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "no Debian mirror: set WHITTLE_DEBIAN_MIRROR" >&2; exit 1; }
include=${BENCH_INCLUDE:-build-essential,python3,python3-pip,git,default-jre-headless}

cargo build --release -p whittle >/dev/null 2>&1
bin=$PWD/target/release/whittle

layout=$work/layout
if [ ! -f "$layout/index.json" ]; then
  echo "building the rootfs (mmdebstrap --variant=apt, +$include)..." >&2
  mmdebstrap --quiet --variant=apt --include="$include" --architectures=amd64 \
    bookworm "$work/rootfs.tar" "deb $mirror bookworm main"
  # layer 2: delete /etc/hostname-like file and overwrite /etc/motd, as a Dockerfile RUN would
  mkdir -p "$work/l2/etc" && : > "$work/l2/etc/.wh.debian_version" && echo changed > "$work/l2/etc/motd"
  tar -C "$work/l2" --numeric-owner --owner=0 --group=0 -cf "$work/l2.tar" etc
  mkdir -p "$layout/blobs/sha256"
  python3 - "$work" "$layout" <<'PY'
import hashlib, json, os, subprocess, sys
work, layout = sys.argv[1], sys.argv[2]
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(layout, "blobs/sha256", d), "wb").write(data)
    return d
layers, diffs = [], []
for t in ("rootfs.tar", "l2.tar"):
    raw = open(os.path.join(work, t), "rb").read()
    diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
    gz = subprocess.run(["pigz", "-6", "-n", "-c"], input=raw, capture_output=True, check=True).stdout
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": "sha256:" + blob(gz), "size": len(gz)})
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/bash"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs},
                  "history": [{"created_by": "mmdebstrap"}, {"created_by": "RUN rm /etc/debian_version"}]}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": "sha256:" + blob(cfg), "size": len(cfg)},
                  "layers": layers}).encode()
md = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": "sha256:" + md, "size": len(man),
           "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
          open(os.path.join(layout, "index.json"), "w"))
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
  rm -rf "$work/rootfs.tar" "$work/l2.tar" "$work/l2"
fi

blobs=$(python3 - "$layout" <<'PY'
import json, sys, os
l = sys.argv[1]
idx = json.load(open(os.path.join(l, "index.json")))
m = json.load(open(os.path.join(l, "blobs/sha256", idx["manifests"][0]["digest"][7:])))
print(" ".join(os.path.join(l, "blobs/sha256", x["digest"][7:]) for x in m["layers"]))
PY
)
compressed=$(du -cb $blobs | tail -1 | cut -f1)
uncompressed=$(cat $blobs | gzip -dc | wc -c)
echo "image: $compressed bytes compressed, $uncompressed bytes of layer tars" >&2
"$bin" audit "oci:$layout:bench" | tail -1 >&2

hyperfine --warmup 1 --runs ${BENCH_RUNS:-5} --export-markdown "$work/audit.md" \
  -n "gzip -dc" "cat $blobs | gzip -dc > /dev/null" \
  -n "whittle audit" "$bin audit oci:$layout:bench --format json > /dev/null" \
  -n "whittle inspect" "$bin inspect oci:$layout:bench --format json > /dev/null"
cat "$work/audit.md"
