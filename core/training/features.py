"""Frozen-backbone feature extraction with a disk cache.

The network runs once per image (and once per augmented view) through the same pipeline and
device step as inference (core.runtime); what its classification layer would have received is
captured there, and the rest of the network is skipped, so every architecture works the same way
(SqueezeNet's 1x1-conv head gets its spatial map).

Features are cached on disk (core.training.feature_cache) under a key covering the architecture, a hash
of the backbone weights, the transform and the precision, per file path, size, modification time
and view (eval, or augmented view *i* of seed *s*): a changed file is extracted again, an
unchanged one never is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from ..data.images import load_image
from ..data.preprocessing import crop_uint8
from ..devices import synchronize
from ..errors import Cancelled, ImageLoadError, first_line
from ..models.archs import TransformSpec, get_arch, head_info
from ..models.loaded import weights_hash
from ..runtime.engine import EngineModel, make_step
from ..runtime.fusion import fuse_conv_bn
from ..runtime.options import RunOptions
from ..runtime.pipeline import ListSource, run_pipeline
from ..runtime.plan import plan_run
from ..runtime.step import pin
from .feature_cache import AUG_SCALE, FeatureCache, image_key
from .records import ExtractionProgress

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


# ---------------------------------------------------------------------------------------------
# Image views


def augment_params(path: Path, view: int, seed: int, width: int, height: int) -> tuple:
    """Seeded RandomResizedCrop box (top, left, h, w) and flip for one augmented view; the same
    arguments always give the same view, so augmented features can be cached. The seed takes
    the file's class folder and name, not where the dataset lies: a dataset copied or moved
    elsewhere trains the same way."""
    rng = random.Random(f"{seed}:{Path(path).parent.name}/{Path(path).name}:{view}")
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
    """uint8 (3, crop, crop) for one view of one image (raises ImageLoadError): view 0 is the
    eval transform, views 1.. are seeded augmentations (random resized crop, flip)."""
    img = load_image(path, draft_size=spec.resize)
    if view == 0:
        return crop_uint8(img, spec)
    top, left, h, w, flip = augment_params(path, view, seed, img.width, img.height)
    img = img.resize(
        (spec.crop, spec.crop), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h)
    )
    if flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop_uint8(img, replace(spec, resize=spec.crop))


# ---------------------------------------------------------------------------------------------
# Extraction


class _Captured(Exception):  # noqa: N818 (not an error: it carries the features out)
    def __init__(self, features: torch.Tensor):
        super().__init__()
        self.features = features


class _HeadInput(nn.Module):
    """Stands where the head was: hands its input (the features) out of the network at once.
    An exception rather than a stored attribute, so concurrent forward passes never mix."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise _Captured(x)


class _FeatureNet(nn.Module):
    """A network whose head is a :class:`_HeadInput`: returns what the head would receive."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            self.model(x)
        except _Captured as found:
            return found.features
        raise RuntimeError("the classification layer was never reached")


class FeatureExtractor:
    """Runs ``model`` without its head over images (the run's plan, pipeline and device step are
    core.runtime's, as for inference, and so is the engine: ONNX Runtime on the CPU where it is
    faster, exported once per backbone). The head is swapped out of ``model`` while the extractor
    lives (on a conv+BN-fused copy when the model can be fused); :meth:`restore_head` puts it back
    and returns the model on the CPU, float32."""

    def __init__(
        self,
        model: nn.Module,
        arch: str,
        transform: TransformSpec,
        options: RunOptions | None = None,
        on_stage: Callable[[str], None] | None = None,
    ):
        self.arch = get_arch(arch).name
        self.info = head_info(self.arch)
        self.transform = transform
        # Augmented views are made from decoded images: decoding stays on the CPU.
        self.plan = plan_run(self.arch, replace(options or RunOptions(), decode="cpu"))
        self.model = model.eval().requires_grad_(False)
        self.weights = weights_hash(self.model)
        self.key = self._model_key()
        self._head = model.get_submodule(self.info.path)
        work = fuse_conv_bn(model) or model  # fused: a copy of our own
        work.set_submodule(self.info.path, _HeadInput())
        net = EngineModel(_FeatureNet(work), self.arch, "features", self.weights)
        self.step = make_step(net, self.plan, transform, on_stage=on_stage)
        self.plan = self.step.plan  # the step's: torch, with the reason, if ONNX Runtime failed

    @property
    def device(self) -> torch.device:
        return self.plan.device

    @property
    def batch_size(self) -> int:
        return self.plan.batch_size

    def _model_key(self) -> str:
        desc = {
            "arch": self.arch,
            "weights": self.weights,
            "transform": self.transform.to_dict(),
            "precision": self.plan.precision,
            "v": 2,
        }
        return hashlib.sha1(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]

    def restore_head(self) -> nn.Module:
        """Put the original head back and return the model on the CPU, float32."""
        self.model.set_submodule(self.info.path, self._head)
        return self.model.to("cpu", memory_format=torch.contiguous_format).float()

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Features (float32, CPU) of a batch of uint8 crops; big spatial maps are rounded to
        fp16 precision, the precision the cache keeps them in."""
        feats = self.step.forward(self.step.to_input(pin(batch, self.device)))
        synchronize(self.device)
        out = torch.as_tensor(feats).float().cpu().contiguous()  # ONNX Runtime's: numpy
        return out.half().float() if out[0].numel() > 4096 else out

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
        start = time.perf_counter()
        keys = [image_key(j.path, j.view, aug_seed) for j in jobs]
        tally = _Tally.from_cache(keys, cache.load() if cache is not None else {})
        if progress:
            progress(tally.done, len(jobs))
        yield ExtractionProgress(
            tally.done, len(jobs), tally.cached, len(tally.skipped), 0.0, 0.0, None
        )
        wall = yield from self._extract_missing(
            jobs, keys, tally, cache, aug_seed, should_stop, progress, start
        )
        return tally.output(jobs, seconds=time.perf_counter() - start, wall=wall)

    def _extract_missing(
        self, jobs, keys, tally: _Tally, cache, aug_seed: int, should_stop, progress, start: float
    ) -> Iterator[ExtractionProgress]:
        """Generator: decode and run the jobs the cache lacks (``tally.todo``), adding each to
        ``tally`` and the cache (a shard written now and then, and at the end); yields progress
        per batch and returns the wall time. Raises :class:`Cancelled` when stopped."""
        last_flush = ex_start = time.perf_counter()

        def prepare(i: int) -> torch.Tensor | str:
            return _prepared_view(jobs[i], self.transform, aug_seed)

        pipeline = run_pipeline(
            ListSource(tally.todo), prepare, self._compute, self.plan, should_stop=should_stop
        )
        try:
            while True:
                try:
                    batch, views, feats = next(pipeline)
                except StopIteration as end:
                    if end.value:
                        raise Cancelled("Feature extraction cancelled.") from None
                    break
                tally.record(batch, views, feats, keys, cache)
                extracted = tally.extracted
                per = (time.perf_counter() - ex_start) / extracted if extracted else 0.0
                eta = (len(jobs) - tally.done) * per if extracted else None
                if cache is not None and time.perf_counter() - last_flush > _SHARD_EVERY_S:
                    cache.flush()
                    last_flush = time.perf_counter()
                if progress:
                    progress(tally.done, len(jobs))
                elapsed = time.perf_counter() - start
                yield ExtractionProgress(
                    tally.done,
                    len(jobs),
                    tally.cached,
                    len(tally.skipped),
                    elapsed,
                    per * 1000,
                    eta,
                )
        finally:
            pipeline.close()
            if cache is not None:
                cache.flush()
        return time.perf_counter() - ex_start

    def _compute(self, views: list) -> torch.Tensor | None:
        """Features of a batch's decoded views (the strings are files that failed)."""
        crops = [v for v in views if not isinstance(v, str)]
        return self.forward(torch.stack(crops)) if crops else None


def _prepared_view(job: FeatureJob, spec: TransformSpec, aug_seed: int) -> torch.Tensor | str:
    """The job's view as a uint8 crop, or why it cannot be decoded (never raises)."""
    try:
        return load_view(job.path, job.view, spec, aug_seed)
    except ImageLoadError as e:
        return str(e)
    except Exception as e:  # any other decoder failure: skip the file, never crash
        log.debug("unexpected error preparing %s", job.path, exc_info=True)
        return f"cannot decode ({first_line(e, typed=True)})"


@dataclass(slots=True)
class _Tally:
    """Where each job of an extraction stands: its features, or why it was skipped."""

    results: list[torch.Tensor | None]
    skipped: dict[int, str]  # job index -> reason
    todo: list[int]  # job indices the cache does not have
    cached: int
    done: int
    extracted: int = 0

    @classmethod
    def from_cache(cls, keys: list, known: dict) -> _Tally:
        """The jobs the cache ``known`` answers, those whose file is gone, and the rest to do."""
        results: list[torch.Tensor | None] = [None] * len(keys)
        skipped: dict[int, str] = {}
        todo: list[int] = []
        for i, k in enumerate(keys):
            if k is None:
                skipped[i] = "file not found or unreadable"
            elif k in known:
                results[i] = known[k]
            else:
                todo.append(i)
        done = len(keys) - len(todo)
        return cls(results, skipped, todo, cached=done - len(skipped), done=done)

    def record(self, batch, views, feats, keys, cache: FeatureCache | None) -> None:
        """One batch back from the pipeline: features kept (and cached), failures noted."""
        rows = iter(feats if feats is not None else ())
        for i, view in zip(batch, views, strict=True):
            if isinstance(view, str):
                self.skipped[i] = view
                continue
            self.results[i] = next(rows)
            if cache is not None:
                cache.add(keys[i], self.results[i])
            self.extracted += 1
        self.done += len(batch)

    def output(
        self, jobs: Sequence[FeatureJob], *, seconds: float, wall: float
    ) -> ExtractionOutput:
        """The features of the jobs that worked, in job order, and the files that did not."""
        ok = [i for i in range(len(jobs)) if self.results[i] is not None]
        feats = torch.stack([self.results[i] for i in ok]).float() if ok else torch.empty(0)
        return ExtractionOutput(
            jobs=[jobs[i] for i in ok],
            features=feats,
            skipped=[(str(jobs[i].path), self.skipped[i]) for i in sorted(self.skipped)],
            cached=self.cached,
            extracted=self.extracted,
            seconds=seconds,
            ms_per_image=1000 * wall / self.extracted if self.extracted else 0.0,
        )
