#!/usr/bin/python3
"""Whole-model files whose hyperparameters a state dict cannot tell, with
the outputs torch computes: torchvision's GoogLeNet built with
transform_input=True, and a Dive-into-Deep-Learning GoogLeNet whose stage
pools use ceil_mode instead of padding (its names are exactly the d2l
preset's). Usage: whole_exact.py DIR; prints the files it wrote as JSON."""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Inception(nn.Module):
    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(cin, c1, 1)
        self.p2_1 = nn.Conv2d(cin, c2[0], 1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], 3, padding=1)
        self.p3_1 = nn.Conv2d(cin, c3[0], 1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], 5, padding=2)
        self.p4_1 = nn.MaxPool2d(3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(cin, c4, 1)

    def forward(self, x):
        a = F.relu(self.p1_1(x))
        b = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        c = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        d = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((a, b, c, d), dim=1)


def d2l_ceil():
    pool = lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True)
    b1 = nn.Sequential(nn.Conv2d(1, 64, 7, stride=2, padding=3), nn.ReLU(), pool())
    b2 = nn.Sequential(nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), pool())
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32), Inception(256, 128, (128, 192), (32, 96), 64), pool())
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64), Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64), Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128), pool())
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128), Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))


def main(out):
    torch.manual_seed(0)
    made = {}
    tv = torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=True, init_weights=False, num_classes=10)
    d2l = d2l_ceil()
    for name, model, shape in [("tv_transform", tv, (2, 3, 224, 224)), ("d2l_ceil", d2l, (2, 1, 96, 96))]:
        randomise(model, 7)
        model.eval()
        x = torch.rand(shape, generator=torch.Generator().manual_seed(3)) * 2 - 1
        with torch.no_grad():
            y = model(x)
        assert torch.isfinite(y).all()
        torch.save(model, os.path.join(out, name + ".pth"))
        torch.save({"input": x, "logits": y}, os.path.join(out, name + ".expect.pt"))
        made[name] = list(shape)
    json.dump(made, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
