"""Throughput measurements behind `pigeonhole bench`: model-only vs pipeline vs the naive loop.

All three see the same images with the same torch thread settings:
* naive loop: what the classic inference script does, one image at a time: ``Image.open``,
  torchvision ``transforms``, forward under ``no_grad``, fp32, the model as loaded;
* model only: the same images preprocessed into memory first, batched forward only;
* pipeline: :class:`core.inference.Classifier` over the files (decode overlapped with compute).
Top-1 agreement and the largest logit difference against the naive loop are reported, plus
the agreement of Pillow draft-mode decoding with full decoding on large JPEGs.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .devices import device_name, has_amx
from .errors import DataError, ImageLoadError
from .models.archs import build_model, get_arch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BenchResult:
    arch: str
    weights: str
    images: int
    image_size: str
    device: str
    device_name: str
    torch_threads: int
    workers: int
    batch_size: int
    naive_ips: float = 0.0
    rows: list[dict] = field(default_factory=list)  # one per precision
    draft: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def bf16_is_fast() -> bool:
    """bf16 pays off on CPUs with AMX tiles; without them (AVX512-BF16 only) it measured 2x
    slower than fp32 here, so the default bench leaves it out."""
    return has_amx()


def load_bench_model(arch: str, checkpoint: str | None):
    """The checkpoint, else cached ImageNet weights, else random weights with a fixed seed."""
    from .models.checkpoints import LoadedModel, ModelSource, imagenet_weights_cached, load_model

    if checkpoint:
        return load_model(ModelSource(checkpoint=checkpoint, arch=arch))
    spec = get_arch(arch)
    if spec.has_pretrained and imagenet_weights_cached(spec.name):
        return load_model(ModelSource.imagenet(spec.name))
    torch.manual_seed(0)  # offline: random weights with a fixed seed (stated in the output)
    model = build_model(spec.name, 1000)
    names = [f"class_{i}" for i in range(1000)]
    return LoadedModel(model, spec.name, names, spec.transform, "random weights (seed 0)")


def naive_loop(model, files: list[Path], spec) -> tuple[float, torch.Tensor]:
    """The classic script: PIL open, torchvision transforms, one forward per image."""
    from PIL import Image
    from torchvision import transforms

    tf = transforms.Compose(
        [
            transforms.Resize(
                spec.resize, interpolation=transforms.InterpolationMode(spec.interpolation)
            ),
            transforms.CenterCrop(spec.crop),
            transforms.ToTensor(),
            transforms.Normalize(spec.mean, spec.std),
        ]
    )
    model.eval()
    outs = []
    with torch.no_grad():
        for f in files[:2]:  # warm-up, untimed
            model(tf(Image.open(f).convert("RGB")).unsqueeze(0))
        t0 = time.perf_counter()
        for f in files:
            img = Image.open(f).convert("RGB")
            outs.append(model(tf(img).unsqueeze(0))[0].float())
        elapsed = time.perf_counter() - t0
    return len(files) / elapsed, torch.stack(outs)


def model_only(clf, files: list[Path]) -> float:
    """Batched forward on crops already in memory (on the GPU for a GPU run: decode and upload
    excluded), run the way the pipeline runs it (same forward threads, same torch threads each,
    the same device step: normalise, memory format, forward)."""
    from concurrent.futures import ThreadPoolExecutor

    from .devices import synchronize
    from .images import crop_uint8, load_image

    plan = clf.plan
    crops = torch.stack([crop_uint8(load_image(f), clf.transform) for f in files])
    if plan.device.type != "cpu":
        crops = crops.to(plan.device)
    batches = list(crops.split(plan.batch_size))
    prev = torch.get_num_threads()
    per = plan.threads_per_stream
    init = (lambda: torch.set_num_threads(per)) if per else None
    try:
        with ThreadPoolExecutor(plan.forward_streams, initializer=init) as pool:
            list(pool.map(clf.forward_crops, batches[: plan.forward_streams]))  # warm-up
            t0 = time.perf_counter()
            list(pool.map(clf.forward_crops, batches))
            synchronize(plan.device)
            return len(crops) / (time.perf_counter() - t0)
    finally:
        if per:
            torch.set_num_threads(prev)


def pipeline(clf, files: list[Path]) -> tuple[float, torch.Tensor, int]:
    """The real pipeline over the files; returns images/s, logits (listing order), skipped."""
    from .inference import classify_paths

    warm = files[: clf.batch_size]
    classify_paths(clf.loaded, warm, plan=clf.plan)
    gen = clf.run(files)
    logits: list[tuple[float, ...]] = []
    skipped = 0
    t0 = time.perf_counter()
    for batch in gen:
        for p in batch.predictions:
            if p.ok:
                logits.append(p.logits)
            else:
                skipped += 1
    elapsed = time.perf_counter() - t0
    return len(files) / elapsed, torch.tensor(logits), skipped


def compare(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """(% identical top-1, max |logit difference|)."""
    if len(a) == 0 or a.shape != b.shape:
        return float("nan"), float("nan")
    same = (a.argmax(1) == b.argmax(1)).float().mean().item() * 100
    return same, (a - b).abs().max().item()


DRAFT_IMAGES = 12  # large JPEGs for the draft-vs-full decoding comparison


def draft_agreement(loaded, folder: Path | None, n: int = 0) -> dict:
    """Top-1 agreement of draft-mode decoding with full decoding on JPEGs >= 3x the resize."""
    from PIL import Image

    from .images import crop_uint8, load_image, normalize_batch
    from .listing import iter_image_files
    from .synthetic import make_photo_folder

    n = n or DRAFT_IMAGES
    spec = loaded.transform
    big: list[Path] = []
    tmp = None
    if folder is not None:
        for f in iter_image_files([folder]):
            try:
                with Image.open(f) as im:
                    if im.format == "JPEG" and min(im.size) >= 3 * spec.resize:
                        big.append(f)
            except Exception:
                continue
            if len(big) >= n:
                break
    if not big:
        tmp = tempfile.TemporaryDirectory(prefix="pigeonhole-draft-")
        side = 3 * spec.resize
        make_photo_folder(Path(tmp.name), n, size=(side * 4 // 3, side), seed=1000)
        big = sorted(Path(tmp.name).iterdir())
    try:
        times, tops = {}, {}
        for draft in (False, True):
            t0 = time.perf_counter()
            crops = [crop_uint8(load_image(f, spec.resize if draft else None), spec) for f in big]
            times[draft] = (time.perf_counter() - t0) / len(big) * 1000
            with torch.inference_mode():
                tops[draft] = loaded.model(normalize_batch(torch.stack(crops), spec)).argmax(1)
        with Image.open(big[0]) as im:
            size = f"{im.size[0]}x{im.size[1]}"
        return {
            "images": len(big),
            "size": size,
            "generated": tmp is not None,
            "full_ms": times[False],
            "draft_ms": times[True],
            "top1_agreement": (tops[True] == tops[False]).float().mean().item() * 100,
        }
    finally:
        if tmp is not None:
            tmp.cleanup()


def run_bench(
    folder: str | None = None,
    arch: str = "resnet18",
    checkpoint: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 0,
    workers: int = 0,
    images: int = 96,
    extra_bf16: bool | None = None,
    draft: bool = True,
    out=print,
) -> BenchResult:
    from .images import load_image
    from .inference import Classifier
    from .listing import iter_image_files
    from .synthetic import make_photo_folder

    loaded = load_bench_model(arch, checkpoint)
    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="pigeonhole-bench-")
        out(f"Generating {images} photo-sized JPEGs (500x375)...")
        make_photo_folder(Path(tmp.name), images)
        folder_path = Path(tmp.name)
    else:
        folder_path = Path(folder)
    try:
        files, unreadable = [], 0
        for f in iter_image_files([folder_path]):
            try:  # the naive loop has no error handling: time decodable images only
                load_image(f)
            except ImageLoadError:
                unreadable += 1
                continue
            files.append(f)
            if len(files) >= images:
                break
        if not files:
            raise DataError(f"No readable images found in {folder_path}.")
        # The naive loop first, on the model exactly as loaded (the pipeline may switch it to
        # channels_last in place).
        naive_ips, naive_logits = naive_loop(loaded.model, files, loaded.transform)
        clf = Classifier(loaded, device, precision, batch_size, workers, topk=1, keep_logits=True)
        from PIL import Image

        with Image.open(files[0]) as im:
            size = f"{im.size[0]}x{im.size[1]}"
        res = BenchResult(
            arch=loaded.arch,
            weights=loaded.source,
            images=len(files),
            image_size=size,
            device=str(clf.device),
            device_name=device_name(clf.device),
            torch_threads=torch.get_num_threads(),
            workers=clf.workers,
            batch_size=clf.batch_size,
        )
        out(
            f"{res.arch} ({res.weights}), {res.images} images ({size} first), "
            f"{res.device_name} ({res.device}), torch threads {res.torch_threads}, "
            f"decode threads {res.workers}, batch {res.batch_size}"
        )
        if unreadable:
            out(f"  ({unreadable} unreadable files left out)")
        res.naive_ips = naive_ips
        out(f"  naive loop (PIL + transforms, batch 1, fp32): {naive_ips:7.1f} img/s")
        precisions = [clf.precision]
        if extra_bf16 is not False and clf.device.type == "cpu" and clf.precision == "fp32":
            if extra_bf16 or bf16_is_fast():
                precisions.append("bf16")
            else:
                out("  (bf16 not run: this CPU has no AMX, where bf16 is slower than fp32; "
                    "--precision bf16 measures it)")  # fmt: skip
        for prec in precisions:
            c = clf if prec == clf.precision else Classifier(
                loaded, device, prec, batch_size, workers, topk=1, keep_logits=True
            )  # fmt: skip
            mo = model_only(c, files)
            pipe, logits, skipped = pipeline(c, files)
            ok = naive_logits if not skipped else torch.empty(0)
            same, maxdiff = compare(logits, ok)
            row = {
                "precision": prec,
                "model_only_ips": mo,
                "pipeline_ips": pipe,
                "pipeline_vs_model_only": pipe / mo,
                "pipeline_vs_naive": pipe / naive_ips,
                "top1_identical_pct": same,
                "max_logit_diff": maxdiff,
                "skipped": skipped,
            }
            res.rows.append(row)
            out(f"  model only ({prec}, in-memory tensors):    {mo:7.1f} img/s")
            out(
                f"  pipeline ({prec}):                         {pipe:7.1f} img/s  "
                f"= {pipe / naive_ips:.2f}x naive, {pipe / mo:.0%} of model-only"
            )
            if not math.isnan(same):
                out(
                    f"    vs naive fp32: top-1 identical {same:.1f}%, "
                    f"max |logit diff| {maxdiff:.2g}"
                )
        if draft:
            d = draft_agreement(loaded, None if tmp is not None else folder_path)
            res.draft = d
            out(
                f"  draft decode ({d['images']} JPEGs {d['size']}{', generated' if d['generated'] else ''}): "
                f"{d['full_ms']:.1f} -> {d['draft_ms']:.1f} ms/image decode+crop, "
                f"top-1 agreement with full decoding {d['top1_agreement']:.1f}% "
                f"(draft is used only for JPEGs >= 3x the resize size)"
            )
        return res
    finally:
        if tmp is not None:
            tmp.cleanup()
