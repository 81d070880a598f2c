#!/usr/bin/env bash
# verify --images' speed and memory: the same network over photo folders
# of two sizes (scripts/photo-folder.sh), against the interpreter's and
# the reference pass's own time per image on a batch of the same size
# (gnconv bench). Each folder image costs one image of each pass plus its
# decoding, which runs beside them; the peak memory should not grow with
# the folder. Writes a Markdown table into docs/performance.md between
# the images markers (BENCH_DOC names another file; BENCH_DOC= writes
# none). `make bench-images` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DOC=${BENCH_DOC-docs/performance.md}
SIZES=${SIZES:-"100 400"}
BATCH=${BATCH:-8}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
go build -o bin/gnconv ./cmd/gnconv
w=fixtures/torchvision_aux.pth
bin/gnconv import "$w" -o "$work/m.onnx" --force >/dev/null 2>&1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bin/gnconv bench "$work/m.onnx" --weights "$w" --batch "$BATCH" --runs 10 --warmup 2 --json >"$work/bench.json" 2>/dev/null
rows="$work/rows.tsv"
: >"$rows"
for n in $SIZES; do
  sh scripts/photo-folder.sh "$work/photos$n" "$n" >/dev/null
  /usr/bin/time -f "%e %M" -o "$work/t" bin/gnconv verify "$work/m.onnx" --weights "$w" --images "$work/photos$n" --batch "$BATCH" >"$work/out$n" 2>/dev/null
  read -r s kb <"$work/t"
  images=$(awk '/^images: /{print $2}' "$work/out$n")
  printf '%s\t%s\t%s\t%s\n' "$n" "$images" "$s" "$kb" >>"$rows"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
$PY - "$work/bench.json" "$rows" "$BATCH" "$load_before" "$load_after" "$DOC" <<'PY'
import json, sys
bench, rows, batch, lb, la, doc = sys.argv[1:7]
b = json.load(open(bench))
batch = int(batch)
eng = {e["engine"]: e["median_ms"] / batch for e in b["engines"]}
both = eng.get("interpreter", 0) + eng.get("reference", 0)
k = b["kernel"]
out = []
out.append("Measured by `bench/images.sh` on %s, %d cores (Go's GOMAXPROCS), CPU features %s, kernel `%s`, %s, load average %s before and %s after; the torchvision fixture (7 classes), photo folders from `scripts/photo-folder.sh`, batches of %d."
           % (b["cpu"], b["gomaxprocs"], k["cpu_features"], k["name"], b["go_version"], lb, la, batch))
out.append("")
out.append("| what | images | time | per image | vs interpreter + reference per image | peak memory |")
out.append("|---|---|---|---|---|---|")
out.append("| `gnconv bench`, interpreter, batch %d | | | %.1f ms | | |" % (batch, eng.get("interpreter", 0)))
out.append("| `gnconv bench`, reference pass, batch %d | | | %.1f ms | | |" % (batch, eng.get("reference", 0)))
for line in open(rows):
    n, images, s, kb = line.split()
    per = 1000 * float(s) / int(images)
    out.append("| `gnconv verify --images`, %s images | %s | %.1f s | %.1f ms | %.2f | %.0f MiB |" % (n, images, float(s), per, per / both if both else 0, int(kb) / 1024))
table = "\n".join(out) + "\n"
print(table)
if doc:
    text = open(doc).read()
    begin, end = "<!-- images:begin -->\n", "<!-- images:end -->"
    if begin in text and end in text:
        i, j = text.index(begin) + len(begin), text.index(end)
        text = text[:i] + table + text[j:]
    else:
        text += "\n## verify --images\n\n" + begin + table + end + "\n"
    open(doc, "w").write(text)
PY
