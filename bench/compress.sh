#!/usr/bin/env bash
# Layer compression: whittle's block-parallel gzip (zlib; the default level 5, and 6) and zstd
# (crates/whittle-fs/src/compress.rs, run through its `compress` example exactly as a build
# compresses a layer) vs `pigz -6`,
# `gzip -6` (one stream: the size reference) and `zstd -3`, on the same tar, in one run. The
# tar is the python3 + ca-certificates image's layer built from the host's Debian mirror
# (host:debian, from its apt sources), or BENCH_TAR=path. Prints, best of 3 (the machine may be
# shared: the load average is printed first): wall time, output size and its ratio to `gzip -6`,
# peak RSS (/usr/bin/time -v's maximum resident set size). THREADS (default: all cores) is
# given to whittle (WHITTLE_THREADS), pigz -p and zstd -T for the `-T` row.
# Needs: pigz, gzip, zstd, /usr/bin/time. WHITTLE_BIN=path builds the tar with that binary
# instead of a release build.
#   bench/compress.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
threads=${THREADS:-$(nproc)}
export WHITTLE_THREADS=$threads

cargo build --release --locked -p whittle-fs --example compress >/dev/null 2>&1
comp=$PWD/target/release/examples/compress

tar=${BENCH_TAR:-}
if [ -z "$tar" ]; then
  bin=${WHITTLE_BIN:-}
  if [ -z "$bin" ]; then
    cargo build --release --locked -p whittle >/dev/null 2>&1
    bin=$PWD/target/release/whittle
  fi
  cat > "$work/py.yaml" <<YAML
contents:
  repositories:
    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main
  packages: [python3, ca-certificates]
archs: [amd64]
YAML
  "$bin" build "$work/py.yaml" -o "oci:$work/py:t" --no-sbom >/dev/null 2>&1
  layer=$(python3 -c 'import json,sys
d=sys.argv[1]
i=json.load(open(d+"/index.json"))["manifests"][0]["digest"][7:]
print(json.load(open(d+"/blobs/sha256/"+i))["layers"][0]["digest"][7:])' "$work/py")
  gzip -dc "$work/py/blobs/sha256/$layer" > "$work/in.tar"
  tar=$work/in.tar
fi
size=$(stat -c %s "$tar")
echo "input: $tar, $(awk "BEGIN{printf \"%.1f\", $size/1e6}") MB; threads: $threads; $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

best() { # $1: name, $2: output file, rest: command; prints name, best time, its CPU time
  # (user + system: what the load of a shared machine changes least), size, peak RSS
  local name=$1 out=$2 t rss u s bt= bcpu= brss=
  shift 2
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@"
    read -r t rss u s < "$work/time"
    if [ -z "$bt" ] || awk "BEGIN{exit !($t < $bt)}"; then
      bt=$t
      brss=$rss
      bcpu=$(awk "BEGIN{printf \"%.2f\", $u + $s}")
    fi
  done
  printf '%-26s %8s %8s %10s %8s %9s\n' "$name" "$bt" "$bcpu" "$(stat -c %s "$out")" \
    "$(awk "BEGIN{printf \"%.3f\", $(stat -c %s "$out")/$ref}")" "$((brss / 1024)) MB"
}

gzip -6 -c "$tar" > "$work/ref.gz"
ref=$(stat -c %s "$work/ref.gz")
printf '%-26s %8s %8s %10s %8s %9s\n' compressor 'time s' 'CPU s' bytes 'vs gzip' 'peak RSS'
best "gzip -6 (one stream)" "$work/ref.gz" sh -c "gzip -6 -c '$tar' > '$work/ref.gz'"
best "pigz -6 -p $threads" "$work/p.gz" sh -c "pigz -6 -p $threads -c '$tar' > '$work/p.gz'"
best "whittle gzip 5 (default)" "$work/w.gz" "$comp" gzip 5 "$tar" "$work/w.gz"
best "whittle gzip 6" "$work/w6.gz" "$comp" gzip 6 "$tar" "$work/w6.gz"
best "zstd -3" "$work/z.zst" zstd -q -f -3 "$tar" -o "$work/z.zst"
best "zstd -3 -T$threads" "$work/zt.zst" zstd -q -f -3 -T"$threads" "$tar" -o "$work/zt.zst"
best "whittle zstd 3" "$work/w.zst" "$comp" zstd 3 "$tar" "$work/w.zst"
# the outputs decompress to the input
gzip -dc "$work/w.gz" | cmp - "$tar"
zstd -dc "$work/w.zst" | cmp - "$tar"
# and do not depend on the thread count
WHITTLE_THREADS=1 "$comp" gzip 5 "$tar" "$work/w1.gz"
cmp "$work/w1.gz" "$work/w.gz"
echo "whittle's outputs round-trip and are byte-identical with 1 and $threads threads"
