#!/usr/bin/python3
"""Checks a deploy safetensors file written by gnconv with PyTorch (Debian's
torch has no safetensors module, so the file is read here with json and
torch.frombuffer, by the format's rules): every tensor equals the original
checkpoint's tensor of that name bit for bit (dtype, shape, bytes), the
aux_logits=False network loads them with strict=True, and its output equals
the training network's main output exactly.

usage: safetensors_torch_check.py original.pth pruned.safetensors tutorial|torchvision classes
Prints one JSON line: {"ok": true, "keys": N, "dtypes": [...], "metadata": {...}}."""
import json
import struct
import sys

import torch

from torch_deploy_check import build

DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    data = buf[8 + n:]
    end = 0
    sd = {}
    for name, info in header.items():
        begin, stop = info["data_offsets"]
        end = max(end, stop)
        dtype, shape = DTYPES[info["dtype"]], info["shape"]
        raw = bytearray(data[begin:stop])
        if len(raw) == 0:
            sd[name] = torch.empty(shape, dtype=dtype)
        else:
            sd[name] = torch.frombuffer(raw, dtype=dtype).reshape(shape)
    if end != len(data):
        raise ValueError("the tensors end at %d, the data holds %d" % (end, len(data)))
    return sd, meta


def same_bits(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return torch.equal(a.contiguous().reshape(-1).view(torch.uint8), b.contiguous().reshape(-1).view(torch.uint8))


def main():
    orig, pruned, layout, classes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sd, meta = read_safetensors(pruned)
    full = torch.load(orig, weights_only=True)
    for name, t in sd.items():
        if name not in full or not same_bits(t, full[name]):
            print(json.dumps({"ok": False, "differs": name}))
            sys.exit(1)
    deploy = build(layout, False, classes)
    deploy.load_state_dict(sd, strict=True)
    train = build(layout, True, classes)
    train.load_state_dict(full, strict=True)
    deploy.float().eval()
    train.float().eval()
    x = torch.randn((2, 3, 224, 224), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = deploy(x)
        b = train(x)
    a = a[0] if isinstance(a, tuple) else a
    b = b[0] if isinstance(b, tuple) else b
    if not torch.equal(a, b):
        print(json.dumps({"ok": False, "max_diff": float((a - b).abs().max())}))
        sys.exit(1)
    print(json.dumps({"ok": True, "keys": len(sd), "dtypes": sorted({str(v.dtype) for v in sd.values()}), "metadata": meta}))


if __name__ == "__main__":
    main()
