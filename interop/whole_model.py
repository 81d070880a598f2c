#!/usr/bin/python3
"""Saves torchvision's GoogLeNet as whole pickled models (torch.save(model))
into the directory given, and prints, as JSON, what torch says each file
holds: model.state_dict()'s keys in order with each tensor's dtype, shape
and the SHA-256 of its little-endian bytes, and the root's attributes."""
import hashlib
import json
import os
import sys

import torch
import torchvision


def main():
    out_dir = sys.argv[1]
    out = {}
    for aux in (True, False):
        torch.manual_seed(11 if aux else 12)
        model = torchvision.models.googlenet(weights=None, aux_logits=aux, transform_input=True,
                                             init_weights=False, num_classes=10)
        with torch.no_grad():  # batch-norm statistics that are not 0 and 1
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        model.eval()
        entries = []
        for k, v in model.state_dict().items():
            data = v.detach().contiguous().cpu().numpy().tobytes()
            entries.append({"key": k, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                            "sha256": hashlib.sha256(data).hexdigest()})
        variants = [("googlenet_aux%d.pth" % aux, {})]
        if aux:
            variants.append(("googlenet_aux1_legacy.pth", {"_use_new_zipfile_serialization": False}))
        for name, kw in variants:
            torch.save(model, os.path.join(out_dir, name), **kw)
            out[name] = {"class": type(model).__module__ + "." + type(model).__qualname__,
                         "transform_input": model.transform_input, "aux_logits": model.aux_logits,
                         "state_dict": entries}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
