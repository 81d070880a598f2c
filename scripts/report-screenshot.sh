#!/usr/bin/env bash
# Screenshot of an HTML report (gnconv verify --report) in headless
# chromium, for the docs: the top of the page at the given window size.
#
#   scripts/report-screenshot.sh REPORT.html OUT.png [WIDTHxHEIGHT]
#
# The browser is GNCONV_CHROMIUM, or chromium on the PATH (Debian's
# package). It runs with a throwaway profile and no network traffic of
# its own; the report loads nothing either.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
  exit 2
fi
report=$1 out=$2 size=${3:-1200x1600}
if ! [[ $size =~ ^([0-9]+)x([0-9]+)$ ]]; then
  echo "$0: size $size is not WIDTHxHEIGHT" >&2
  exit 2
fi
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]}
if [ ! -f "$report" ]; then
  echo "$0: $report is not a file" >&2
  exit 2
fi
browser=${GNCONV_CHROMIUM:-$(command -v chromium || true)}
if [ -z "$browser" ]; then
  echo "$0: chromium not found (apt-get install chromium, or set GNCONV_CHROMIUM)" >&2
  exit 2
fi

report_abs=$(realpath "$report")
out_abs=$(realpath -m "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# chromium writes the file itself; its log goes to a file shown only on
# failure, since it is noisy even when all is well (no D-Bus in CI)
log="$profile/chromium.log"
if ! "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --no-default-browser-check \
  --disable-extensions --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --force-device-scale-factor=1 --user-data-dir="$profile/profile" \
  --window-size="$width,$height" --screenshot="$out_abs" "$report_abs" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
if [ ! -s "$out_abs" ]; then
  cat "$log" >&2
  echo "$0: chromium wrote no screenshot" >&2
  exit 1
fi
echo "$out"
