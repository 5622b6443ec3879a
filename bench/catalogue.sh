#!/usr/bin/env bash
# The catalogue (images/) next to Google distroless's hand-written package sets: each root image
# of images/debian12 and images/debian13 is built, and so is the same image from the package list
# distroless writes for it (../shared/reference/distroless.md; for Debian 12, where distroless
# now builds only Debian 13 python3/java/nodejs, the Debian 12 names of the same list), with the
# same tool, the same mirror (the host's: `host:debian`), the same day. whittle solves
# dependencies for both lists, and both get the CA bundle from ca-certificates' data without its
# openssl, as distroless does. Prints a Markdown table: packages, compressed and unpacked size.
#   bench/catalogue.sh            # ~2 min cold on 2 cores; uses $WHITTLE_CACHE_DIR if set
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -p whittle >/dev/null 2>&1
bin=$PWD/target/release/whittle
export WHITTLE_CACHE_DIR=${WHITTLE_CACHE_DIR:-$work/cache}

# distroless's lists (static.bzl, config.bzl, python.bzl, java.bzl), per release
static="base-files netbase tzdata media-types ca-certificates"
declare -A set12=(
  [static]="$static"
  [base-nossl]="$static libc6"
  [base]="$static libc6 libssl3"
  [cc]="$static libc6 libssl3 libgomp1 libstdc++6 libgcc-s1 gcc-12-base"
  [python3]="$static libc6 libssl3 libbz2-1.0 libdb5.3 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 zlib1g libcom-err2 libcrypt1 libc-bin libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libnsl2 libreadline8 libtirpc3 libffi8 libpython3.11-minimal libpython3.11-stdlib python3.11-minimal python3.11-venv"
  [java]="$static libc6 libssl3 openjdk-17-jre-headless zlib1g libjpeg62-turbo liblcms2-2 libfreetype6 fonts-dejavu-core fontconfig-config libexpat1 libfontconfig1 libuuid1 libbrotli1 libcrypt1 libstdc++6 libgcc-s1 gcc-12-base libpng16-16 libbz2-1.0"
  [nodejs]="$static libc6 libssl3 libgomp1 libstdc++6 libgcc-s1 gcc-12-base nodejs"
)
declare -A set13=(
  [static]="$static tzdata-legacy"
  [base-nossl]="$static tzdata-legacy libc6"
  [base]="$static tzdata-legacy libc6 libssl3t64 libzstd1 zlib1g"
  [cc]="$static tzdata-legacy libc6 libssl3t64 libzstd1 zlib1g libgomp1 libstdc++6 libgcc-s1 gcc-14-base"
  [python3]="$static tzdata-legacy libc6 libssl3t64 libzstd1 zlib1g libbz2-1.0 libdb5.3t64 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libcom-err2 libcrypt1 libc-bin libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 libnsl2 libreadline8t64 libtirpc3t64 libffi8 libpython3.13-minimal libpython3.13-stdlib python3.13-minimal python3.13-venv"
  [java]="$static tzdata-legacy libc6 libssl3t64 libzstd1 zlib1g openjdk-21-jre-headless libjpeg62-turbo liblcms2-2 libfreetype6 fonts-dejavu-core fontconfig-config libexpat1 libfontconfig1 libuuid1 libbrotli1 libcrypt1 libstdc++6 libgcc-s1 gcc-14-base libpng16-16t64 libbz2-1.0"
  [nodejs]="$static tzdata-legacy libc6 libssl3t64 libzstd1 zlib1g libgomp1 libstdc++6 libgcc-s1 gcc-14-base nodejs"
)

# "N packages, X MB compressed, Y MB unpacked" of a build's log
sizes() {
  "$bin" build "$1" -o "oci:$work/img:t" --no-sbom 2>&1 >/dev/null |
    sed -n 's/.*: \([0-9]*\) packages, \([0-9.]*\) MB compressed, \([0-9.]*\) MB unpacked/\1 \2 \3/p'
}

echo "| image | whittle: packages | compressed MB | unpacked MB | distroless set: packages | compressed MB | unpacked MB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for rel in debian12 debian13; do
  if [ "$rel" = debian12 ]; then suite=bookworm; else suite=trixie; fi
  for img in static base-nossl base cc python3 java nodejs; do
    if [ "$rel" = debian12 ]; then list=${set12[$img]}; else list=${set13[$img]}; fi
    {
      echo "contents:"
      echo "  repositories:"
      echo "    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian $suite main"
      echo "  packages: [${list// /, }]"
      echo "  exclude: [openssl]"
      echo "archs: [amd64]"
    } >"$work/set.yaml"
    read -r wp wc wu < <(sizes "images/$rel/$img.yaml")
    read -r dp dc du < <(sizes "$work/set.yaml")
    echo "| $rel/$img | $wp | $wc | $wu | $dp | $dc | $du |"
  done
done
