#!/bin/sh
# Makes an ImageFolder of real photographs for verify --images' tests and
# benchmark: the sample photographs Debian ships in python3-skimage and
# mate-backgrounds (the packages are downloaded and unpacked, not
# installed), cropped, flipped, turned and re-encoded by
# scripts/photo_folder.py into COUNT images in OUT.
#   scripts/photo-folder.sh OUT [COUNT]
set -eu
out=$1
count=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
cache=${GNCONV_DEB_CACHE:-${TMPDIR:-/tmp}/gnconv-photo-debs}
mkdir -p "$cache"
for pkg in python3-skimage mate-backgrounds; do
  if ! ls "$cache/$pkg"_*.deb >/dev/null 2>&1; then
    (cd "$cache" && { apt-get download "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get download "$pkg" >/dev/null; }; })
  fi
  if [ ! -d "$cache/$pkg" ]; then
    dpkg-deb -x "$cache/$pkg"_*.deb "$cache/$pkg.tmp" && mv "$cache/$pkg.tmp" "$cache/$pkg"
  fi
done
/usr/bin/python3 "$here/photo_folder.py" "$cache" "$out" "$count"
