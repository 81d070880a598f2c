"""PyTorch's own view of an image folder, for verify --images' tests.

Reads FOLDER with torchvision's ImageFolder and the ImageNet evaluation
transforms (Resize(256), CenterCrop(224), ToTensor, Normalize), runs the
torchvision GoogLeNet of CHECKPOINT (7 classes, aux heads) in eval mode,
and prints as JSON each image's path, label and top-5 classes; the input
tensors of the first two images of each file type are written to OUT as
little-endian float32 files.

    python3 torch_images.py FOLDER CHECKPOINT OUT
"""
import json
import os
import sys

import torch
import torchvision
from torchvision import transforms as T


def main():
    folder, checkpoint, out = sys.argv[1:4]
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    data = torchvision.datasets.ImageFolder(folder, transform=tf)
    model = torchvision.models.googlenet(weights=None, aux_logits=True, num_classes=7, init_weights=False,
                                         transform_input=False)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu"))
    model.eval()
    seen = {}
    samples = []
    tensors = {}
    with torch.no_grad():
        for i, (path, label) in enumerate(data.samples):
            x, _ = data[i]
            logits = model(x.unsqueeze(0))
            top = torch.topk(logits[0], 5).indices.tolist()
            samples.append({"path": path, "label": label, "top5": top})
            ext = os.path.splitext(path)[1].lower()
            if seen.get(ext, 0) < 2:
                seen[ext] = seen.get(ext, 0) + 1
                f = os.path.join(out, "%d.f32" % i)
                x.numpy().astype("<f4").tofile(f)
                tensors[path] = f
    json.dump({"classes": data.classes, "samples": samples, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main()
