#!/usr/bin/env bash
# Secret scanning side by side: `whittle audit` vs `trivy image --scanners secret` on the same
# OCI layouts, both offline. The images are catalogue images built by whittle from the host's
# Debian mirror (read from the apt sources or $WHITTLE_DEBIAN_MIRROR by whittle itself).
# Needs: trivy (./dev peers), GNU time, unshare; the network only for the packages.
#   bench/secrets-trivy.sh                      # debian12/python3 and debian12/java
#   bench/secrets-trivy.sh debian12/nodejs      # other catalogue images
# trivy keeps no cache between runs (--cache-backend memory), as whittle keeps none.
# Prints, per image and tool, the best wall time of 3 runs, peak RSS and the number of findings.
set -euo pipefail
cd "$(dirname "$0")/.."
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(debian12/python3 debian12/java)
work=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
trivy=${WHITTLE_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/whittle-peers}/bin/trivy
[ -x "$trivy" ] || { echo "no trivy: run ./dev peers" >&2; exit 1; }
cargo build --release -q -p whittle
bin=$PWD/target/release/whittle

# best-of-3 wall seconds and the peak RSS (MB) of the run that was fastest
measure() {
  local best="" rss="" i t m
  for i in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>/dev/null || true
    read -r t m <"$work/time"
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; rss=$((m / 1024)); fi
  done
  echo "$best $rss"
}

printf '| image | unpacked MB | tool | best of 3 [s] | peak RSS [MB] | secret findings |\n|---|---:|---|---:|---:|---:|\n'
for img in "${images[@]}"; do
  layout=$work/${img//\//-}
  [ -f "$layout/index.json" ] ||
    "$bin" build "images/$img.yaml" -o "oci:$layout:t" --no-sbom -q >/dev/null
  size=$("$bin" inspect --format json "oci:$layout:t" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["totals"]["bytes"]/1e6,1))' 2>/dev/null || echo "?")
  read -r t m < <(measure "$bin" audit --format json "oci:$layout:t")
  n=$(python3 -c 'import json,sys; print(sum(f["rule"] in ("secret-in-file","hidden-secret") for f in json.load(open(sys.argv[1]))["findings"]))' "$work/out")
  echo "| $img | $size | whittle audit | $t | $m | $n |"
  read -r t m < <(measure unshare -n "$trivy" image --input "$layout" --scanners secret \
    --offline-scan --skip-db-update --skip-java-db-update --skip-version-check \
    --disable-telemetry --format json --cache-backend memory --cache-dir "$work/trivy-cache")
  n=$(python3 -c 'import json,sys; print(sum(len(r.get("Secrets") or []) for r in json.load(open(sys.argv[1])).get("Results") or []))' "$work/out")
  echo "| $img | $size | trivy --scanners secret | $t | $m | $n |"
done
