#!/usr/bin/python3
"""Loads fixtures into PyTorch models with load_state_dict and prints what
PyTorch says, as JSON, for gnconv's loading tests to compare with.

Reads a JSON list of scenarios on stdin: {"name", "file", "drop": [key
prefixes to delete], "rename": {old: new}, "layout", "aux", "classes"}.
Prints {name: {"strict_error": str|null, "nonstrict_error": str|null,
"missing": [...], "unexpected": [...]}}."""
import json
import os
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from make_fixtures import TutorialGoogLeNet  # noqa: E402


def model(layout, aux, classes):
    if layout == "torchvision":
        return torchvision.models.googlenet(weights=None, aux_logits=aux, num_classes=classes, init_weights=False)
    m = TutorialGoogLeNet(num_classes=classes, aux_logits=aux)
    m.__class__.__name__  # noqa: B018
    return m


def main():
    out = {}
    for sc in json.load(sys.stdin):
        sd = torch.load(os.path.join(HERE, "..", "fixtures", sc["file"]))
        for p in sc.get("drop", []):
            for k in [k for k in sd if k.startswith(p)]:
                del sd[k]
        for old, new in sc.get("rename", {}).items():
            sd = type(sd)((new if k == old else k, v) for k, v in sd.items())
        res = {}
        m = model(sc["layout"], sc["aux"], sc["classes"])
        try:
            m.load_state_dict(sd, strict=True)
            res["strict_error"] = None
        except RuntimeError as e:
            res["strict_error"] = str(e).replace(type(m).__name__, "GoogLeNet", 1)
        m = model(sc["layout"], sc["aux"], sc["classes"])
        try:
            r = m.load_state_dict(sd, strict=False)
            res["nonstrict_error"] = None
            res["missing"], res["unexpected"] = list(r.missing_keys), list(r.unexpected_keys)
        except RuntimeError as e:
            res["nonstrict_error"] = str(e).replace(type(m).__name__, "GoogLeNet", 1)
        out[sc["name"]] = res
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
