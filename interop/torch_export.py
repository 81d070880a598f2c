#!/usr/bin/python3
"""Exports GoogLeNet with torch.onnx.export, as a user would, for gnconv's
verify tests: the interpreter must run files that gnconv did not write.

usage: torch_export.py weights.pth out.onnx opset [--transform-input] [--dynamic]
The weights are a torchvision-layout state dict; the deploy network
(aux_logits=False) loads them non-strictly, as the popular workaround does."""
import argparse

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("opset", type=int)
    ap.add_argument("--transform-input", action="store_true")
    ap.add_argument("--dynamic", action="store_true")
    a = ap.parse_args()
    sd = torch.load(a.weights)
    classes = sd["fc.weight"].shape[0]
    m = torchvision.models.googlenet(weights=None, aux_logits=False, num_classes=classes, init_weights=False,
                                     transform_input=a.transform_input)
    m.load_state_dict(sd, strict=False)
    m.float().eval()
    x = torch.zeros(2, 3, 224, 224)
    kw = {}
    if a.dynamic:
        kw["dynamic_axes"] = {"x": {0: "n"}, "y": {0: "n"}}
    torch.onnx.export(m, x, a.out, opset_version=a.opset, input_names=["x"], output_names=["y"], **kw)


if __name__ == "__main__":
    main()
