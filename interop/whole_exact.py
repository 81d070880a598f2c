#!/usr/bin/python3
"""Models whose hyperparameters a state dict cannot tell, saved whole
(torch.save(model)) with the outputs torch computes, and one state dict:

  tv_transform   torchvision's GoogLeNet built with transform_input=True
  d2l_ceil       a d2l GoogLeNet whose stage pools use ceil_mode instead of
                 padding (its names are exactly the d2l preset's)
  tutorial_lrn   the tutorial network with LRN after pool1 and conv3
  cifar          pytorch-cifar's GoogLeNet, as the preset says
  d2l_1          d2l 1.0's GoogleNet (lazy layers, materialised), as the preset says
  custom         a network only testdata/family_custom_layout.json describes
  d2l_sd         a plain d2l GoogLeNet (3 channels, 224x224): state dict only

Each NAME gets NAME.pth and NAME.expect.pt ({"input": x, "logits": y}).
Usage: whole_exact.py DIR; prints {NAME: {"shape": [...], "whole": bool,
"exact_preset": bool}}: exact_preset when the network's own description
(preset or layout file) is exact, so its state dict alone converts right.
The model classes are family_models.py's."""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import family_models as fm  # noqa: E402


class TutorialLRN(fm.TutorialGoogLeNet):
    """The tutorial network with the original Caffe network's LRN, one
    module used after pool1 and after conv3."""

    def __init__(self, classes):
        super().__init__(classes)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def forward(self, x):
        x = self.lrn(self.maxpool1(self.conv1(x)))
        x = self.maxpool2(self.lrn(self.conv3(self.conv2(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for u in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, "inception" + u)(x)
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def d2l_ceil():
    net = fm.d2l_net(1)
    for block, index in ((0, 2), (1, 4), (2, 2), (3, 5)):
        net[block][index] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
    return net


def main(out):
    torch.manual_seed(0)
    made = {}
    d2l_1 = fm.GoogleNet(10)
    with torch.no_grad():
        d2l_1(torch.zeros(1, 1, 96, 96))  # materialise the lazy layers
    models = [
        ("tv_transform", torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=True,
                                                      init_weights=False, num_classes=10), (2, 3, 224, 224), True, False),
        ("d2l_ceil", d2l_ceil(), (2, 1, 96, 96), True, False),
        ("tutorial_lrn", TutorialLRN(10), (2, 3, 224, 224), True, False),
        ("cifar", fm.CifarGoogLeNet(10), (2, 3, 32, 32), True, True),
        ("d2l_1", d2l_1, (2, 1, 96, 96), True, True),
        ("custom", fm.CustomNet(6), (2, 3, 64, 64), True, True),
        ("d2l_sd", fm.d2l_net(3), (2, 3, 224, 224), False, True),
    ]
    for name, model, shape, whole, exact in models:
        fm.randomise(model, 7)
        model.eval()
        x = torch.rand(shape, generator=torch.Generator().manual_seed(3)) * 2 - 1
        with torch.no_grad():
            y = model(x)
        assert torch.isfinite(y).all()
        torch.save(model if whole else model.state_dict(), os.path.join(out, name + ".pth"))
        torch.save({"input": x, "logits": y}, os.path.join(out, name + ".expect.pt"))
        made[name] = {"shape": list(shape), "whole": whole, "exact_preset": exact}
    json.dump(made, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
