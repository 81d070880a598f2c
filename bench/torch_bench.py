#!/usr/bin/python3
"""The torch side of gnconv's benchmark (bench/run.sh), on Debian's
python3-torch: writes a 1000-class torchvision GoogLeNet deploy checkpoint
(float32, no aux heads, weights as the fixtures randomise them), and times torch's forward pass and its load + export.

usage: torch_bench.py make-checkpoint out.pth
       torch_bench.py forward tutorial|torchvision   (ms per batch of 2, median of 15
                                                  passes, and torch's thread count)
       torch_bench.py export ckpt.pth out.onnx       (s for torch.load + torch.onnx.export)
"""
import os
import sys
import time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))


def median_ms(f, runs):
    f()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return 1000 * ts[len(ts) // 2]


def main():
    torch.set_num_threads(2)
    cmd = sys.argv[1]
    if cmd == "make-checkpoint":
        from make_fixtures import randomise
        m = torchvision.models.googlenet(weights=None, aux_logits=False, num_classes=1000, init_weights=False)
        randomise(m, 0)
        torch.save(m.state_dict(), sys.argv[2])
    elif cmd == "forward":
        from make_fixtures import TutorialGoogLeNet
        if sys.argv[2] == "tutorial":
            m = TutorialGoogLeNet(num_classes=1000, aux_logits=False)
        else:
            m = torchvision.models.googlenet(weights=None, aux_logits=False, num_classes=1000, init_weights=False)
        m.eval()
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            print("%.2f %d" % (median_ms(lambda: m(x), 15), torch.get_num_threads()))
    elif cmd == "export":
        t = time.perf_counter()
        sd = torch.load(sys.argv[2])
        m = torchvision.models.googlenet(weights=None, aux_logits=False, num_classes=1000, init_weights=False)
        m.load_state_dict(sd, strict=False)
        m.eval()
        torch.onnx.export(m, torch.zeros(1, 3, 224, 224), sys.argv[3], opset_version=13)
        print("%.3f" % (time.perf_counter() - t))


if __name__ == "__main__":
    main()
