#!/usr/bin/env bash
# Cold build of python3 + ca-certificates from the host's Debian 12 mirror, side by side in one
# run: whittle (empty package cache each run) vs `mmdebstrap --variant=extract` (a fresh apt cache
# each run: mmdebstrap downloads into its new root) with the same package set, taken from
# whittle's SBOM (apt adds the dependencies whittle waives: dpkg, debconf and theirs). Best of 3 each: wall time and peak RSS (/usr/bin/time -v), and whittle's own
# step timestamps from the best run. Issue 18 items 1 and 5.
# The mirror: $WHITTLE_DEBIAN_MIRROR, else the first `deb` entry of the host's apt sources (what
# whittle's `host:debian` resolves to); both tools get the same URI. Needs mmdebstrap
# (apt-get install -y mmdebstrap) and network access to the mirror. Run as root.
#   bench/cold-build.sh          # WHITTLE_BIN=… to measure another binary
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
whittle_bin
command -v mmdebstrap >/dev/null || apt-get install -y mmdebstrap >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# host_mirror: the Debian mirror URI, as whittle's `host:debian` resolves it (env, deb822, list).
host_mirror() {
  if [ -n "${WHITTLE_DEBIAN_MIRROR:-}" ]; then echo "${WHITTLE_DEBIAN_MIRROR%/}"; return; fi
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""; FS="\n"}
      { t=""; u=""; s=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) t = $i
          if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
          if ($i ~ /^Suites:/) s = $i
        }
        if (t ~ /[ \t]deb([ \t]|$)/ && u ~ /^(https?:\/\/|file:)/ && s ~ /[ \t][a-z]+([ \t]|$)/) { print u; exit }
      }' "$f" | sed 's#/$##' | grep . && return
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++
      if ($i ~ /^(https?:\/\/|file:)/ && $(i+1) !~ /-(security|updates|backports)$|\/updates$/) { print $i; exit } }' \
      "$f" | sed 's#/$##' | grep . && return
  done
  echo "no Debian mirror: set WHITTLE_DEBIAN_MIRROR" >&2
  exit 1
}
mirror=$(host_mirror)
key=/usr/share/keyrings/debian-archive-keyring.gpg
export WHITTLE_DEBIAN_MIRROR=$mirror   # whittle's host:debian = the URI mmdebstrap gets
debian_config "python3, ca-certificates" > "$work/py.yaml"

# measure NAME CMD…: runs CMD under /usr/bin/time -v (its stderr to $work/NAME.err); prints
# "wall_seconds rss_kb".
measure() {
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" >/dev/null 2> "$work/$name.err"
  awk -F': ' '/Elapsed/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; w = s }
    /Maximum resident/ { r = $2 } END { printf "%.2f %d\n", w, r }' "$work/$name.time"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A best_wall best_rss
pkgs=
for run in 1 2 3; do
  for tool in whittle mmdebstrap; do
    rm -rf "$work/cache" "$work/$tool.tar" "$work/$tool.spdx.json"
    if [ "$tool" = whittle ]; then
      read -r wall rss < <(WHITTLE_CACHE_DIR=$work/cache measure "whittle$run" \
        "$bin" build "$work/py.yaml" -o "oci-archive:$work/whittle.tar")
      if [ -z "$pkgs" ]; then   # the exact package set whittle resolved, for mmdebstrap
        pkgs=$(python3 - "$work/whittle.spdx.json" <<'PY'
import json,sys
d=json.load(open(sys.argv[1]))
print(",".join(sorted(p["name"] for p in d["packages"] if p.get("versionInfo")
  and p.get("primaryPackagePurpose") != "OPERATING-SYSTEM" and p["SPDXID"] != "SPDXRef-Image")))
PY
)
        echo "packages ($(tr ',' '\n' <<< "$pkgs" | wc -l)): $pkgs"
      fi
    else
      read -r wall rss < <(measure "mmdebstrap$run" mmdebstrap --quiet --variant=extract \
        --include="$pkgs" --architectures=amd64 --aptopt="Dir::Etc::Trusted \"$key\"" \
        bookworm "$work/mmdebstrap.tar" "deb $mirror bookworm main")
    fi
    echo "run $run $tool: wall ${wall} s, max RSS $((rss / 1024)) MB, output $(stat -c %s "$work/$tool.tar") bytes"
    if [ -z "${best_wall[$tool]:-}" ] || awk "BEGIN{exit !($wall < ${best_wall[$tool]})}"; then
      best_wall[$tool]=$wall
      [ "$tool" = whittle ] && cp "$work/whittle$run.err" "$work/whittle-best.err"
    fi
    if [ -z "${best_rss[$tool]:-}" ] || [ "$rss" -lt "${best_rss[$tool]}" ]; then best_rss[$tool]=$rss; fi
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "whittle's steps (fastest run):"
grep -v '^warning:' "$work/whittle-best.err" | cut -c1-120 | sed 's/^/  /'   # lines cut short
for tool in whittle mmdebstrap; do
  echo "best of 3 $tool: wall ${best_wall[$tool]} s, max RSS $((best_rss[$tool] / 1024)) MB"
done
awk "BEGIN{printf \"whittle / mmdebstrap: %.2fx\n\", ${best_wall[whittle]} / ${best_wall[mmdebstrap]}}"
