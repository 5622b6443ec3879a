#!/usr/bin/env bash
# Peak memory (max RSS, /usr/bin/time -v) and wall time of building a 10 GiB image: a signed
# repository generated here of 8 packages of 5 files of 256 MiB each. The content is not zeros:
# a 1 MiB pseudo-random block of 16-byte words (drawn from 256), rotated per file, which gzip
# compresses about 8:1; the packages' data is zstd-compressed with long-distance matching, so
# they stay small (the .deb files are still read whole, which this benchmark leaves out). Builds cold (empty cache) then warm and checks the
# two archives are byte-identical. Issue 18 item 2: memory must not grow with the image.
# Needs ~17 GB of free disk (the cache keeps the 10 GiB of decompressed package data) under
# $TMPDIR.
#   bench/big-image.sh            # WHITTLE_BIN=… to measure another binary
#   PACKAGES=2 FILES=2 FILE_MIB=64 bench/big-image.sh   # a smaller run
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
whittle_bin
packages=${PACKAGES:-8}
files=${FILES:-5}
file_mib=${FILE_MIB:-256}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo/pool" "$repo/dists/stable/main/binary-amd64" "$work/src"

# the files' contents, made once and hard-linked into every package
python3 - "$work/src" "$files" "$file_mib" <<'EOF'
import random, sys
out, files, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(18)
words = [r.randbytes(16) for _ in range(256)]
block = b"".join(words[r.randrange(256)] for _ in range(1 << 16))
for f in range(files):
    k = f * 4099 % len(block)
    rot = block[k:] + block[:k]
    with open(f"{out}/big{f}.bin", "wb") as fh:
        for _ in range(mib):
            fh.write(rot)
EOF

names=()
printf '2.0\n' >"$work/debian-binary"
for i in $(seq 0 $((packages - 1))); do
  name=big$i
  root=$work/root-$name
  mkdir -p "$root/usr/share/$name" "$work/ctl-$name"
  printf 'Package: %s\nVersion: 1\nArchitecture: all\nMaintainer: bench <bench@example.org>\nDescription: big files\n' \
    "$name" >"$work/ctl-$name/control"
  for f in "$work"/src/*.bin; do ln "$f" "$root/usr/share/$name/"; done
  # zstd's long-distance matching (dpkg-deb cannot ask for it) spans the repeating block
  tar -C "$work/ctl-$name" --owner=0 --group=0 -cf - ./control | zstd -q -3 >"$work/control.tar.zst"
  tar -C "$root" --owner=0 --group=0 --hard-dereference -cf - . | zstd -q -3 -T0 --long=21 \
    >"$work/data.tar.zst"
  (cd "$work" && ar rc "$repo/pool/${name}_1_all.deb" debian-binary control.tar.zst data.tar.zst)
  rm -rf "$root" "$work/ctl-$name" "$work/control.tar.zst" "$work/data.tar.zst"
  names+=("$name")
done
rm -rf "$work/src"
(cd "$repo" && dpkg-scanpackages -m pool /dev/null 2>/dev/null) \
  >"$repo/dists/stable/main/binary-amd64/Packages"
p=$repo/dists/stable/main/binary-amd64/Packages
cat >"$work/Release" <<EOF
Suite: stable
Codename: stable
Date: $(date -u -R)
Architectures: amd64
Components: main
SHA256:
 $(sha256sum <"$p" | cut -d' ' -f1) $(stat -c %s "$p") main/binary-amd64/Packages
EOF
# signed with a throwaway key, as a real repository is
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --pinentry-mode loopback --passphrase '' \
  --quick-gen-key 'whittle bench <bench@example.org>' ed25519 sign never
gpg -q --batch --export >"$work/keyring.gpg"
gpg -q --batch --clearsign -o "$repo/dists/stable/InRelease" "$work/Release"

list=$(IFS=,; echo "${names[*]}")
cat >"$work/image.yaml" <<EOF
contents:
  repositories:
    - deb [signed-by=$work/keyring.gpg] file://$repo stable main
  packages: [${list//,/, }]
archs: [amd64]
EOF
total=$((packages * files * file_mib))
echo "content: $packages packages x $files files x $file_mib MiB = $total MiB; .debs: $(du -sh "$repo/pool" | cut -f1)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
export WHITTLE_CACHE_DIR=$work/cache
for run in cold warm; do
  /usr/bin/time -v "$bin" build "$work/image.yaml" -o "oci-archive:$work/$run.tar" -q \
    >/dev/null 2>"$work/time" || { cat "$work/time"; exit 1; }
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/time")
  wall=$(awk -F': ' '/Elapsed/ {print $2}' "$work/time")
  echo "$run: max RSS $((rss / 1024)) MB, wall $wall, archive $(du -h "$work/$run.tar" | cut -f1)"
done
cmp -s "$work/cold.tar" "$work/warm.tar" && echo "cold and warm images identical"
