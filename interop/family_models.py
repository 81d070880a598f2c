#!/usr/bin/python3
"""Builds members of the GoogLeNet family in real PyTorch, each as its public
source defines it (written here from those descriptions), randomises their
weights with fixed seeds, and writes into the directory given, per model:
the state dict (torch.save(model.state_dict())), a fixed input batch of 2
and the eval-mode outputs as raw little-endian float32 files, and a
manifest.json naming them with their shapes. family_test.go reads them.

Models: the d2l (before 1.0, 1 and 3 input channels), d2l-1.0, cifar,
tutorial and torchvision presets, and "custom", a GoogLeNet-like network no
preset describes, whose layout file is testdata/family_custom_layout.json.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

# GoogLeNet's Inception units: in-channels and
# (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
UNITS = {
    "3a": (192, (64, 96, 128, 16, 32, 32)),
    "3b": (256, (128, 128, 192, 32, 96, 64)),
    "4a": (480, (192, 96, 208, 16, 48, 64)),
    "4b": (512, (160, 112, 224, 24, 64, 64)),
    "4c": (512, (128, 128, 256, 24, 64, 64)),
    "4d": (512, (112, 144, 288, 32, 64, 64)),
    "4e": (528, (256, 160, 320, 32, 128, 128)),
    "5a": (832, (256, 160, 320, 32, 128, 128)),
    "5b": (832, (384, 192, 384, 48, 128, 128)),
}


def d2l_args(unit):
    cin, c = UNITS[unit]
    return cin, c[0], (c[1], c[2]), (c[3], c[4]), c[5]


# ---------------------------------------------------------------------------
# d2l (Dive into Deep Learning, PyTorch edition before 1.0): nn.Sequential
# of blocks, Inception p1_1..p4_2, ReLU after every conv (functional).
class D2LInception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def d2l_net(in_channels, classes=10):
    b1 = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                       nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(D2LInception(*d2l_args("3a")), D2LInception(*d2l_args("3b")),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(*[D2LInception(*d2l_args(u)) for u in ("4a", "4b", "4c", "4d", "4e")],
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(D2LInception(*d2l_args("5a")), D2LInception(*d2l_args("5b")),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, classes))


# ---------------------------------------------------------------------------
# d2l 1.0: class GoogleNet with self.net, lazy layers, branches b1_1..b4_2.
class D2L1Inception(nn.Module):
    def __init__(self, c1, c2, c3, c4):
        super().__init__()
        self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
        self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
        self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
        self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
        self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

    def forward(self, x):
        b1 = F.relu(self.b1_1(x))
        b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
        b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
        b4 = F.relu(self.b4_2(self.b4_1(x)))
        return torch.cat((b1, b2, b3, b4), dim=1)


class GoogleNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(self.b1(), self.b2(), self.b3(), self.b4(), self.b5(), nn.LazyLinear(num_classes))

    @staticmethod
    def unit(name):
        return D2L1Inception(*d2l_args(name)[1:])

    def b1(self):
        return nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                             nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b2(self):
        return nn.Sequential(nn.LazyConv2d(64, kernel_size=1), nn.ReLU(),
                             nn.LazyConv2d(192, kernel_size=3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b3(self):
        return nn.Sequential(self.unit("3a"), self.unit("3b"), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b4(self):
        return nn.Sequential(*[self.unit(u) for u in ("4a", "4b", "4c", "4d", "4e")],
                             nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b5(self):
        return nn.Sequential(self.unit("5a"), self.unit("5b"), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())

    def forward(self, x):
        return self.net(x)


# ---------------------------------------------------------------------------
# pytorch-cifar's GoogLeNet: conv (with bias) + BN + ReLU everywhere,
# branch3 as two 3x3 convs, 32x32 input.
def conv_bn_relu(cin, cout, k, padding=0):
    return [nn.Conv2d(cin, cout, kernel_size=k, padding=padding), nn.BatchNorm2d(cout), nn.ReLU(True)]


class CifarInception(nn.Module):
    def __init__(self, in_planes, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool_planes):
        super().__init__()
        self.b1 = nn.Sequential(*conv_bn_relu(in_planes, n1x1, 1))
        self.b2 = nn.Sequential(*conv_bn_relu(in_planes, n3x3red, 1), *conv_bn_relu(n3x3red, n3x3, 3, 1))
        self.b3 = nn.Sequential(*conv_bn_relu(in_planes, n5x5red, 1), *conv_bn_relu(n5x5red, n5x5, 3, 1),
                                *conv_bn_relu(n5x5, n5x5, 3, 1))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv_bn_relu(in_planes, pool_planes, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class CifarGoogLeNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.pre_layers = nn.Sequential(*conv_bn_relu(3, 192, 3, 1))
        for name, unit in (("a3", "3a"), ("b3", "3b")):
            setattr(self, name, CifarInception(UNITS[unit][0], *UNITS[unit][1]))
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for name, unit in (("a4", "4a"), ("b4", "4b"), ("c4", "4c"), ("d4", "4d"), ("e4", "4e"), ("a5", "5a"), ("b5", "5b")):
            setattr(self, name, CifarInception(UNITS[unit][0], *UNITS[unit][1]))
        self.avgpool = nn.AvgPool2d(8, stride=1)
        self.linear = nn.Linear(1024, classes)

    def forward(self, x):
        x = self.b3(self.a3(self.pre_layers(x)))
        x = self.maxpool(x)
        x = self.e4(self.d4(self.c4(self.b4(self.a4(x)))))
        x = self.maxpool(x)
        x = self.b5(self.a5(x))
        x = self.avgpool(x)
        return self.linear(x.view(x.size(0), -1))


# ---------------------------------------------------------------------------
# The tutorials' Inception-v1: conv (with bias) + ReLU blocks, no batch
# norm, 5x5 branch3, max pools 3/2 with ceil_mode, AvgPool 5/3 aux heads.
class TutConv(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=padding)

    def forward(self, x):
        return F.relu(self.conv(x))


class TutInception(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.branch1 = TutConv(cin, c[0], 1)
        self.branch2 = nn.Sequential(TutConv(cin, c[1], 1), TutConv(c[1], c[2], 3, padding=1))
        self.branch3 = nn.Sequential(TutConv(cin, c[3], 1), TutConv(c[3], c[4], 5, padding=2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), TutConv(cin, c[5], 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TutAux(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)
        self.conv = TutConv(cin, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, classes)

    def forward(self, x):
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class TutorialGoogLeNet(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1 = TutConv(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = TutConv(64, 64, 1)
        self.conv3 = TutConv(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = TutInception(*UNITS["3a"])
        self.inception3b = TutInception(*UNITS["3b"])
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for u in ("4a", "4b", "4c", "4d", "4e"):
            setattr(self, "inception" + u, TutInception(*UNITS[u]))
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception5a = TutInception(*UNITS["5a"])
        self.inception5b = TutInception(*UNITS["5b"])
        self.aux1 = TutAux(512, classes)
        self.aux2 = TutAux(528, classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(1024, classes)

    def forward(self, x):  # eval: logits only; the aux heads are run on hooked features
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for u in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, "inception" + u)(x)
        x = self.maxpool4(x)
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


# ---------------------------------------------------------------------------
# "custom": a GoogLeNet-like network that no preset describes (its layout
# is testdata/family_custom_layout.json): a 5x5/2 stem with bias and
# BatchNorm(eps 1e-4), a ceil_mode max pool with padding, BN blocks named
# conv/norm without bias (eps 1e-3), a single 3x3 conv without ReLU as
# branch3, an AvgPool2d(3, 1, 1, count_include_pad=False) in branch4, an
# aux head after the second unit, 6 classes, 3x64x64 input.
class CustomBlock(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, bias=False, eps=1e-3, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=padding, bias=bias)
        self.norm = nn.BatchNorm2d(cout, eps=eps)
        self.relu = relu

    def forward(self, x):
        x = self.norm(self.conv(x))
        return F.relu(x) if self.relu else x


class CustomUnit(nn.Module):
    def __init__(self, cin, c1, c2r, c2, c3, c4):
        super().__init__()
        self.b1 = CustomBlock(cin, c1, 1)
        self.b2 = nn.Sequential(CustomBlock(cin, c2r, 1), CustomBlock(c2r, c2, 3, padding=1))
        self.b3 = CustomBlock(cin, c3, 3, padding=1, relu=False)
        self.b4 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), CustomBlock(cin, c4, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class CustomAux(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=3)
        self.proj = nn.Conv2d(cin, 64, kernel_size=1)
        self.fc1 = nn.Linear(64 * 5 * 5, 256)
        self.fc2 = nn.Linear(256, classes)

    def forward(self, x):
        x = torch.flatten(F.relu(self.proj(self.pool(x))), 1)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.5, self.training))


class CustomNet(nn.Module):
    def __init__(self, classes=6):
        super().__init__()
        self.stem = CustomBlock(3, 32, 5, stride=2, padding=2, bias=True, eps=1e-4)
        self.stem_pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.stage1 = nn.Module()
        self.stage1.unitA = CustomUnit(32, 16, 24, 32, 8, 8)      # 64 out
        self.stage1.unitB = CustomUnit(64, 32, 32, 48, 16, 16)    # 112 out
        self.down = nn.MaxPool2d(3, stride=2, padding=1)
        self.stage2 = nn.Module()
        self.stage2.unitC = CustomUnit(112, 48, 48, 64, 24, 24)   # 160 out
        self.aux = CustomAux(112, classes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.3)
        self.classifier = nn.Linear(160, classes)

    def forward(self, x):
        x = self.stem_pool(self.stem(x))
        x = self.stage1.unitB(self.stage1.unitA(x))
        x = self.stage2.unitC(self.down(x))
        return self.classifier(self.drop(torch.flatten(self.pool(x), 1)))


# ---------------------------------------------------------------------------
def randomise(model, seed):
    """Weights on which every output depends: He-scaled convs and linears,
    biases ~0.05, batch norm near identity with real statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * (torch.rand(m.weight.shape, generator=g) - 0.5))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(321)


def run(model, x, taps):
    """Eval-mode logits, then each aux head's output computed on the
    features it reads (taps: aux module → the module whose output it
    reads), as torchvision computes its aux heads only in training mode."""
    feats = {}
    hooks = [src.register_forward_hook(lambda m, i, o, k=k: feats.__setitem__(k, o)) for k, (_, src) in enumerate(taps)]
    with torch.no_grad():
        out = model(x)
        outs = [out[0] if isinstance(out, tuple) else out]
        outs += [aux(feats[k]) for k, (aux, _) in enumerate(taps)]
    for h in hooks:
        h.remove()
    return outs


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(2)
    manifest = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": []}

    def f32(name, t):
        t = t.detach().contiguous().float()
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(t.numpy().astype("<f4").tobytes())
        return {"file": name, "shape": list(t.shape)}

    def add(name, model, layout, x, taps=(), aux_names=None, seed=0):
        randomise(model, seed)
        model.eval()
        outs = run(model, x, taps)
        for o in outs:
            assert torch.isfinite(o).all(), name
            # the two images give different outputs
            assert (o[0] - o[1]).abs().max() > 1e-3 * o.abs().max(), name + ": inputs give equal outputs"
        torch.save(model.state_dict(), os.path.join(out_dir, name + ".pth"))
        names = ["logits"] + list(aux_names or ["aux%d" % (i + 1) for i in range(len(taps))])
        manifest["models"].append({
            "name": name, "layout": layout, "class": type(model).__name__,
            "keys": len(model.state_dict()),
            "input": f32(name + ".input.f32", x),
            "outputs": {n: f32("%s.%s.f32" % (name, n), o) for n, o in zip(names, outs)},
        })

    def batch(seed, c, h, w):
        return torch.randn((2, c, h, w), generator=torch.Generator().manual_seed(seed))

    torch.manual_seed(0)
    add("d2l", d2l_net(1), "d2l", batch(101, 1, 96, 96), seed=1)
    add("d2l_rgb224", d2l_net(3), "d2l", batch(102, 3, 224, 224), seed=2)

    g1 = GoogleNet(10)
    with torch.no_grad():
        g1(torch.zeros(1, 1, 96, 96))  # materialise the lazy layers
    add("d2l-1.0", g1, "d2l-1.0", batch(103, 1, 96, 96), seed=3)

    add("cifar", CifarGoogLeNet(10), "cifar", batch(104, 3, 32, 32), seed=4)

    tut = TutorialGoogLeNet(5)
    add("tutorial", tut, "tutorial", batch(105, 3, 224, 224),
        taps=[(tut.aux1, tut.inception4a), (tut.aux2, tut.inception4d)], seed=5)

    tv = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False, num_classes=5,
                                      transform_input=False)
    add("torchvision", tv, "torchvision", batch(106, 3, 224, 224),
        taps=[(tv.aux1, tv.inception4a), (tv.aux2, tv.inception4d)], seed=6)

    cu = CustomNet(6)
    add("custom", cu, "", batch(107, 3, 64, 64), taps=[(cu.aux, cu.stage1.unitB)], aux_names=["aux"], seed=7)

    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
