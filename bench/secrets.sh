#!/usr/bin/env bash
# Throughput of whittle-secrets' scan (MB/s), over generated text or a real tree:
#   bench/secrets.sh              # 256 MB of generated text files
#   bench/secrets.sh /some/rootfs # the files under a directory (first 1 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then export WHITTLE_SECRETS_BENCH_DIR=$1; fi
cargo test --release -q -p whittle-secrets --test speed -- --ignored --nocapture 2>&1 | grep '^scan:'
