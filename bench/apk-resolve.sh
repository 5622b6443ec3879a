#!/bin/sh
# Times APK resolution against the real Alpine v3.16 x86_64 index (5,000+ packages) in
# ../shared/fixtures/apk: building the universe once, then busybox, curl and python3 each, warm.
# Optimised build; the figures are printed by the test `alpine_many_at_once_and_timing`.
# No peer runs here: apk-tools is not installed on this machine and no Alpine mirror is reachable.
# Usage: bench/apk-resolve.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cargo test --release --manifest-path "$root/Cargo.toml" -p whittle-resolve --test apk_real \
  alpine_many_at_once_and_timing -- --nocapture 2>/dev/null | grep -E "universe:|resolution"
