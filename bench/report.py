#!/usr/bin/python3
"""Turns bench/run.sh's measurements into a Markdown table and writes it
into docs/performance.md between the markers of the kernel that ran.

usage: report.py results.tsv meta.tsv kernel.json doc.md   (doc "" writes none)

results.tsv holds "what<TAB>round<TAB>value" lines, meta.tsv "key<TAB>value"
(the last value of a key wins), kernel.json is `gnconv bench --json`.
"""
import json
import math
import re
import sys
from collections import defaultdict

LAYOUTS = ("tutorial", "torchvision")
BATCHES = (1, 2, 8)
TITLES = {"avx512": "AVX-512 kernel", "avx2": "AVX2 kernel", "neon": "NEON kernel (arm64)", "go": "Go kernel (no assembly)"}


def sig(x, digits=3):
    """x with `digits` significant digits, never in exponent form."""
    if x is None or x != x:
        return "n/a"
    if x == 0:
        return "0"
    d = digits - 1 - int(math.floor(math.log10(abs(x))))
    if d <= 0:
        return "%d" % round(x, d)
    return "%.*f" % (d, x)


def secs(v):
    """whole-process seconds, as /usr/bin/time measures them (10 ms)."""
    return "%.2f s" % median(v), "%.2f–%.2f s" % (min(v), max(v))


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def stats(v):
    return median(v), min(v), max(v)


def span(v, unit=""):
    lo, hi = min(v), max(v)
    return "%s–%s%s" % (sig(lo), sig(hi), unit)


def main():
    res_path, meta_path, kernel_path, doc = sys.argv[1:5]
    res = defaultdict(dict)  # what -> round -> value
    for line in open(res_path):
        what, r, v = line.rstrip("\n").split("\t")
        if v:
            res[what][r] = float(v)
    meta = {}
    for line in open(meta_path):
        k, _, v = line.rstrip("\n").partition("\t")
        meta[k] = v
    kern = json.load(open(kernel_path))["kernel"]

    def per_round(what):
        return [res[what][r] for r in sorted(res[what], key=int)]

    def ratios(a, b):
        rs = sorted(set(res[a]) & set(res[b]), key=int)
        return [res[a][r] / res[b][r] for r in rs if res[b][r] > 0]

    rows = []
    ort = "onnxruntime %s (CPU, 2 threads)" % meta.get("ort", "")
    threads = meta.get("torch_threads", "?")
    for layout in LAYOUTS:
        for batch in BATCHES:
            base = "fwd/ort/%s/%d" % (layout, batch)
            if not res[base]:
                continue
            v = per_round(base)
            rows.append((ort + ", %s, batch %d" % (layout, batch), sig(median(v)) + " ms", span(v, " ms"), "1.00"))
            for eng in ("interpreter", "reference"):
                what = "fwd/%s/%s/%d" % (eng, layout, batch)
                if not res[what]:
                    continue
                v, q = per_round(what), ratios(what, base)
                rows.append(("gnconv %s, %s, batch %d" % (eng, layout, batch), sig(median(v)) + " ms", span(v, " ms"),
                             "%s× onnxruntime (%s)" % (sig(median(q)), span(q))))
            what = "fwd/torch/%s/%d" % (layout, batch)
            if res[what]:
                v = per_round(what)
                rows.append(("torch %s (%s threads), %s, batch %d" % (meta.get("torch", ""), threads, layout, batch),
                             sig(median(v)) + " ms", span(v, " ms"), "as measured; not compared"))
    if res["torch_export_s"]:
        mb = int(meta.get("ckpt_bytes", "0")) / 1e6
        v = per_round("torch_export_s")
        rows.append(("torch.load + torch.onnx.export, 1000 classes (%s MB), whole process, Python's start-up included" % sig(mb, 2),
                     *secs(v), "1.00"))
        v, q = per_round("import_s"), ratios("import_s", "torch_export_s")
        rows.append(("gnconv import, same file, whole process", *secs(v),
                     "%s× torch's whole process (%s)" % (sig(median(q)), span(q))))
        v = [x / 1024 for x in per_round("torch_export_kb")]
        rows.append(("torch.load + torch.onnx.export peak memory", "%d MiB" % round(median(v)), "%d–%d MiB" % (round(min(v)), round(max(v))), ""))
        v = [x / 1024 for x in per_round("import_kb")]
        ck = int(meta.get("ckpt_bytes", "1")) / 2**20
        rows.append(("gnconv import peak memory", "%d MiB" % round(median(v)), "%d–%d MiB" % (round(min(v)), round(max(v))),
                     "%s× the checkpoint" % sig(median(v) / ck)))
        v = per_round("verify_s")
        m = [x / 1024 for x in per_round("verify_kb")]
        rows.append(("gnconv verify of that file, one batch of 2, whole process", *secs(v),
                     "peak %d MiB" % round(median(m))))

    # the machine and the run
    t0, i0, s0 = (float(x) for x in meta["stat_before"].split())
    t1, i1, s1 = (float(x) for x in meta["stat_after"].split())
    dt = max(t1 - t0, 1)
    steal, idle = 100 * (s1 - s0) / dt, 100 * (i1 - i0) / dt
    isa = kern["isa"]
    feats = kern["cpu_features"]
    if kern.get("requested") and not kern.get("error") and "avx512f" in feats.split() and isa != "avx512":
        name = isa.upper() if isa != "go" else "plain-Go"
        how = "the %s kernel forced (`GNCONV_KERNEL=%s`) on a CPU that has AVX-512, so that it runs what an %s-only CPU runs " % (
            name, kern["requested"], isa.upper())
        if meta.get("others_isa") == isa:
            how += ("(onnxruntime and torch ran with AVX-512 hidden from them: bench/hide_avx512.c makes CPUID, through Linux's "
                    "CPUID faulting, report no AVX-512 to their processes, so they ran their %s kernels too)") % isa.upper()
        else:
            how += ("(onnxruntime picks its own kernels, AVX-512 ones here: the ratios set gnconv's %s path against "
                    "onnxruntime's AVX-512 one)") % name
    elif kern.get("requested") and not kern.get("error"):
        how = "forced with `GNCONV_KERNEL=%s`" % kern["requested"]
    else:
        how = "the best kernel this CPU runs"
    lines = [
        "### %s" % TITLES.get(isa, isa),
        "",
        "Kernel `%s`: %s; 3x3 convolutions %s. Machine: %s, %s cores (CPU features %s), %s GiB; %s. "
        "Written by `make bench` on %s: %s %s; over the run the load average "
        "(1, 5, 15 minutes) went from %s to %s, the host stole %s%% of the CPU time "
        "and the CPUs were idle %s%% of it."
        % (kern["name"], how, "as " + kern["winograd"] if kern.get("winograd_3x3") else "direct", meta["cpu"], meta["cores"], feats, meta["mem_gib"], meta["go"],
           meta["date"], meta["rounds"], "round" if meta["rounds"] == "1" else "rounds", meta["load_before"], meta["load_after"], sig(steal, 2), sig(idle, 2)),
        "",
        "| what | median | range over the rounds | ratio, median (range over the rounds) |",
        "|---|---|---|---|",
    ]
    lines += ["| %s |" % " | ".join(r) for r in rows]
    section = "\n".join(lines) + "\n"
    print(section)

    if doc:
        text = open(doc).read()
        begin = "<!-- bench:%s begin" % isa
        end = "<!-- bench:%s end -->" % isa
        m = re.search(re.escape(begin) + r"[^\n]*\n.*?" + re.escape(end), text, re.S)
        if not m:
            sys.exit("report.py: %s has no %s ... %s markers" % (doc, begin, end))
        head = text[m.start():text.index("\n", m.start()) + 1]
        text = text[:m.start()] + head + "\n" + section + "\n" + end + text[m.end():]
        open(doc, "w").write(text)
        print("written into %s" % doc, file=sys.stderr)


if __name__ == "__main__":
    main()
