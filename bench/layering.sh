#!/usr/bin/env bash
# Five Debian 12 images that share glibc (python3, gawk, openssl, curl, bash), built from the
# host's Debian mirror (host:debian, read from its apt sources) as one layer each and with
# `layering: {strategy: origin, budget: 10}`, pushed to a local docker-registry (distribution)
# under one repository, five tags. Prints per mode: the bytes whittle uploaded (it HEAD-checks
# each blob and skips those the repository has) and the bytes the registry stores (its blob
# directory: each distinct blob once, which is also what a node pulling all five downloads).
# Needs: docker-registry (Debian's package). WHITTLE_BIN=path uses that binary instead of a
# release build.
#   bench/layering.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
reg_pid=
trap '[ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"' EXIT

. bench/lib.sh
whittle_bin
export WHITTLE_CACHE_DIR=${WHITTLE_CACHE_DIR:-$work/cache}
port=${PORT:-5016}
images="python3 gawk openssl curl bash"

printf '%-10s %14s %14s %8s\n' mode uploaded stored layers
for mode in one-layer layered; do
  start_registry "$work/storage-$mode" "$port" "$work/registry.yml"
  uploaded=0
  nlayers=0
  for pkg in $images; do
    layering=""
    [ "$mode" = layered ] && layering=$'layering:\n  strategy: origin\n  budget: 10\n'
    debian_config "$pkg" "$layering" > "$work/$pkg.yaml"
    # (loopback registries are spoken to over plain HTTP)
    log=$("$bin" build "$work/$pkg.yaml" -o "docker://127.0.0.1:$port/bench/svc:$pkg" --no-sbom 2>&1 >/dev/null)
    # "pushed    N blobs uploaded (X MB), ..."
    n=$(printf '%s\n' "$log" | grep -c '^ *[0-9.]*s layer ' || true)
    nlayers=$((nlayers + (n > 0 ? n : 1)))
    uploaded_mb=$(printf '%s\n' "$log" | sed -n 's/.*pushed .* uploaded (\([0-9.]*\) MB).*/\1/p')
    uploaded=$(python3 -c "print($uploaded + $uploaded_mb)")
  done
  blobs="$work/storage-$mode/docker/registry/v2/blobs"
  stored=$(du -sb "$blobs" | cut -f1)
  printf '%-10s %11.1f MB %11.1f MB %8s\n' "$mode" "$uploaded" \
    "$(python3 -c "print($stored/1e6)")" "$nlayers"
  kill "$reg_pid"; wait "$reg_pid" 2>/dev/null || true; reg_pid=
done
