#!/bin/bash
# Peak memory (maximum RSS, /usr/bin/time -v) of `whittle build` against decompression bombs:
# .deb packages whose ~1 MB data.tar.xz holds 4 GiB of zeros, either as one file or as 64 files
# of 64 MiB, one or three of them in one image. Each build must fail with the memory-budget
# error; the figure to watch is how far its peak RSS goes.
#
#   bench/bomb.sh [WHITTLE_BINARY]      (default: target/release/whittle)
#
# The repository is generated locally and unsigned (so the build is run with
# --insecure-allow-unsigned-repositories); it lives in a temporary directory removed at exit.
set -euo pipefail
whittle=$(realpath "${1:-target/release/whittle}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# make_deb NAME FILES SIZE: a .deb with FILES files of SIZE zero bytes (read from a sparse file)
make_deb() {
  local name=$1 files=$2 size=$3 root="$work/src-$1"
  mkdir -p "$root/DEBIAN" "$root/usr/share/$name"
  printf 'Package: %s\nVersion: 1\nArchitecture: all\nMaintainer: bench <bench@example.org>\nDescription: decompression bomb\n' \
    "$name" >"$root/DEBIAN/control"
  for i in $(seq 1 "$files"); do truncate -s "$size" "$root/usr/share/$name/zeros.$i"; done
  mkdir -p repo/pool
  dpkg-deb -Zxz -z9 --root-owner-group -b "$root" "repo/pool/${name}_1_all.deb" >/dev/null
  rm -rf "$root"
}

make_deb bomb-one 1 4G
make_deb bomb-many 64 64M
for n in 2 3; do cp repo/pool/bomb-many_1_all.deb "repo/pool/bomb-many$n.deb"; done
ls -l repo/pool

mkdir -p repo/dists/stable/main/binary-amd64
(cd repo && dpkg-scanpackages -m pool /dev/null 2>/dev/null) >repo/dists/stable/main/binary-amd64/Packages
# the copies are the same package: give them their own names in the index
python3 - repo/dists/stable/main/binary-amd64/Packages <<'EOF'
import sys
p = sys.argv[1]
out = []
for st in open(p).read().strip().split("\n\n"):
    for n in ("2", "3"):
        if f"pool/bomb-many{n}.deb" in st:
            st = st.replace("Package: bomb-many\n", f"Package: bomb-many{n}\n")
    out.append(st)
open(p, "w").write("\n\n".join(out) + "\n")
EOF
packages=repo/dists/stable/main/binary-amd64/Packages
{
  printf 'Suite: stable\nCodename: stable\nArchitectures: amd64\nComponents: main\nDate: %s\nSHA256:\n' \
    "$(date -u -R)"
  printf ' %s %s main/binary-amd64/Packages\n' "$(sha256sum <"$packages" | cut -d' ' -f1)" \
    "$(stat -c %s "$packages")"
} >repo/dists/stable/InRelease

run() {
  local label=$1 packages=$2
  cat >image.yaml <<EOF
contents:
  repositories:
    - deb [trusted=yes] file://$work/repo stable main
  packages: [$packages]
archs: [amd64]
EOF
  local out
  out=$(/usr/bin/time -v "$whittle" build image.yaml -o "oci:$work/out" --cache-dir "$work/cache" \
    --insecure-allow-unsigned-repositories 2>&1 >/dev/null || true)
  printf '%-40s %8.2f GB max RSS  %s\n' "$label" \
    "$(grep 'Maximum resident' <<<"$out" | awk '{print $6 / 1e6}')" \
    "$(grep -m1 -o 'package bomb[^:]*: [^(]*' <<<"$out" || grep -m1 -i 'error' <<<"$out" || true)"
}

run "one bomb, one 4 GiB file" bomb-one
run "one bomb, 64 files of 64 MiB" bomb-many
run "three bombs of 64 x 64 MiB" "bomb-many, bomb-many2, bomb-many3"
