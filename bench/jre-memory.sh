#!/usr/bin/env bash
# Peak memory (max RSS, /usr/bin/time -v) of building the openjdk-17-jre-headless image (257 MB
# unpacked) from the host's Debian 12 mirror: cold (empty cache: download and unpack) then warm
# twice; checks the cold and warm images are byte-identical. Issue 18 item 2.
#   bench/jre-memory.sh          # WHITTLE_BIN=… to measure another binary
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
whittle_bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debian_config openjdk-17-jre-headless > "$work/jre.yaml"
export WHITTLE_CACHE_DIR=$work/cache
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in cold warm warm; do
  /usr/bin/time -v "$bin" build "$work/jre.yaml" -o "oci-archive:$work/$run.tar" -q \
    >/dev/null 2> "$work/time"
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/time")
  wall=$(awk -F': ' '/Elapsed/ {print $2}' "$work/time")
  echo "$run: max RSS $((rss / 1024)) MB, wall $wall"
done
cmp -s "$work/cold.tar" "$work/warm.tar" && echo "cold and warm images identical"
