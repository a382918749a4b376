"""Classification over files and folders: streams results batch by batch, times every image,
cancellable. The pipeline itself (listing, decoding ahead, the forward pass on its threads) is
core.runtime's, shared with feature extraction; this module turns batches into Predictions.

CPU path: Pillow decodes and crops on ``plan.decode_workers`` threads. GPU path (CUDA, decode
"auto"/"gpu"): threads only read the files; JPEGs are decoded, resized and cropped on the GPU a
batch at a time, anything else (and any JPEG the GPU refuses) through Pillow in the same run.

An ONNX model (core.models.onnx_models: an ``.onnx`` file or a checkpoint's cached export) runs
on ONNX Runtime in numpy from the decoded crops to the top-k: such a run never imports torch.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.images import decode_image
from ..data.listing import BackgroundLister, ScanStats
from ..data.preprocessing import Thumbnail, crop_array, make_thumbnail
from ..devices import HostCpu, device_name, synchronize
from ..errors import DataError, ImageLoadError, first_line
from ..models.loaded import LoadedModel
from ..results.predictions import BatchResult, Prediction, RunSummary, RunTally
from ..tasks import run_to_end
from .kept import Keep, Keeper
from .onnx_engine import OrtStep
from .options import RunOptions
from .pipeline import run_pipeline
from .plan import RunPlan, plan_run

if TYPE_CHECKING:
    import torch

    from .gpu_decode import EncodedJpeg

log = logging.getLogger(__name__)
RUN_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(RunOptions))


@dataclass(slots=True)
class _Item:
    """One image on its way through the pipeline (filled in by the decode and forward threads)."""

    index: int
    path: str
    crop: Any = None  # uint8 (3, crop, crop): numpy (Pillow), or a tensor on the device (GPU)
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
    kept: list[tuple] | None = None  # per row: (embedding, KeptMaps), see core.runtime.kept


class Classifier:
    """Runs a :class:`~core.models.checkpoints.LoadedModel` over files and folders, as ``plan``
    says (a RunPlan, or the RunOptions to plan it from; None: everything automatic).

    ``calibration`` is where int8 finds images to calibrate on the first time (the folders
    about to be classified); ``on_stage(text)`` hears about the slow one-off steps (ONNX export,
    int8 calibration). ``keep`` (a :class:`~core.runtime.kept.Keep`): each prediction also
    carries its embedding and class-activation maps from the same forward pass, on every
    engine (an ONNX model file has them only if Pigeonhole exported it with them)."""

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
        keep: Keep | None = None,
    ):
        self.loaded = loaded
        threads = plan.threads if isinstance(plan, RunOptions) else 0
        if not isinstance(plan, RunPlan):
            plan = plan_run(loaded.arch, plan, onnx_model=loaded.is_onnx)
        self.class_names = list(loaded.class_names)
        self.topk = max(1, min(int(topk), len(self.class_names)))
        self.draft = draft
        self.keep_logits = keep_logits
        self.transform = loaded.transform
        self.summary: RunSummary | None = None
        cal = None
        if calibration is not None:
            from .quantize import calibration_set

            cal = functools.partial(calibration_set, calibration, self.transform)
        if loaded.is_onnx:
            from .onnx_run import onnx_model_step

            self.step = onnx_model_step(
                loaded.model, plan, self.transform, calibration=cal, on_stage=on_stage
            )
            if not keep:  # a graph exported with maps and embeddings: the logits are enough
                self.step.extra_outputs = ()
        else:
            from .engine import torch_model_step

            self.step = torch_model_step(
                loaded, plan, threads=threads, fuse=fuse, calibration=cal, on_stage=on_stage,
                keep=keep,
            )  # fmt: skip
        self.keeper = Keeper(keep, len(self.class_names)) if keep else None
        # The plan as the run goes: the step's, which is the one given unless ONNX Runtime could
        # not run this network (then torch, with the reason in ``engine_note``).
        self.plan = self.step.plan
        self.jpegs = None
        if self.plan.gpu_decode:
            from .gpu_decode import JpegDecoder

            self.jpegs = JpegDecoder(self.plan.device, self.transform)

    # the plan's choices, as the callers know them
    @property
    def device(self) -> torch.device | HostCpu:
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
        """Logits (float32, CPU tensor) of a batch of uint8 crops already in memory: the
        model-only figure of the bench, through the same step as the pipeline."""
        import torch

        from .step import pin

        x = self.step.to_input(pin(crops, self.device))
        out = self.step.forward(x)
        synchronize(self.device)
        return torch.as_tensor(out).cpu()

    # -- the two halves the pipeline runs ----------------------------------------------------

    def _decode(self, item: _Item, thumbnail_size: int | None) -> _Item:
        """Decode threads: read the bytes (GPU path, JPEGs), else Pillow decode + crop."""
        if self.jpegs is not None:
            from .gpu_decode import read_jpeg

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
            item.crop = crop_array(img, self.transform)
            item.thumbnail = make_thumbnail(img, thumbnail_size) if thumbnail_size else None
        except ImageLoadError as e:
            item.error = str(e)
        except Exception as e:  # a decoder bug on a weird file must not end the run
            # One line on the row; the stack trace only in the log, at debug level.
            log.debug("unexpected error decoding %s", item.path, exc_info=True)
            item.error = f"cannot decode ({first_line(e, typed=True)})"
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
        if isinstance(self.step, OrtStep):  # numpy from the crops to the top-k: no torch
            t0 = time.perf_counter()
            top = self.step.classify(np.stack([it.crop for it in ok]), self.topk)
            per_image_ms = (time.perf_counter() - t0) * 1000 / len(ok)
        else:
            top, per_image_ms = self._classify_on_torch(ok)
        indices = _host(top.indices)
        kept = None
        if self.keeper is not None and top.extras:
            kept = self.keeper.rows(top.extras, np.asarray(indices))
        return _Outputs(
            _host(top.scores).tolist(),
            indices.tolist(),
            _host(top.logits).tolist() if self.keep_logits else None,
            per_image_ms,
            kept,
        )

    def _classify_on_torch(self, ok: list[_Item]):
        """The batch's crops onto the device (one pinned upload of the CPU crops), then the
        step; timed with the device synchronised."""
        import torch

        from .step import pin

        if self.jpegs is None:  # CPU crops: one pinned upload
            batch = pin(torch.from_numpy(np.stack([it.crop for it in ok])), self.device)
        else:  # crops decoded on the device, and a few from Pillow
            batch = torch.stack([torch.as_tensor(it.crop).to(self.device, non_blocking=True)
                                 for it in ok])  # fmt: skip
        synchronize(self.device)
        t0 = time.perf_counter()
        top = self.step.classify(batch, self.topk)
        synchronize(self.device)
        return top, (time.perf_counter() - t0) * 1000 / len(ok)

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
        tally = RunTally(len(self.class_names))
        multi_frame = 0
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
            tally.add(preds)
            if progress is not None:
                progress(tally.done, lister.total)
            yield BatchResult(tuple(preds), tally.done, lister.total, time.perf_counter() - start)
        if not cancelled and tally.done == 0:
            raise DataError(stats.nothing_found(paths))
        self.summary = self._summary(stats, tally, time.perf_counter() - start, cancelled)
        self.summary = dataclasses.replace(
            self.summary,
            warnings=self.summary.warnings + self._kept_warning(),
            model=self.loaded.identity().to_dict(),
            skipped_groups=stats.skipped.groups(),
            multi_frame=multi_frame,
        )
        return self.summary

    def _kept_warning(self) -> tuple[str, ...]:
        if self.keeper is None or not self.keeper.dropped:
            return ()
        mb = self.keeper.keep.budget_bytes / 2**20
        return (
            f"Heat maps and embeddings were not kept for the last {self.keeper.dropped} images "
            f"(their {mb:.0f} MB budget was spent); their maps are computed when asked for.",
        )

    def _prediction(self, it: _Item, out: _Outputs | None) -> Prediction:
        if it.error is not None or it.crop is None or out is None:
            error = it.error or "could not be decoded"
            return Prediction(it.index, it.path, None, None, (), it.decode_ms, 0.0, error, None)
        names = self.class_names
        r = it.row
        topk = tuple(
            (names[j], float(p)) for j, p in zip(out.indices[r], out.scores[r], strict=True)
        )
        embedding, maps = out.kept[r] if out.kept is not None else (None, None)
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
            embedding,
            maps,
        )

    def _summary(self, stats, tally: RunTally, elapsed: float, cancelled: bool) -> RunSummary:
        return RunSummary(
            images=stats.found,
            ignored=stats.ignored,
            **tally.figures(elapsed),
            device=str(self.device),
            device_name=device_name(self.device),
            precision=self.precision,
            batch_size=self.batch_size,
            arch=self.loaded.arch,
            cancelled=cancelled,
            workers=self.workers,
            decode="gpu" if self.jpegs is not None else "cpu",
            engine=self.engine,
            engine_note=self.engine_note,
            hidden=stats.hidden,
            scan_errors=tuple(stats.errors[:20]),
        )


def _host(values):
    """Scores as a host array: numpy already (ONNX Runtime), or a tensor copied off its device."""
    return values if isinstance(values, np.ndarray) else values.cpu()


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
