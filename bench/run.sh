#!/usr/bin/env bash
# gnconv's speed and memory benchmark: builds gnconv, runs the Go forward
# pass, the ONNX interpreter and onnxruntime (CPU, 2 threads) on the same
# inputs (batches of 1, 2 and 8), times torch where Debian's python3-torch is installed, times and
# measures `gnconv import` and `gnconv verify` on a 1000-class torchvision
# checkpoint against torch.load + torch.onnx.export, and prints one
# Markdown table per kernel. `make bench` runs it.
#
# Every engine runs once per round, and the rounds follow one another
# (ROUNDS, default 6): a change in the machine's load reaches every engine
# alike. The forward passes' engines run in one order in odd rounds and in
# the reverse order in even ones (an even count runs both as often). Each
# figure is the median of the rounds, with their range. The
# micro-kernel in use (GNCONV_KERNEL forces one), the CPU's vector
# features, the load average and the CPU time stolen by the host (from
# /proc/stat, before and after) are printed with the table.
#
# The table is printed on standard output and written into
# docs/performance.md, between the markers of the kernel that ran
# (BENCH_DOC names another file; BENCH_DOC= writes none).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROUNDS=${ROUNDS:-6}
DOC=${BENCH_DOC-docs/performance.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# gnconv's notes and warnings about the checkpoint go to a log, shown if
# the run fails
log="$work/log"
: >"$log"
trap 'cat "$log" >&2' ERR

command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
[ -d interop/node_modules/onnxruntime-node ] || (cd interop && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
go build -o bin/gnconv ./cmd/gnconv
go test -c -o "$work/interop.test" ./interop
have_torch=0
$PY -c "import torch, torchvision" 2>/dev/null && have_torch=1

# GNCONV_KERNEL=avx2 on an AVX-512 CPU: onnxruntime and torch pick their
# kernels from CPUID, so their processes run with AVX-512 hidden from it
# (bench/hide_avx512.c, through Linux's CPUID faulting) and every engine
# runs what it runs on an AVX2-only CPU. HIDE_AVX512=0 leaves it visible.
preload=
others_isa=
grep -qw avx512f /proc/cpuinfo && others_isa=avx512
if [ "${GNCONV_KERNEL:-}" = avx2 ] && [ "$others_isa" = avx512 ] && [ "${HIDE_AVX512:-1}" != 0 ]; then
  if command -v cc >/dev/null &&
    cc -O2 -shared -fPIC -o "$work/hide_avx512.so" bench/hide_avx512.c -ldl &&
    cc -O2 -DCHECK -o "$work/cpuid_check" bench/hide_avx512.c &&
    [ "$(LD_PRELOAD="$work/hide_avx512.so" "$work/cpuid_check" 2>/dev/null)" = "no avx512f" ]; then
    preload="$work/hide_avx512.so"
    others_isa=avx2
  else
    echo "bench: AVX-512 cannot be hidden here (no C compiler or no CPUID faulting); onnxruntime and torch keep it" >&2
  fi
fi

res="$work/results.tsv" # what, round, value
meta="$work/meta.tsv"   # key, value
: >"$res"
: >"$meta"
put() { printf '%s\t%s\n' "$1" "$2" >>"$meta"; }

# The machine, the kernel in use and its features, from gnconv bench itself.
bin/gnconv import fixtures/torchvision_aux.pth -o "$work/k.onnx" --force >/dev/null 2>>"$log"
bin/gnconv bench "$work/k.onnx" --runs 1 --warmup 0 --json >"$work/kernel.json" 2>>"$log"
# arm64 kernels seldom say "model name"; lscpu names the core there
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs || true)
[ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | awk -F: '/Model name/{print $2; exit}' | xargs || true)
put cpu "${cpu:-unknown}"
put cores "$(nproc)"
put mem_gib "$(free -g | awk '/Mem:/{print $2}')"
put go "$(go version | cut -d' ' -f3)"
put ort "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' interop/node_modules/onnxruntime-node/package.json)"
put rounds "$ROUNDS"
put others_isa "$others_isa"
put date "$(date -u +%Y-%m-%d)"
[ $have_torch = 1 ] && put torch "$($PY -c 'import torch; print(torch.__version__)')"

cpustat() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6, $9}' /proc/stat; } # total idle steal, in ticks
put load_before "$(cut -d' ' -f1-3 /proc/loadavg)"
put stat_before "$(cpustat)"

if [ $have_torch = 1 ]; then
  $PY bench/torch_bench.py make-checkpoint "$work/tv1000.pth" 2>/dev/null
  put ckpt_bytes "$(stat -c %s "$work/tv1000.pth")"
  bin/gnconv import "$work/tv1000.pth" -o "$work/g.onnx" --force >/dev/null 2>>"$log"
fi

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r of $ROUNDS" >&2
  # forward passes, batches 1, 2 and 8, 3x224x224, 30 passes each (the
  # mean of each engine in this round): onnxruntime, the interpreter, the
  # reference, for each layout and batch in turn, in one process; every
  # other round in the reverse order, so that no engine always runs first
  order=forward
  [ $((r % 2)) = 0 ] && order=reversed
  GNCONV_BENCH_ENGINE_ORDER=$order LD_PRELOAD="$preload" "$work/interop.test" -test.run '^$' -test.bench 'BenchmarkORT' -test.benchtime 30x -test.count 1 >"$work/go.txt"
  # BenchmarkORT/<engine>/<fixture>/batch<N>-<procs>
  awk -v r="$r" '$1 ~ /^BenchmarkORT\// {
      split($1, p, "/"); sub(/_aux\.pth$/, "", p[3]); sub(/-[0-9]+$/, "", p[4]); sub(/^batch/, "", p[4])
      printf "fwd/%s/%s/%s\t%s\t%s\n", p[2], p[3], p[4], r, $3 / 1e6 }' "$work/go.txt" >>"$res"
  if [ $have_torch = 1 ]; then
    for layout in tutorial torchvision; do
      read -r ms threads < <(LD_PRELOAD="$preload" $PY bench/torch_bench.py forward $layout 2>/dev/null | tail -1)
      printf 'fwd/torch/%s/2\t%s\t%s\n' $layout "$r" "$ms" >>"$res"
      put torch_threads "$threads"
    done
    # whole process against whole process: Python's start-up and torch's
    # import are part of torch's time, as Go's start-up is of gnconv's
    LD_PRELOAD="$preload" /usr/bin/time -f "%e %M" -o "$work/t" $PY bench/torch_bench.py export "$work/tv1000.pth" "$work/torch.onnx" >/dev/null 2>"$work/torch.err"
    read -r s kb <"$work/t"
    printf 'torch_export_s\t%s\t%s\ntorch_export_kb\t%s\t%s\n' "$r" "$s" "$r" "$kb" >>"$res"
    /usr/bin/time -f "%e %M" -o "$work/t" bin/gnconv import "$work/tv1000.pth" -o "$work/g.onnx" --force >/dev/null 2>>"$log"
    read -r s kb <"$work/t"
    printf 'import_s\t%s\t%s\nimport_kb\t%s\t%s\n' "$r" "$s" "$r" "$kb" >>"$res"
    /usr/bin/time -f "%e %M" -o "$work/t" bin/gnconv verify "$work/g.onnx" --weights "$work/tv1000.pth" >/dev/null 2>>"$log"
    read -r s kb <"$work/t"
    printf 'verify_s\t%s\t%s\nverify_kb\t%s\t%s\n' "$r" "$s" "$r" "$kb" >>"$res"
  fi
done

put load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
put stat_after "$(cpustat)"

$PY bench/report.py "$res" "$meta" "$work/kernel.json" "$DOC"
