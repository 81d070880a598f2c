#!/usr/bin/python3
"""Exports GoogLeNet with torch.onnx.export, as a user would, for gnconv's
verify tests: the interpreter must run files that gnconv did not write.

usage: torch_export.py weights.pth out.onnx opset [--transform-input] [--dynamic]
The weights are a torchvision-layout state dict; the deploy network
(aux_logits=False) loads them non-strictly, as the popular workaround does."""
import argparse
import os
import sys

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("opset", type=int)
    ap.add_argument("--transform-input", action="store_true")
    ap.add_argument("--dynamic", action="store_true")
    ap.add_argument("--tutorial", action="store_true", help="the tutorial network of fixtures/, aux heads exported too")
    ap.add_argument("--no-folding", action="store_true",
                    help="do_constant_folding=False and TrainingMode.PRESERVE: BatchNormalization and Dropout nodes stay")
    ap.add_argument("--inits-as-inputs", action="store_true", help="keep_initializers_as_inputs=True")
    a = ap.parse_args()
    sd = torch.load(a.weights)
    classes = sd["fc.weight"].shape[0]
    names = ["y"]
    if a.tutorial:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
        from make_fixtures import TutorialGoogLeNet
        m = TutorialGoogLeNet(num_classes=classes, aux_logits=True)
        m.load_state_dict(sd, strict=True)
        names = ["y", "second", "third"]  # its forward returns (logits, aux2, aux1)
    else:
        m = torchvision.models.googlenet(weights=None, aux_logits=False, num_classes=classes, init_weights=False,
                                         transform_input=a.transform_input)
        m.load_state_dict(sd, strict=False)
    m.float().eval()
    x = torch.zeros(2, 3, 224, 224)
    kw = {"do_constant_folding": not a.no_folding, "keep_initializers_as_inputs": a.inits_as_inputs}
    if a.no_folding:
        kw["training"] = torch.onnx.TrainingMode.PRESERVE
    if a.dynamic:
        kw["dynamic_axes"] = {"x": {0: "n"}, **{n: {0: "n"} for n in names}}
    torch.onnx.export(m, x, a.out, opset_version=a.opset, input_names=["x"], output_names=names, **kw)


if __name__ == "__main__":
    main()
