"""The individual measurements behind `pigeonhole bench` (see core.bench.suite): the classic
per-image loop, the model alone on in-memory crops, the real pipeline, decoding ceilings, and
draft-mode decoding's agreement with full decoding. Each returns figures; none prints."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def classic_transform(spec):
    """The per-image torchvision ``Compose`` a classic script builds for ``spec``: Resize (the
    shorter side, or both) or a letterbox, CenterCrop, ToTensor, channel order, Normalize."""
    from torchvision import transforms

    from ..data.preprocessing import letterbox

    interp = transforms.InterpolationMode(spec.interpolation)
    if spec.resize_mode == "letterbox":
        steps = [transforms.Lambda(lambda img: letterbox(img, spec))]
    elif spec.resize_mode == "exact":
        steps = [transforms.Resize((spec.resize, spec.resize), interpolation=interp)]
    else:
        steps = [transforms.Resize(spec.resize, interpolation=interp)]
    steps += [transforms.CenterCrop(spec.crop), transforms.ToTensor()]
    if spec.channels == "BGR":
        steps.append(transforms.Lambda(lambda t: t.flip(0)))
    return transforms.Compose([*steps, transforms.Normalize(spec.mean, spec.std)])


def naive_loop(
    model, files: list[Path], spec, device: torch.device | None = None
) -> tuple[float, torch.Tensor]:
    """The classic script: PIL open, torchvision transforms (:func:`classic_transform`), one
    forward per image (on ``device``, where the classic script moves the model and each image;
    fp32)."""
    import copy

    device = device or torch.device("cpu")
    if device.type != "cpu":
        model = copy.deepcopy(model).to(device)
    from PIL import Image

    tf = classic_transform(spec)
    model.eval()
    outs = []
    with torch.no_grad():
        for f in files[:2]:  # warm-up, untimed
            model(tf(Image.open(f).convert("RGB")).unsqueeze(0).to(device))
        t0 = time.perf_counter()
        for f in files:
            img = Image.open(f).convert("RGB")
            outs.append(model(tf(img).unsqueeze(0).to(device))[0].float().cpu())
        elapsed = time.perf_counter() - t0
    return len(files) / elapsed, torch.stack(outs)


def model_only(clf, files: list[Path]) -> float:
    """Batched forward on crops already in memory (on the GPU for a GPU run: decode and upload
    excluded), run the way the pipeline runs it (same forward threads, same torch threads each,
    the same device step: normalise, memory format, forward)."""
    from concurrent.futures import ThreadPoolExecutor

    from ..data.images import load_image
    from ..data.preprocessing import crop_uint8
    from ..devices import synchronize

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
    from ..runtime.inference import classify_paths

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

    from ..data.images import load_image
    from ..data.listing import iter_image_files
    from ..data.preprocessing import crop_uint8, normalize_batch
    from ..data.synthetic import make_photo_folder

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


def decode_ceiling_cpu(files: list[Path], spec, threads: int) -> float:
    """Images/s of Pillow decode + resize + crop alone (draft mode, as the pipeline decodes),
    on ``threads`` threads: what a Pillow-fed pipeline can reach at most."""
    from concurrent.futures import ThreadPoolExecutor

    from ..data.images import load_image
    from ..data.preprocessing import crop_uint8

    def one(f: Path) -> None:
        crop_uint8(load_image(f, draft_size=spec.resize), spec)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, files[: threads * 2]))  # warm-up
        t0 = time.perf_counter()
        list(pool.map(one, files))
        return len(files) / (time.perf_counter() - t0)


def decode_ceiling_device(
    files: list[Path], spec, device: torch.device, batch: int, threads: int
) -> float:
    """Images/s of reading the bytes (on ``threads`` threads) and decoding + resizing +
    cropping them on ``device`` a batch at a time, with nothing else running."""
    from concurrent.futures import ThreadPoolExecutor

    from ..devices import synchronize
    from ..runtime.gpu_decode import JpegDecoder, read_jpeg

    decoder = JpegDecoder(device, spec)
    with ThreadPoolExecutor(threads) as pool:
        decoder.decode(dict(enumerate(pool.map(read_jpeg, map(str, files[:batch])))))
        synchronize(device)
        t0 = time.perf_counter()
        for i in range(0, len(files), batch):
            jpegs = list(pool.map(read_jpeg, map(str, files[i : i + batch])))
            decoder.decode({k: j for k, j in enumerate(jpegs) if j is not None})
        synchronize(device)
        return len(files) / (time.perf_counter() - t0)
