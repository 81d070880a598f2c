#!/usr/bin/python3
"""Checks pickles written by gnconv's WriteObject with Python's own tools.

For each checkpoint named on the command line: pickletools.genops walks
archive/data.pkl (only the opcodes and globals the writer may emit, the
stream ending at STOP), then torch.load(path, weights_only=True) reads it.
Prints one JSON line per file: {"file": path, "value": <canonical value>}
or {"file": path, "error": "..."}.

Canonical values: None, true/false, {"int": "<decimal>"},
{"float": repr(x)}, {"str": s}, {"bytes": hex}, {"list": [...]},
{"tuple": [...]}, {"dict": [[k, v], ...], "ordered": bool},
{"tensor": {"dtype": "float32", "shape": [...], "hex": <raw bytes>}}."""
import collections
import io
import json
import pickletools
import sys
import zipfile

import torch

ALLOWED_OPS = {
    "PROTO", "STOP", "MARK", "GLOBAL", "REDUCE", "BINPERSID", "TUPLE",
    "EMPTY_TUPLE", "EMPTY_LIST", "APPENDS", "EMPTY_DICT", "SETITEMS",
    "BININT", "LONG1", "BINUNICODE", "NONE", "NEWTRUE", "NEWFALSE",
}
STORAGES = ["Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"]
ALLOWED_GLOBALS = {"torch._utils _rebuild_tensor_v2", "collections OrderedDict"} | {
    "torch %sStorage" % s for s in STORAGES}
DTYPES = {
    torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.float64: "float64", torch.int64: "int64", torch.int32: "int32",
    torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
}


def check_ops(pkl):
    end = None
    for op, arg, pos in pickletools.genops(io.BytesIO(pkl)):
        if op.name not in ALLOWED_OPS:
            raise ValueError("opcode %s at byte %d" % (op.name, pos))
        if op.name == "PROTO" and (pos != 0 or arg != 2):
            raise ValueError("PROTO %r at byte %d" % (arg, pos))
        if op.name == "GLOBAL" and arg not in ALLOWED_GLOBALS:
            raise ValueError("GLOBAL %r at byte %d" % (arg[:80], pos))
        if op.name == "STOP":
            end = pos + 1
    if end != len(pkl):
        raise ValueError("STOP at %r of %d bytes" % (end, len(pkl)))


def canon(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, list):
        return {"list": [canon(x) for x in v]}
    if isinstance(v, tuple):
        return {"tuple": [canon(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[canon(k), canon(x)] for k, x in v.items()],
                "ordered": type(v) is collections.OrderedDict}
    if type(v) is torch.Tensor:
        flat = v.contiguous().reshape(-1)
        raw = flat.view(torch.uint8) if flat.numel() else flat.new_empty(0, dtype=torch.uint8)
        return {"tensor": {"dtype": DTYPES[v.dtype], "shape": list(v.shape),
                           "hex": raw.numpy().tobytes().hex()}}
    raise TypeError("unexpected %s" % type(v).__name__)


def main():
    for path in sys.argv[1:]:
        try:
            with zipfile.ZipFile(path) as z:
                check_ops(z.read("archive/data.pkl"))
            value = canon(torch.load(path, weights_only=True))
            print(json.dumps({"file": path, "value": value}))
        except Exception as e:  # reported per file, judged by the Go test
            print(json.dumps({"file": path, "error": "%s: %s" % (type(e).__name__, str(e)[:300])}))


if __name__ == "__main__":
    main()
