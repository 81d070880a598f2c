#!/usr/bin/env bash
# The example report in docs/: gnconv verify --images --report on a file
# that differs from its weights in one value of inception4a.branch3.1, over
# 60 of the photo folder's images (scripts/photo-folder.sh), labelled by
# their sub-folders; then its screenshot (scripts/report-screenshot.sh).
#   scripts/example-report.sh   (writes docs/verify-report.html and .png)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/gnconv" ./cmd/gnconv
sh scripts/photo-folder.sh "$work/photos" 60 >/dev/null
cp fixtures/torchvision_aux.pth "$work/googlenet.pth"
cd "$work"
./gnconv import googlenet.pth -o googlenet.onnx 2>/dev/null
/usr/bin/python3 - <<'PY'
import onnx
from onnx import numpy_helper
m = onnx.load("googlenet.onnx")
for t in m.graph.initializer:
    if t.name.startswith("inception4a.branch3.1") and t.name.endswith("weight"):
        a = numpy_helper.to_array(t).copy()
        a.flat[40] += 2.0
        t.CopyFrom(numpy_helper.from_array(a, t.name))
        break
onnx.save(m, "googlenet-altered.onnx")
PY
ls photos > labels.txt
status=0
./gnconv verify googlenet-altered.onnx --weights googlenet.pth --images photos --labels labels.txt \
  --report "$top/docs/verify-report.html" >/dev/null 2>&1 || status=$?
[ "$status" = 1 ] || { echo "$0: verify exited $status, want 1 (a mismatch)" >&2; exit 1; }
cd "$top"
bash scripts/report-screenshot.sh docs/verify-report.html docs/verify-report.png 1200x1100
