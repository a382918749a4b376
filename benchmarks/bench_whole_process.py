"""Whole-process benchmark: `pigeonhole predict FOLDER` from launch to exit, per engine and
precision, against the classic per-image script (benchmarks/classic_inference.py), on the
same ~400 photo-sized JPEGs with the same checkpoint.

The checkpoint is a ResNet-18 with EVERY layer fine-tuned (a benchmark helper, below) on
generated learnable photos (a class's coloured shape over a photo-like background, 500x375),
so int8's agreement with fp32 is meaningful: a random backbone's activations are not what int8
is made for. It starts from ImageNet weights when they are cached, else from seeded random
weights (said in the output).

Each command runs --runs times, all of them interleaved (classic, torch, ORT, int8, classic,
...); a ratio is the median of the per-round ratios. The first, untimed round pays the ONNX
export and int8's calibration (both cached afterwards, as for a user's second run); their
times are printed too. Goals (2 cores): torch fp32 >= 1.8x, ONNX Runtime fp32 >= 2.5x (both
with identical top-1), int8 >= 3.5x with >= 99 % top-1 agreement.

    python benchmarks/bench_whole_process.py [--images 400] [--runs 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLASSES = ("red", "green", "blue", "yellow")


def photo_class_image(label: str, seed: int):
    """A learnable photo: class ``label``'s coloured shape (core.data.synthetic.class_image) set
    into a photo-like 500x375 background."""
    from pigeonhole.core.data.synthetic import class_image, photo_like

    img = photo_like(seed)
    rng = random.Random(f"{label}:{seed}")
    tile = class_image(label, seed, (240, 180))
    img.paste(tile, (rng.randint(0, 500 - 240), rng.randint(0, 375 - 180)))
    return img


def make_folder(root: Path, per_class: int, seed: int) -> Path:
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            path = root / label / f"{label}_{i:04d}.jpg"
            if not path.exists():
                photo_class_image(label, seed + i).save(path, "JPEG", quality=88)
    return root


def fine_tune_all_layers(train: Path, out: Path, epochs: int = 8) -> str:
    """Train every layer of a ResNet-18 on ``train`` and save a Pigeonhole checkpoint; returns
    where the starting weights came from. To fit a 2-core CPU it trains on 112 px crops (4x
    cheaper than 224), then recomputes BatchNorm's statistics at 224, the size it runs at, and
    prints its accuracy there."""
    import dataclasses

    import torch

    from pigeonhole.core.bench.suite import load_bench_model
    from pigeonhole.core.data.images import load_image
    from pigeonhole.core.data.listing import iter_image_files
    from pigeonhole.core.data.preprocessing import crop_uint8, normalize_batch
    from pigeonhole.core.models.archs import replace_head
    from pigeonhole.core.models.checkpoints import save_checkpoint

    base = load_bench_model("resnet18", None)
    files = sorted(iter_image_files([train]))
    spec = base.transform
    small = dataclasses.replace(spec, resize=128, crop=112)
    x = torch.stack([crop_uint8(load_image(f), small) for f in files])
    x224 = torch.stack([crop_uint8(load_image(f), spec) for f in files])
    y = torch.tensor([CLASSES.index(f.parent.name) for f in files])
    torch.manual_seed(0)
    model = replace_head(base.model, "resnet18", len(CLASSES)).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        for idx in torch.randperm(len(x)).split(16):
            flip = torch.rand(()) < 0.5
            batch = x[idx].flip(-1) if flip else x[idx]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(normalize_batch(batch, small)), y[idx])
            loss.backward()
            opt.step()
        print(f"  fine-tune epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, "
              f"{len(x) / (time.perf_counter() - t0):.1f} img/s", flush=True)  # fmt: skip
    for m in model.modules():  # BatchNorm statistics at the size it runs at
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for batch in x224.split(32):
            model(normalize_batch(batch, spec))
        model.eval()
        acc = (model(normalize_batch(x224, spec)).argmax(1) == y).float().mean().item()
    print(f"  training accuracy at 224 px: {acc:.1%}")
    save_checkpoint(out, model, "resnet18", list(CLASSES), spec)
    return base.source


def run(cmd: list[str], env: dict) -> tuple[float, float, dict[str, str]]:
    """(wall seconds, CPU seconds of the process, {file name: label})."""
    before = os.times()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    labels = {}
    for line in done.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            labels[Path(parts[0]).name] = parts[1]
    return seconds, cpu, labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--workdir", default=str(Path.home() / ".cache" / "pigeonhole-bench-whole"))
    args = ap.parse_args()
    work = Path(args.workdir)
    ckpt = work / "resnet18-finetuned.pth"
    photos = make_folder(work / "photos", args.images // len(CLASSES), seed=10_000)
    if not ckpt.exists():
        print("Fine-tuning every layer of a ResNet-18 (once; kept in --workdir)...", flush=True)
        source = fine_tune_all_layers(make_folder(work / "train", 24, seed=0), ckpt, args.epochs)
        (work / "source.txt").write_text(source)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PIGEONHOLE_CACHE_DIR=str(work / "cache"))
    py = sys.executable
    predict = [py, "-m", "pigeonhole", "predict", str(photos), "--checkpoint", str(ckpt), "--quiet"]
    commands = {
        "classic script": [py, str(ROOT / "benchmarks" / "classic_inference.py"), str(ckpt),
                           str(photos)],
        "pigeonhole, torch fp32": [*predict, "--engine", "torch"],
        "pigeonhole, ONNX Runtime fp32": [*predict, "--engine", "onnxruntime"],
        "pigeonhole, int8": [*predict, "--precision", "int8"],
    }  # fmt: skip
    n = sum(1 for _ in photos.rglob("*.jpg"))
    print(f"{n} photos (500x375), ResNet-18 fine-tuned from "
          f"{(work / 'source.txt').read_text() if (work / 'source.txt').exists() else '?'}")  # fmt: skip
    first = {name: run(cmd, env)[0] for name, cmd in commands.items()}  # exports, calibrates
    times: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    labels: dict[str, dict[str, str]] = {}
    loads = []
    for _ in range(args.runs):
        for name, cmd in commands.items():
            seconds, cpu, labels[name] = run(cmd, env)
            times[name].append(seconds)
            cpus[name].append(cpu)
        loads.append(os.getloadavg()[0])
    classic = labels["classic script"]
    print(f"load average {statistics.median(loads):.2f} ({os.cpu_count()} cores); "
          f"median of {args.runs} interleaved runs")  # fmt: skip
    print(f"{'command':<32} {'first run':>9} {'wall':>7} {'x':>6} {'CPU':>7} {'x':>6} "
          f"{'top-1 =':>8}")  # fmt: skip
    for name in commands:
        wall_x = statistics.median(
            c / t for c, t in zip(times["classic script"], times[name], strict=True)
        )
        cpu_x = statistics.median(
            c / t for c, t in zip(cpus["classic script"], cpus[name], strict=True)
        )
        same = sum(labels[name].get(k) == v for k, v in classic.items()) / max(1, len(classic))
        print(f"{name:<32} {first[name]:8.1f}s {statistics.median(times[name]):6.1f}s "
              f"{wall_x:5.2f}x {statistics.median(cpus[name]):6.1f}s {cpu_x:5.2f}x "
              f"{100 * same:7.1f}%")  # fmt: skip
    print("(wall and CPU: medians, x: median of the per-round ratios to the classic script; "
          "CPU is the steadier one on a shared machine)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
