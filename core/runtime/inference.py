"""Classification over files and folders: streams results batch by batch, times every image,
cancellable. The pipeline itself (listing, decoding ahead, the forward pass on its threads) is
core.runtime's, shared with feature extraction; this module turns batches into Predictions.

CPU path: Pillow decodes and crops on ``plan.decode_workers`` threads. GPU path (CUDA, decode
"auto"/"gpu"): threads only read the files; JPEGs are decoded, resized and cropped on the GPU a
batch at a time, anything else (and any JPEG the GPU refuses) through Pillow in the same run.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import statistics
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.images import Thumbnail, crop_uint8, decode_image, make_thumbnail
from ..data.listing import BackgroundLister, ScanStats
from ..devices import device_name, synchronize
from ..errors import DataError, ImageLoadError
from ..models.checkpoints import LoadedModel
from ..results.predictions import BatchResult, OutputCheck, Prediction, RunSummary
from ..tasks import run_to_end
from .engine import EngineModel, make_step
from .fusion import fuse_for_inference
from .gpu_decode import EncodedJpeg, JpegDecoder, read_jpeg
from .options import RunOptions
from .pipeline import run_pipeline
from .plan import RunPlan, plan_run
from .step import pin

log = logging.getLogger(__name__)
RUN_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(RunOptions))


@dataclass(slots=True)
class _Item:
    """One image on its way through the pipeline (filled in by the decode and forward threads)."""

    index: int
    path: str
    crop: torch.Tensor | None = None  # uint8 (3, crop, crop), CPU or device
    jpeg: EncodedJpeg | None = None  # GPU path: bytes waiting for the device decoder
    thumbnail: Thumbnail | None = None
    decode_ms: float = 0.0
    read_ms: float = 0.0
    error: str | None = None
    row: int = -1  # its row in the batch's outputs
    multi_frame: bool = False  # an animation or multi-page file (its first frame is classified)


@dataclass(slots=True)
class _Outputs:
    scores: list[list[float]]
    indices: list[list[int]]
    logits: list[list[float]] | None
    per_image_ms: float


class Classifier:
    """Runs a :class:`~core.models.checkpoints.LoadedModel` over files and folders, as ``plan``
    says (a RunPlan, or the RunOptions to plan it from; None: everything automatic).

    ``calibration`` is where int8 finds images to calibrate on the first time (the folders
    about to be classified); ``on_stage(text)`` hears about the slow one-off steps (ONNX export,
    int8 calibration)."""

    def __init__(
        self,
        loaded: LoadedModel,
        plan: RunPlan | RunOptions | None = None,
        *,
        topk: int = 5,
        draft: bool = True,
        keep_logits: bool = False,
        fuse: bool = True,
        calibration: Iterable[str | os.PathLike] | None = None,
        on_stage: Callable[[str], None] | None = None,
    ):
        self.loaded = loaded
        if not isinstance(plan, RunPlan):
            plan = plan_run(loaded.arch, plan)
        self.class_names = list(loaded.class_names)
        self.topk = max(1, min(int(topk), len(self.class_names)))
        self.draft = draft
        self.keep_logits = keep_logits
        self.transform = loaded.transform
        self.summary: RunSummary | None = None
        net = EngineModel(
            loaded.model,
            loaded.arch,
            weights=loaded.identity().weights,  # hashed once per LoadedModel
            for_torch=(lambda: fuse_for_inference(loaded)) if fuse else None,
        )
        cal = None
        if calibration is not None:
            from .quantize import calibration_set

            cal = functools.partial(calibration_set, calibration, self.transform)
        self.step = make_step(net, plan, self.transform, calibration=cal, on_stage=on_stage)
        # The plan as the run goes: the step's, which is the one given unless ONNX Runtime could
        # not run this network (then torch, with the reason in ``engine_note``).
        self.plan = self.step.plan
        self.jpegs = JpegDecoder(self.plan.device, self.transform) if self.plan.gpu_decode else None

    # the plan's choices, as the callers know them
    @property
    def device(self) -> torch.device:
        return self.plan.device

    @property
    def precision(self) -> str:
        return self.plan.precision

    @property
    def batch_size(self) -> int:
        return self.plan.batch_size

    @property
    def workers(self) -> int:
        return self.plan.decode_workers

    @property
    def engine(self) -> str:
        return self.plan.engine

    @property
    def engine_note(self) -> str:
        """Why the engine is what it is (a fallback's reason), or int8's measured agreement."""
        return self.plan.engine_note

    def forward_crops(self, crops: torch.Tensor) -> torch.Tensor:
        """Logits (float32, CPU) of a batch of uint8 crops already in memory: the model-only
        figure of the bench, through the same device step as the pipeline."""
        x = self.step.to_input(pin(crops, self.device))
        out = self.step.forward(x)
        synchronize(self.device)
        return out.cpu()

    # -- the two halves the pipeline runs ----------------------------------------------------

    def _decode(self, item: _Item, thumbnail_size: int | None) -> _Item:
        """Decode threads: read the bytes (GPU path, JPEGs), else Pillow decode + crop."""
        if self.jpegs is not None:
            try:
                item.jpeg = read_jpeg(item.path)
            except OSError:
                item.jpeg = None  # Pillow says precisely what is wrong with the file
            if item.jpeg is not None:
                item.read_ms = item.decode_ms = item.jpeg.read_ms
                return item
        return self._decode_with_pillow(item, thumbnail_size)

    def _decode_with_pillow(self, item: _Item, thumbnail_size: int | None) -> _Item:
        t0 = time.perf_counter()
        try:
            decoded = decode_image(item.path, self.transform.resize if self.draft else None)
            img, item.multi_frame = decoded.image, decoded.multi_frame
            item.crop = crop_uint8(img, self.transform)
            item.thumbnail = make_thumbnail(img, thumbnail_size) if thumbnail_size else None
        except ImageLoadError as e:
            item.error = str(e)
        except Exception as e:  # a decoder bug on a weird file must not end the run
            # One line on the row; the stack trace only in the log, at debug level.
            log.debug("unexpected error decoding %s", item.path, exc_info=True)
            first = (str(e).strip().splitlines() or [""])[0][:200]
            item.error = f"cannot decode ({type(e).__name__}: {first})"
        item.decode_ms += (time.perf_counter() - t0) * 1000
        return item

    def _compute(self, items: list[_Item], thumbnail_size: int | None) -> _Outputs | None:
        """Forward threads: (GPU path: decode the batch's JPEGs on the device), then classify."""
        if self.jpegs is not None:
            self._decode_on_device(items, thumbnail_size)
        ok = [it for it in items if it.error is None and it.crop is not None]
        if not ok:
            return None
        for row, it in enumerate(ok):
            it.row = row
        if self.jpegs is None:  # CPU crops: one pinned upload
            batch = pin(torch.stack([it.crop for it in ok]), self.device)
        else:  # crops decoded on the device, and a few from Pillow
            batch = torch.stack([it.crop.to(self.device, non_blocking=True) for it in ok])
        synchronize(self.device)
        t0 = time.perf_counter()
        top = self.step.classify(batch, self.topk)
        synchronize(self.device)
        per_image_ms = (time.perf_counter() - t0) * 1000 / len(ok)
        return _Outputs(
            top.scores.cpu().tolist(),
            top.indices.cpu().tolist(),
            top.logits.cpu().tolist() if self.keep_logits else None,
            per_image_ms,
        )

    def _decode_on_device(self, items: list[_Item], thumbnail_size: int | None) -> None:
        jpegs = {i: it.jpeg for i, it in enumerate(items) if it.jpeg is not None}
        if not jpegs:
            return
        out = self.jpegs.decode(jpegs, thumbnail_size)
        share = out.decode_ms / len(jpegs)
        for i, crop in out.crops.items():
            items[i].crop = crop
            items[i].thumbnail = out.thumbnails.get(i)
            items[i].decode_ms += share
        for i in out.failed:  # the device refused it: Pillow, here and now
            items[i].jpeg = None
            self._decode_with_pillow(items[i], thumbnail_size)

    # -- the run -----------------------------------------------------------------------------

    def run(
        self,
        paths: Iterable[str | os.PathLike] | str | os.PathLike,
        *,
        should_stop=None,
        progress: Callable[..., None] | None = None,
        thumbnail_size: int | None = None,
    ) -> Iterator[BatchResult]:
        """Classify every image under ``paths``, yielding a :class:`BatchResult` per batch in
        listing order. The generator's return value (also ``self.summary``) is the
        :class:`RunSummary`. ``should_stop`` (Event or callable) ends the run within a batch.
        Raises :class:`DataError` when nothing to classify was found."""
        start = time.perf_counter()
        stats = ScanStats()
        lister = BackgroundLister(paths, stats, should_stop)
        source = _Numbered(lister)
        infer_ms, decode_ms = array("d"), array("d")
        check = OutputCheck(len(self.class_names))
        done = processed = skipped = multi_frame = 0
        pipeline = run_pipeline(
            source,
            lambda item: self._decode(item, thumbnail_size),
            lambda items: self._compute(items, thumbnail_size),
            self.plan,
            should_stop=should_stop,
        )
        while True:
            try:
                items, _, outputs = next(pipeline)
            except StopIteration as end:
                cancelled = end.value
                break
            preds = [self._prediction(it, outputs) for it in items]
            multi_frame += sum(it.multi_frame for it in items)
            for p in preds:
                check.add(p)
                decode_ms.append(p.decode_ms)
                if p.ok:
                    processed += 1
                    infer_ms.append(p.infer_ms)
                else:
                    skipped += 1
            done += len(preds)
            if progress is not None:
                progress(done, lister.total)
            yield BatchResult(tuple(preds), done, lister.total, time.perf_counter() - start)
        if not cancelled and done == 0:
            raise DataError(_nothing_found(paths, stats))
        elapsed = time.perf_counter() - start
        self.summary = self._summary(
            stats, done, processed, skipped, elapsed, cancelled, infer_ms, decode_ms
        )
        self.summary = dataclasses.replace(
            self.summary,
            warnings=tuple(check.warnings()),
            model=self.loaded.identity().to_dict(),
            skipped_groups=stats.skipped.groups(),
            multi_frame=multi_frame,
        )
        return self.summary

    def _prediction(self, it: _Item, out: _Outputs | None) -> Prediction:
        if it.error is not None or it.crop is None or out is None:
            error = it.error or "could not be decoded"
            return Prediction(it.index, it.path, None, None, (), it.decode_ms, 0.0, error, None)
        names = self.class_names
        r = it.row
        topk = tuple(
            (names[j], float(p)) for j, p in zip(out.indices[r], out.scores[r], strict=True)
        )
        return Prediction(
            it.index,
            it.path,
            topk[0][0],
            topk[0][1],
            topk,
            it.decode_ms,
            out.per_image_ms,
            None,
            it.thumbnail,
            tuple(out.logits[r]) if out.logits is not None else None,
            it.read_ms,
        )

    def _summary(self, stats, done, processed, skipped, elapsed, cancelled, infer_ms, decode_ms):
        times = sorted(infer_ms)
        return RunSummary(
            images=stats.found,
            processed=processed,
            skipped=skipped,
            ignored=stats.ignored,
            total_s=elapsed,
            images_per_s=done / elapsed if elapsed > 0 else 0.0,
            mean_ms=statistics.fmean(times) if times else 0.0,
            median_ms=statistics.median(times) if times else 0.0,
            p95_ms=times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)] if times else 0.0,
            device=str(self.device),
            device_name=device_name(self.device),
            precision=self.precision,
            batch_size=self.batch_size,
            arch=self.loaded.arch,
            cancelled=cancelled,
            decode_ms=statistics.fmean(decode_ms) if decode_ms else 0.0,
            workers=self.workers,
            decode="gpu" if self.jpegs is not None else "cpu",
            engine=self.engine,
            engine_note=self.engine_note,
            hidden=stats.hidden,
            scan_errors=tuple(stats.errors[:20]),
        )


class _Numbered:
    """The lister's paths as numbered pipeline items (the number is the listing order)."""

    def __init__(self, lister: BackgroundLister):
        self.lister = lister

    @property
    def finished(self) -> bool:
        return self.lister.finished

    def next(self, block: bool, should_stop=None) -> _Item | None:
        path = self.lister.next(block=block, should_stop=should_stop)
        return None if path is None else _Item(self.lister.taken - 1, path)

    def stop(self) -> None:
        self.lister.stop()


def _nothing_found(paths, stats: ScanStats) -> str:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names = ", ".join(str(p) for p in list(paths)[:3])
    details = [g.text for g in stats.skipped.groups()] + stats.errors[:2]
    extra = f" ({'; '.join(details)})" if details else ""
    return f"No images found in {names or 'the selection'}{extra}."


def classify_paths(
    loaded: LoadedModel, paths: Iterable[str | Path], **kwargs
) -> tuple[list[Prediction], RunSummary]:
    """Convenience for scripts and tests: run to completion, return every prediction. Keyword
    arguments go to the run (``should_stop``...), its RunOptions (``device``, ``batch_size``...)
    or the Classifier (``topk``...)."""
    run_kwargs = {
        k: kwargs.pop(k) for k in ("should_stop", "progress", "thumbnail_size") if k in kwargs
    }
    choices = {k: kwargs.pop(k) for k in list(kwargs) if k in RUN_OPTION_NAMES}
    clf = Classifier(loaded, kwargs.pop("plan", None) or RunOptions(**choices), **kwargs)
    preds: list[Prediction] = []
    summary = run_to_end(clf.run(paths, **run_kwargs), lambda b: preds.extend(b.predictions))
    return preds, summary
