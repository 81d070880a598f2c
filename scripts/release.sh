#!/bin/sh
# Builds gnconv's release binaries: static (CGO_ENABLED=0) for
# linux, darwin and windows on amd64 and arm64, into dist/ (or the folder
# given), with their SHA-256 sums in SHA256SUMS.
#
# The build is reproducible: the same commit, built by the same Go
# release in any git clone, wherever it is, gives the same bytes. -trimpath drops the build's paths,
# -buildid= its build ID, and the only date stamped is the commit's
# (main.date), never the time of the build. A tree with uncommitted
# changes still builds, but its binaries say so (gnconv version:
# "(modified)"), and their bytes depend on those changes.
#
#   scripts/release.sh [--check] [folder]
#
# --check builds everything twice, into the folder and into a temporary
# one, and fails unless the two are byte for byte the same.
#
# The version, commit and commit date are stamped with -ldflags -X (the
# go command's own version control stamp is missing in a git worktree).
# VERSION overrides the version.
set -eu

check=false
if [ "${1:-}" = "--check" ]; then
	check=true
	shift
fi
out=${1:-dist}
GO=${GO:-go}
cd "$(dirname "$0")/.."

commit=$(git rev-parse HEAD)
date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD)
# The version: VERSION, else the tag on HEAD, else what git describe
# says from the last tag, else a pseudo-version of the commit as the go
# command writes it (v0.0.0-date-commit).
version=${VERSION:-$(git describe --tags --match 'v*' HEAD 2>/dev/null ||
	echo "v0.0.0-$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)-$(git rev-parse --short=12 HEAD)")}
ldflags="-s -w -buildid= -X main.version=$version -X main.commit=$commit -X main.date=$date"
if [ ! -d .git ]; then
	# The go command records version control only where .git is a
	# directory: these bytes differ from a clone's by that record.
	echo "release: warning: not a git clone (a worktree?): no version control record in the binaries" >&2
fi
if [ -n "$(git status --porcelain)" ]; then
	echo "release: warning: the tree has uncommitted changes; the binaries will say (modified)" >&2
	ldflags="$ldflags -X main.modified=true"
fi

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$@"
	else
		shasum -a 256 "$@"
	fi
}

build() {
	dir=$1
	rm -rf "$dir"
	mkdir -p "$dir"
	for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
		goos=${target%/*}
		goarch=${target#*/}
		exe=
		if [ "$goos" = windows ]; then exe=.exe; fi
		name=gnconv-$goos-$goarch$exe
		# GOFLAGS is cleared and the instruction-set levels fixed, so
		# that nothing in the environment changes the bytes.
		env CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" GOAMD64=v1 GOARM64=v8.0 GOFLAGS= \
			"$GO" build -trimpath -buildvcs=true -ldflags "$ldflags" -o "$dir/$name" ./cmd/gnconv
	done
	(cd "$dir" && sha256 gnconv-* >SHA256SUMS)
}

build "$out"
echo "release: gnconv $version in $out/ (commit $commit, $date)"
(cd "$out" && ls -l gnconv-* | awk '{ print "  " $5 "\t" $NF }')

if $check; then
	again=$(mktemp -d)
	trap 'rm -rf "$again"' EXIT
	build "$again/dist"
	for f in "$out"/*; do
		cmp "$f" "$again/dist/${f##*/}"
	done
	if [ "$(ls "$out")" != "$(ls "$again/dist")" ]; then
		echo "release: the two builds made different files" >&2
		exit 1
	fi
	echo "release: built twice, identical bytes"
fi
