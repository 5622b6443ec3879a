# Sourced by the benchmarks (from the checkout's root): the whittle binary to measure, and a local
# docker-registry (distribution) on loopback.

# whittle_bin: sets bin to $WHITTLE_BIN, else to a release build of this checkout.
whittle_bin() {
  bin=${WHITTLE_BIN:-}
  if [ -z "$bin" ]; then
    cargo build --release --locked -p whittle >/dev/null 2>&1
    bin=$PWD/target/release/whittle
  fi
}

# start_registry STORAGE PORT CONF: serves STORAGE on 127.0.0.1:PORT (its config written to
# CONF), in the background; sets reg_pid. Exits when it does not answer within 10 s.
start_registry() {
  cat > "$3" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
http:
  addr: 127.0.0.1:$2
YAML
  docker-registry serve "$3" >/dev/null 2>&1 &
  reg_pid=$!
  for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$2/v2/" >/dev/null && return 0
    sleep 0.2
  done
  echo "docker-registry did not start" >&2
  exit 1
}

# debian_config PKG [EXTRA]: on stdout, a config installing PKG from the host's Debian 12
# mirror (host:debian), then EXTRA.
debian_config() {
  cat <<YAML
contents:
  repositories:
    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian bookworm main
  packages: [$1]
archs: [amd64]
${2:-}
YAML
}
