#!/usr/bin/env bash
# A fleet of four cold CI runners (each its own empty cache directory) building five Debian 12
# images (python3, gawk, openssl, curl, bash) from the host's Debian mirror, at once: without a
# shared cache, then with the registry cache (--cache-from/--cache-to on one repository of a
# local docker-registry, one fleet WHITTLE_CACHE_KEY) twice — the first run fills the empty
# registry, the second is the next CI run's cold runners. The mirror is reached through a local
# proxy that counts the bytes it serves. Prints per run: bytes from the mirror, bytes read from
# the registry cache, wall time.
# Needs: docker-registry (Debian's package), python3. The mirror is WHITTLE_DEBIAN_MIRROR, else
# the first Debian URIs line of the host's apt sources. WHITTLE_BIN=path uses that binary
# instead of a release build.
#   bench/registry-cache.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
reg_pid=
trap 'for p in "${pids[@]}" $reg_pid; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

. bench/lib.sh
whittle_bin
# a copy: a rebuild of the shared target during the run must not change the binary
cp "$bin" "$work/whittle"
bin=$work/whittle
upstream=${WHITTLE_DEBIAN_MIRROR:-$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null)}
[ -n "$upstream" ] || { echo "no Debian mirror: set WHITTLE_DEBIAN_MIRROR" >&2; exit 1; }
reg_port=${PORT:-5017}
proxy_port=$((reg_port + 1))
images="python3 gawk openssl curl bash"
runners=4

# the counting proxy: GET only, streams the upstream answer, adds its bytes to $work/bytes
cat > "$work/proxy.py" <<'PY'
import http.server, sys, threading, urllib.request, urllib.error
upstream, port, counter = sys.argv[1].rstrip("/"), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            body = urllib.request.urlopen(upstream + self.path, timeout=60).read()
        except urllib.error.HTTPError as e:
            self.send_response(e.code); self.send_header("Content-Length", "0"); self.end_headers(); return
        except Exception:  # the upstream failed (DNS, reset): whittle retries
            self.send_response(502); self.send_header("Content-Length", "0"); self.end_headers(); return
        with lock:
            n = int(open(counter).read() or 0)
            open(counter, "w").write(str(n + len(body)))
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
echo 0 > "$work/bytes"
python3 "$work/proxy.py" "$upstream" "$proxy_port" "$work/bytes" &
pids+=($!)
for _ in $(seq 50); do
  curl -fs -o /dev/null "http://127.0.0.1:$proxy_port/dists/bookworm/Release" && break
  sleep 0.2
done

start_registry "$work/storage" "$reg_port" "$work/registry.yml"

for pkg in $images; do
  debian_config "$pkg" > "$work/$pkg.yaml"
done

export WHITTLE_DEBIAN_MIRROR=http://127.0.0.1:$proxy_port
export WHITTLE_CACHE_KEY=$work/fleet.key
cache_repo=127.0.0.1:$reg_port/ci/whittle-cache

# one runner: five images in a row from an empty cache directory; $1 run, $2 runner, $3.. flags
runner() {
  local run=$1 r=$2
  shift 2
  for pkg in $images; do
    "$bin" build "$work/$pkg.yaml" -o "oci:$work/out-$run-$r-$pkg" --no-sbom \
      --cache-dir "$work/cache-$run-$r" "$@" 2>>"$work/log-$run-$r" >/dev/null
  done
}

printf '%-28s %12s %14s %8s\n' run "from mirror" "from registry" "wall s"
for run in none cache-first cache-next; do
  flags=()
  [ "$run" != none ] && flags=(--cache-from "$cache_repo" --cache-to "$cache_repo")
  echo 0 > "$work/bytes"
  start=$(date +%s.%N)
  rp=()
  for r in $(seq $runners); do
    runner "$run" "$r" "${flags[@]}" &
    rp+=($!)
  done
  for p in "${rp[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  # "cache     N entries (X kB) read from …" lines, summed
  reg=$(cat "$work"/log-"$run"-* | awk '/^cache .* read from/ {
      v=$4; gsub(/[(]/, "", v); u=$5;
      m = (u ~ /^kB/) ? 1e3 : (u ~ /^MB/) ? 1e6 : (u ~ /^GB/) ? 1e9 : 1; s += v * m
    } END { printf "%.1f MB", s / 1e6 }')
  printf '%-28s %9.1f MB %14s %8.1f\n' "$run ($runners x 5 images)" \
    "$(echo "$(cat "$work/bytes") / 1000000" | bc -l)" "$reg" "$(echo "$end - $start" | bc -l)"
done
