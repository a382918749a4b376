"""Frozen-backbone feature extraction with a disk cache.

The network with its classification layer swapped for ``nn.Identity`` is run once per image
(and once per augmented view); what the classification layer would have received is captured
with a forward hook, so every architecture works the same way (SqueezeNet's 1x1-conv head gets
its spatial map). Decoding runs in a thread pool, overlapped with the forward pass.

Features are cached on disk (core.feature_cache) under a key covering the architecture, a hash
of the backbone weights, the transform and the precision, per file path, size, modification time
and view (eval, or augmented view *i* of seed *s*): a changed file is extracted again, an
unchanged one never is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from .devices import autocast, resolve_device, resolve_precision, synchronize
from .errors import Cancelled, ImageLoadError
from .feature_cache import AUG_SCALE, FeatureCache, image_key
from .models.archs import TransformSpec, get_arch, head_info
from .tasks import stop_check

log = logging.getLogger(__name__)

AUG_RATIO = (3 / 4, 4 / 3)
_SHARD_EVERY_S = 20.0  # write a cache shard at least this often during a long extraction


@dataclass(frozen=True, slots=True)
class FeatureJob:
    """One forward pass to make: image ``path`` (sample ``index``), ``view`` 0 = eval
    transform, 1..N = augmented views."""

    index: int
    path: Path
    view: int = 0


@dataclass(frozen=True, slots=True)
class ExtractionProgress:
    """Yielded after every batch of feature extraction."""

    done: int  # jobs finished (cached + extracted + skipped)
    total: int
    cached: int  # of which came from the cache
    skipped: int  # of which could not be decoded
    elapsed_s: float
    ms_per_image: float  # wall time per extracted image, decode overlapped
    eta_s: float | None

    def line(self) -> str:
        eta = f", ETA {_fmt_s(self.eta_s)}" if self.eta_s is not None else ""
        per = f", {self.ms_per_image:.0f} ms/image" if self.ms_per_image > 0 else ""
        cached = f" ({self.cached} cached)" if self.cached else ""
        return f"features {self.done}/{self.total}{cached}{per}{eta}"


@dataclass(slots=True)
class ExtractionOutput:
    """Features of the jobs that worked, in job order; and the files that did not."""

    jobs: list[FeatureJob]
    features: torch.Tensor  # (len(jobs), *feature_shape) float32
    skipped: list[tuple[str, str]]  # (path, reason)
    cached: int
    extracted: int
    seconds: float
    ms_per_image: float


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


# ---------------------------------------------------------------------------------------------
# Image views


def augment_params(path: Path, view: int, seed: int, width: int, height: int) -> tuple:
    """Seeded RandomResizedCrop box (top, left, h, w) and flip for one augmented view; the same
    arguments always give the same view, so augmented features can be cached."""
    rng = random.Random(f"{seed}:{path}:{view}")
    area = width * height
    log_ratio = (math.log(AUG_RATIO[0]), math.log(AUG_RATIO[1]))
    for _ in range(10):
        target = area * rng.uniform(*AUG_SCALE)
        ratio = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * ratio)))
        h = int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w, rng.random() < 0.5
    side = min(width, height)  # fallback: centre square, as torchvision does
    return (height - side) // 2, (width - side) // 2, side, side, rng.random() < 0.5


def load_view(path: Path, view: int, spec: TransformSpec, seed: int = 0) -> torch.Tensor:
    """The input tensor for one view of one image (raises ImageLoadError)."""
    from PIL import Image

    from .images import load_image, preprocess

    img = load_image(path, draft_size=spec.resize)
    if view == 0:
        return preprocess(img, spec)
    top, left, h, w, flip = augment_params(path, view, seed, img.width, img.height)
    img = img.resize(
        (spec.crop, spec.crop), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h)
    )
    if flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return preprocess(img, replace(spec, resize=spec.crop))


# ---------------------------------------------------------------------------------------------
# Extraction


class _Capture(nn.Module):
    """Stands where the head was; remembers its input (the features)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last = x
        return x


def weights_fingerprint(model: nn.Module) -> str:
    """Hash of every parameter and buffer (names, shapes, values)."""
    h = hashlib.blake2b(digest_size=16)
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class FeatureExtractor:
    """Runs ``model`` (whose head is replaced, in place, by a capturing identity) over images.

    The caller keeps ``model``: :func:`core.archs.replace_head` or :meth:`restore_head` later puts
    a head back."""

    def __init__(
        self,
        model: nn.Module,
        arch: str,
        transform: TransformSpec,
        device: str | torch.device = "auto",
        precision: str = "auto",
        batch_size: int = 0,
        workers: int = 0,
    ):
        self.arch = get_arch(arch).name
        self.info = head_info(self.arch)
        self.transform = transform
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.batch_size = batch_size or (64 if self.device.type == "cuda" else 32)
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2)))
        self.model = model
        self._head = model.get_submodule(self.info.path)
        self._capture = _Capture()
        model.set_submodule(self.info.path, self._capture)
        model.eval().requires_grad_(False)
        self.key = self._model_key()
        self.model.to(self.device)
        if self.device.type != "mps":
            self.model.to(memory_format=torch.channels_last)

    def _model_key(self) -> str:
        desc = {
            "arch": self.arch,
            "weights": weights_fingerprint(self.model),
            "transform": self.transform.to_dict(),
            "precision": self.precision,
            "v": 1,
        }
        return hashlib.sha1(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]

    def restore_head(self) -> nn.Module:
        """Put the original head back and return the model to the CPU, float32."""
        self.model.set_submodule(self.info.path, self._head)
        return self.model.to("cpu", memory_format=torch.contiguous_format).float()

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True)
        if self.device.type != "mps":
            batch = batch.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            self.model(batch)
        feats = self._capture.last
        self._capture.last = None
        out = feats.float().cpu().contiguous()
        return out.half().float() if out[0].numel() > 4096 else out  # big maps are cached in fp16

    def extract(
        self,
        jobs: Sequence[FeatureJob],
        *,
        cache: FeatureCache | None = None,
        aug_seed: int = 0,
        should_stop=None,
        progress: Callable | None = None,
    ) -> Iterator[ExtractionProgress]:
        """Generator: yields progress per batch, returns an :class:`ExtractionOutput`.

        Raises :class:`Cancelled` (after saving what was extracted) when ``should_stop`` is set."""
        stop = stop_check(should_stop)
        start = time.perf_counter()
        known = cache.load() if cache is not None else {}
        keys = [image_key(j.path, j.view, aug_seed) for j in jobs]
        results: list[torch.Tensor | None] = [None] * len(jobs)
        skipped: dict[int, str] = {}
        todo: list[int] = []
        for i, k in enumerate(keys):
            if k is None:
                skipped[i] = "file not found or unreadable"
            elif k in known:
                results[i] = known[k]
            else:
                todo.append(i)
        cached = len(jobs) - len(todo) - len(skipped)
        done = len(jobs) - len(todo)
        extracted, last_flush = 0, time.perf_counter()
        if progress:
            progress(done, len(jobs))
        yield ExtractionProgress(done, len(jobs), cached, len(skipped), 0.0, 0.0, None)

        def prepare(i: int):
            try:
                return load_view(jobs[i].path, jobs[i].view, self.transform, aug_seed)
            except ImageLoadError as e:
                return str(e)
            except Exception as e:  # any other decoder failure: skip the file, never crash
                log.debug("unexpected error preparing %s", jobs[i].path, exc_info=True)
                first = (str(e).strip().splitlines() or [""])[0][:200]
                return f"cannot decode ({type(e).__name__}: {first})"

        ex_start = time.perf_counter()
        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="features") as pool:
                pending: deque = deque()
                it = iter(todo)
                for i in it:  # keep two batches in flight
                    pending.append((i, pool.submit(prepare, i)))
                    if len(pending) >= 2 * self.batch_size:
                        break
                while pending:
                    if stop():
                        for _, f in pending:
                            f.cancel()
                        raise Cancelled("Feature extraction cancelled.")
                    batch_idx, tensors = [], []
                    while pending and len(tensors) < self.batch_size:
                        i, fut = pending.popleft()
                        nxt = next(it, None)
                        if nxt is not None:
                            pending.append((nxt, pool.submit(prepare, nxt)))
                        value = fut.result()
                        if isinstance(value, str):
                            skipped[i] = value
                            done += 1
                        else:
                            batch_idx.append(i)
                            tensors.append(value)
                    if tensors:
                        feats = self.forward(torch.stack(tensors))
                        synchronize(self.device)
                        for i, f in zip(batch_idx, feats, strict=True):
                            results[i] = f
                            if cache is not None:
                                cache.add(keys[i], f)
                        extracted += len(tensors)
                        done += len(tensors)
                    wall = time.perf_counter() - ex_start
                    per = wall / extracted if extracted else 0.0
                    remaining = len(jobs) - done
                    eta = remaining * per if extracted else None
                    if cache is not None and time.perf_counter() - last_flush > _SHARD_EVERY_S:
                        cache.flush()
                        last_flush = time.perf_counter()
                    if progress:
                        progress(done, len(jobs))
                    yield ExtractionProgress(
                        done,
                        len(jobs),
                        cached,
                        len(skipped),
                        time.perf_counter() - start,
                        per * 1000,
                        eta,
                    )
        finally:
            if cache is not None:
                cache.flush()
        ok = [i for i in range(len(jobs)) if results[i] is not None]
        feats = torch.stack([results[i] for i in ok]).float() if ok else torch.empty(0)
        wall = time.perf_counter() - ex_start
        return ExtractionOutput(
            jobs=[jobs[i] for i in ok],
            features=feats,
            skipped=[(str(jobs[i].path), skipped[i]) for i in sorted(skipped)],
            cached=cached,
            extracted=extracted,
            seconds=time.perf_counter() - start,
            ms_per_image=1000 * wall / extracted if extracted else 0.0,
        )
