#!/usr/bin/env bash
# gnconv's speed and memory benchmark: builds gnconv, runs the Go forward
# pass, the ONNX interpreter and onnxruntime (CPU, 2 threads) on the same
# inputs, times torch where Debian's python3-torch is installed, times and
# measures `gnconv import` and `gnconv verify` on a 1000-class torchvision
# checkpoint, and prints one Markdown table. `make bench` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
[ -d interop/node_modules/onnxruntime-node ] || (cd interop && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
go build -o bin/gnconv ./cmd/gnconv
have_torch=0
$PY -c "import torch, torchvision" 2>/dev/null && have_torch=1

# median of a list of numbers
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(go version | cut -d' ' -f3)" >&2

# Forward passes, batch 2, 3x224x224: onnxruntime, the interpreter, the reference.
go test ./interop -run '^$' -bench 'BenchmarkORT' -benchtime 30x -count 5 > "$work/go.txt"
ms() { grep "BenchmarkORT/$1/$2" "$work/go.txt" | awk '{print $3/1e6}' | median; }

declare -A torch_ms
for layout in tutorial torchvision; do
  torch_ms[$layout]="n/a"
  if [ $have_torch = 1 ]; then torch_ms[$layout]=$($PY bench/torch_bench.py forward $layout 2>/dev/null | tail -1); fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }

echo "| what | time | vs onnxruntime | vs torch |"
echo "|---|---|---|---|"
for layout in tutorial torchvision; do
  ort=$(ms ort ${layout}_aux.pth)
  echo "| onnxruntime 1.30, $layout, batch 2 | ${ort} ms | 1.00 | $(ratio "$ort" "${torch_ms[$layout]}") |"
  for what in reference interpreter; do
    t=$(ms $what ${layout}_aux.pth)
    echo "| gnconv $what, $layout, batch 2 | ${t} ms | $(ratio "$t" "$ort") | $(ratio "$t" "${torch_ms[$layout]}") |"
  done
  echo "| torch $( [ $have_torch = 1 ] && $PY -c 'import torch; print(torch.__version__)'), $layout, batch 2 | ${torch_ms[$layout]} ms | $(ratio "${torch_ms[$layout]}" "$ort") | 1.00 |"
done

if [ $have_torch = 1 ]; then
  $PY bench/torch_bench.py make-checkpoint "$work/tv1000.pth" 2>/dev/null
  size=$(stat -c %s "$work/tv1000.pth")
  torch_s=$(for i in 1 2 3; do $PY bench/torch_bench.py export "$work/tv1000.pth" "$work/torch.onnx" 2>/dev/null | tail -1; done | median)
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o "$work/t$i" bin/gnconv import "$work/tv1000.pth" -o "$work/g.onnx" --force >/dev/null
  done
  imp_s=$(cat "$work"/t? | awk '{print $1}' | median)
  imp_kb=$(cat "$work"/t? | awk '{print $2}' | sort -g | tail -1)
  for i in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/v$i" bin/gnconv verify "$work/g.onnx" --weights "$work/tv1000.pth" >/dev/null
  done
  ver_s=$(cat "$work"/v? | awk '{print $1}' | median)
  ver_kb=$(cat "$work"/v? | awk '{print $2}' | sort -g | tail -1)
  echo "| torch.load + torch.onnx.export, 1000 classes ($((size / 1000000)) MB) | ${torch_s} s | | 1.00 |"
  echo "| gnconv import, same file, whole process | ${imp_s} s | | $(ratio "$imp_s" "$torch_s") |"
  echo "| gnconv import peak memory | $((imp_kb / 1024)) MiB | | $(awk -v a="$imp_kb" -v s="$size" 'BEGIN{printf "%.2f x the checkpoint", a*1024/s}') |"
  echo "| gnconv verify of that file, one batch of 2, whole process | ${ver_s} s (peak $((ver_kb / 1024)) MiB) | | |"
fi
