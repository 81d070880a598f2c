#!/usr/bin/env bash
# int8 files against the float32 reference over a photo folder: each
# fixture calibrated by each method on the folder (import --quantize int8
# --calibrate), then verify --images with the bound opened wide (--atol 0
# --rtol 1), so that the errors are measured, not judged. Writes a
# Markdown table into docs/verify.md between the int8 markers (BENCH_DOC
# names another file; BENCH_DOC= writes none). PHOTOS names the folder
# (default: scripts/photo-folder.sh's 300 files). `make bench-int8` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DOC=${BENCH_DOC-docs/verify.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o bin/gnconv ./cmd/gnconv
photos=${PHOTOS:-}
if [ -z "$photos" ]; then
  photos="$work/photos"
  sh scripts/photo-folder.sh "$photos" 300 >/dev/null
fi
rows="$work/rows.tsv"
: >"$rows"
for fx in tutorial:tutorial torchvision:imagenet; do
  name=${fx%%:*}
  preset=${fx##*:}
  w=fixtures/${name}_aux.pth
  for method in minmax percentile entropy; do
    f="$work/$name-$method.onnx"
    bin/gnconv import "$w" -o "$f" --quantize int8 --calibrate "$photos" \
      --calibration-method "$method" --calibration-preprocess "$preset" >/dev/null 2>&1
    bin/gnconv verify "$f" --weights "$w" --images "$photos" --preprocess "$preset" \
      --atol 0 --rtol 1 --json >"$work/$name-$method.json" 2>/dev/null || true
    printf '%s\t%s\t%s\n' "$name" "$method" "$work/$name-$method.json" >>"$rows"
  done
done
$PY - "$rows" "$photos" "$DOC" <<'PY'
import json, sys
rows, photos, doc = sys.argv[1:4]
out = ["Measured by `bench/int8.sh`; each file calibrated on the folder it is verified on.", "",
       "| file | images | max abs error | of max \\|reference\\| | top-1 agreement | top-5 agreement | accuracy change |",
       "|---|---|---|---|---|---|---|"]
for line in open(rows):
    name, method, path = line.split("\t")
    d = json.load(open(path.strip()))
    f = d["image_folder"]
    o = f["outputs"][0]
    # with --atol 0 --rtol 1 the bound is the largest reference value
    rel = o["max_abs_error"] / o["bound"] if o["bound"] else 0
    acc = f.get("accuracy")
    change = "%+.2f points" % (100 * (acc["onnx_top1"] - acc["reference_top1"])) if acc else ""
    out.append("| %s, %s | %d | %.3g | %.3f | %.2f%% | %.2f%% | %s |" % (
        name, method, f["images"], o["max_abs_error"], rel, 100 * o["top1_agreement"], 100 * o["top5_agreement"], change))
table = "\n".join(out) + "\n"
print(table)
if doc:
    text = open(doc).read()
    begin, end = "<!-- int8:begin -->\n", "<!-- int8:end -->"
    if begin not in text or end not in text:
        sys.exit("no int8 markers in " + doc)
    i, j = text.index(begin) + len(begin), text.index(end)
    open(doc, "w").write(text[:i] + table + text[j:])
PY
