"""The classic per-image inference script, as tutorials write it: the yardstick of
bench_whole_process.py. PIL open -> torchvision transforms -> batch of 1 -> forward under
no_grad, fp32, one image at a time; prints "path<TAB>label" per image.

    python benchmarks/classic_inference.py CHECKPOINT FOLDER
"""

import sys
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def main() -> int:
    checkpoint, folder = sys.argv[1], Path(sys.argv[2])
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    names = ckpt["class_names"]
    model = torchvision.models.get_model(ckpt["arch"], num_classes=len(names))
    model.load_state_dict(ckpt["model_state_dict"])
    model.eval()
    tf = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    with torch.no_grad():
        for f in files:
            x = tf(Image.open(f).convert("RGB")).unsqueeze(0)
            print(f"{f}\t{names[model(x).argmax(1).item()]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
