#!/usr/bin/env bash
# Warm-cache build of the gawk image: whittle vs mmdebstrap (extract variant, the same packages),
# both from the same file:// repository (the real Debian 12 data in ../shared/fixtures/deb).
# mmdebstrap reads the repository through copy:// (apt copies the local .debs, its warm-cache case).
# Needs: hyperfine, mmdebstrap (apt-get install hyperfine mmdebstrap). Run as root.
#   bench/gawk.sh            # prints the hyperfine table and the image size
set -euo pipefail
cd "$(dirname "$0")/.."
fix=${WHITTLE_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
repo=$fix/deb/bookworm-mini
key=$repo/keys/debian-archive-keyring.gpg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -p whittle >/dev/null 2>&1
bin=$PWD/target/release/whittle

cat > "$work/gawk.yaml" <<YAML
contents:
  repositories:
    - deb [signed-by=$key] file://$repo bookworm main
  packages: [gawk]
entrypoint:
  command: /usr/bin/gawk
accounts:
  groups: [{groupname: nonroot, gid: 65532}]
  users: [{username: nonroot, uid: 65532, gid: 65532}]
  run-as: nonroot
archs: [amd64]
YAML

export WHITTLE_CACHE_DIR=$work/cache
"$bin" build "$work/gawk.yaml" -o "oci-archive:$work/warm.tar" -q >/dev/null   # fill the cache
# the exact package set whittle resolved, for mmdebstrap
pkgs=$(python3 - "$work/warm.spdx.json" <<'PY'
import json,sys
d=json.load(open(sys.argv[1]))
print(",".join(sorted(p["name"] for p in d["packages"] if p.get("versionInfo") and p["SPDXID"]!="SPDXRef-Image"
                          and p.get("primaryPackagePurpose")!="OPERATING-SYSTEM")))
PY
)
echo "packages: $pkgs"
echo "whittle image (compressed): $(stat -c %s "$work/warm.tar") bytes in the oci-archive"

hyperfine --warmup 2 --runs 10 --export-markdown "$work/table.md" \
  -n whittle "$bin build $work/gawk.yaml -o oci-archive:$work/w.tar -q" \
  -n mmdebstrap "mmdebstrap --quiet --variant=extract --include=$pkgs --architectures=amd64 \
      --aptopt='Dir::Etc::Trusted \"$key\"' bookworm $work/m.tar 'deb copy://$repo bookworm main'"
cat "$work/table.md"
