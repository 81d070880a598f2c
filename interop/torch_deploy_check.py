#!/usr/bin/python3
"""Checks a deploy checkpoint written by `gnconv prune-aux` with PyTorch:
torch.load(weights_only=True) reads it, the aux_logits=False network loads it
with strict=True, and its output equals the training network's main output
exactly.

usage: torch_deploy_check.py original.pth pruned.pth tutorial|torchvision classes
Prints one JSON line: {"ok": true, "keys": N, "dtypes": [...]}."""
import json
import os
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from make_fixtures import TutorialGoogLeNet  # noqa: E402


def build(layout, aux, classes):
    if layout == "torchvision":
        return torchvision.models.googlenet(weights=None, aux_logits=aux, num_classes=classes, init_weights=False)
    return TutorialGoogLeNet(num_classes=classes, aux_logits=aux)


def main():
    orig, pruned, layout, classes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sd = torch.load(pruned, weights_only=True)
    deploy = build(layout, False, classes)
    deploy.load_state_dict(sd, strict=True)
    train = build(layout, True, classes)
    train.load_state_dict(torch.load(orig, weights_only=True), strict=True)
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
    print(json.dumps({"ok": True, "keys": len(sd), "dtypes": sorted({str(v.dtype) for v in sd.values()})}))


if __name__ == "__main__":
    main()
