"""The batched inference pipeline: streams results batch by batch, times every image, cancellable.

One thread lists the files (so classifying starts at once and the total is known as soon as
the listing ends), a small thread pool decodes and crops images (Pillow releases the GIL), and
the calling thread normalises each batch and runs the forward pass under
``torch.inference_mode()``. At most ``PREFETCH_BATCHES`` batches are decoded ahead, so memory
stays flat however many images there are: only the small result records accumulate (in the
caller, if it keeps them).
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .devices import autocast, device_name, resolve_device, resolve_precision, synchronize
from .errors import DataError, ImageLoadError, PigeonholeError
from .fusion import fuse_conv_bn
from .images import (
    ScanStats,
    Thumbnail,
    crop_uint8,
    load_image,
    make_thumbnail,
    normalize_batch,
)
from .listing import BackgroundLister
from .models.archs import get_arch
from .tasks import run_to_end, stop_requested

if TYPE_CHECKING:
    from .models.checkpoints import LoadedModel

log = logging.getLogger(__name__)

PREFETCH_BATCHES = 2  # batches decoded ahead of the forward pass
# Families whose convolutions run faster with channels_last (transformers gain nothing).
_NO_CHANNELS_LAST = {"ViT", "Swin", "MaxViT"}


@dataclass(frozen=True, slots=True)
class Prediction:
    index: int  # position in listing order
    path: str
    label: str | None
    confidence: float | None  # softmax probability of ``label``
    topk: tuple[tuple[str, float], ...]
    decode_ms: float  # decode + resize + crop of this image
    infer_ms: float  # its batch's synchronised forward time / batch size
    error: str | None
    thumbnail: Thumbnail | None = None
    logits: tuple[float, ...] | None = None  # only with Classifier(keep_logits=True)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class BatchResult:
    predictions: tuple[Prediction, ...]
    done: int
    total: int | None  # None while the listing is still running
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class RunSummary:
    images: int  # candidates listed
    processed: int
    skipped: int  # candidates that could not be decoded
    ignored: int  # non-image files
    total_s: float
    images_per_s: float
    mean_ms: float  # per-image inference time
    median_ms: float
    p95_ms: float
    device: str
    device_name: str
    precision: str
    batch_size: int
    arch: str
    cancelled: bool
    decode_ms: float = 0.0  # mean per-image decode + preprocess time (in the decode threads)
    workers: int = 0
    hidden: int = 0
    scan_errors: tuple[str, ...] = ()  # folders that could not be listed, missing paths

    def line(self) -> str:
        what = "Cancelled after" if self.cancelled else "Classified"
        extra = [f"{self.skipped} skipped"]
        if self.ignored:
            extra.append(f"{self.ignored} non-image file{'s' if self.ignored != 1 else ''} ignored")
        return (
            f"{what} {self.processed} of {self.images} images ({', '.join(extra)}) in "
            f"{self.total_s:.1f} s: {self.images_per_s:.1f} images/s; "
            f"inference {self.mean_ms:.1f} ms/image (median {self.median_ms:.1f}, p95 "
            f"{self.p95_ms:.1f}), decode {self.decode_ms:.1f} ms/image; {self.arch} on "
            f"{self.device_name} ({self.device}), {self.precision}, batch {self.batch_size}"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def default_batch_size(device: torch.device) -> int:
    """CPU: 16 (bigger batches gain nothing and delay the first results); GPUs: 64, with
    back-off on out-of-memory."""
    return {"cuda": 64, "mps": 32}.get(device.type, 16)


def default_workers(device: torch.device) -> int:
    """Decode threads. On a CPU the forward pass needs the cores too: one decode thread per
    ~2 cores (measured: 1 on 2 cores is fastest); a GPU leaves the CPU to decoding."""
    cores = os.cpu_count() or 1
    if device.type == "cpu":
        return max(1, min(4, cores // 2))
    return max(2, min(8, cores - 1))


@dataclass(slots=True)
class _Decoded:
    crop: torch.Tensor | None
    thumbnail: Thumbnail | None
    decode_ms: float
    error: str | None


class Classifier:
    """Runs a :class:`~core.checkpoints.LoadedModel` over files and folders."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: str | torch.device = "auto",
        precision: str = "auto",
        batch_size: int = 0,
        workers: int = 0,
        topk: int = 5,
        draft: bool = True,
        keep_logits: bool = False,
        fuse: bool = True,
        streams: int = 0,
    ):
        self.loaded = loaded
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if batch_size < 0 or workers < 0:
            raise PigeonholeError("Batch size and workers must be positive (0 = automatic).")
        self.batch_size = batch_size or default_batch_size(self.device)
        self.workers = workers or default_workers(self.device)
        self.class_names = list(loaded.class_names)
        self.topk = max(1, min(int(topk), len(self.class_names)))
        self.draft = draft
        self.keep_logits = keep_logits
        self.transform = loaded.transform
        self.summary: RunSummary | None = None
        self.fuse = fuse
        if streams < 0:
            raise PigeonholeError("Streams must be positive (0 = automatic).")
        self.streams = streams
        self.channels_last = (
            self.device.type != "mps" and _family(loaded.arch) not in _NO_CHANNELS_LAST
        )
        self.model = self._prepare_model(loaded.model)

    def _prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        fused = fuse_conv_bn(model) if self.fuse else None
        if fused is not None:
            model = fused.to(self.device)  # a copy: the caller's model stays as it is
        elif self.device.type != "cpu":
            import copy

            model = copy.deepcopy(model).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        return model.eval()

    # -- the forward pass ---------------------------------------------------------------------

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (float32, on CPU) for a batch; on CUDA, halves the batch on out-of-memory."""
        try:
            with torch.inference_mode(), autocast(self.device, self.precision):
                out = self.model(x)
            if isinstance(out, tuple | list):
                out = out[0]
            elif not isinstance(out, torch.Tensor) and hasattr(out, "logits"):
                out = out.logits
            return out.float()
        except torch.cuda.OutOfMemoryError:
            if x.shape[0] <= 1:
                raise PigeonholeError(
                    "The GPU ran out of memory even with one image per batch: use a smaller "
                    "model, --precision fp16, or --device cpu."
                ) from None
            torch.cuda.empty_cache()
            half = max(1, x.shape[0] // 2)
            self.batch_size = min(self.batch_size, half)
            log.warning("GPU out of memory: batch size lowered to %d", self.batch_size)
            return torch.cat([self._forward(x[i : i + half]) for i in range(0, x.shape[0], half)])

    def predict_tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits for an already normalised (N, 3, H, W) float batch (the bench's model-only run)."""
        x = batch.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._forward(x)

    # -- the pipeline -------------------------------------------------------------------------

    def _decode(self, path: str, thumbnail_size: int | None) -> _Decoded:
        t0 = time.perf_counter()
        try:
            img = load_image(path, draft_size=self.transform.resize if self.draft else None)
            crop = crop_uint8(img, self.transform)
            thumb = make_thumbnail(img, thumbnail_size) if thumbnail_size else None
            return _Decoded(crop, thumb, (time.perf_counter() - t0) * 1000, None)
        except ImageLoadError as e:
            return _Decoded(None, None, (time.perf_counter() - t0) * 1000, str(e))
        except Exception as e:  # a Pillow bug on a weird file must not end the run
            # One line on the row; the stack trace only in the log, at debug level.
            log.debug("unexpected error preparing %s", path, exc_info=True)
            first = (str(e).strip().splitlines() or [""])[0][:200]
            reason = f"cannot decode ({type(e).__name__}: {first})"
            return _Decoded(None, None, (time.perf_counter() - t0) * 1000, reason)

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
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pigeonhole-decode")
        streams, per_stream = self._streams()
        prev_threads = torch.get_num_threads()
        fwd_pool = ThreadPoolExecutor(
            streams,
            thread_name_prefix="pigeonhole-forward",
            initializer=(lambda: torch.set_num_threads(per_stream)) if per_stream else None,
        )
        pending: deque[tuple[int, str, Future]] = deque()
        inflight: deque[tuple[list, list, list, Future | None]] = deque()
        infer_ms, decode_ms = array("d"), array("d")
        done = processed = skipped = 0
        cancelled = False
        try:
            while True:
                if stop_requested(should_stop):
                    cancelled = True
                    break
                self._feed(pending, lister, pool, thumbnail_size, should_stop, block=True)
                # Keep `streams` batches in the forward pass: while one stream computes, the
                # next batch is handed to the other (a partial batch only at the very end).
                while len(inflight) < streams and pending:
                    if len(pending) < self.batch_size and not lister.finished and inflight:
                        break
                    n = min(self.batch_size, len(pending))
                    items = [pending.popleft() for _ in range(n)]
                    decoded = [fut.result() for _, _, fut in items]
                    ok = [i for i, d in enumerate(decoded) if d.crop is not None]
                    crops = [decoded[i].crop for i in ok]
                    fut = fwd_pool.submit(self._infer, crops) if ok else None
                    inflight.append((items, decoded, ok, fut))
                    self._feed(pending, lister, pool, thumbnail_size, should_stop, block=False)
                if not inflight:
                    if lister.finished and not pending:
                        break
                    continue  # stopped while waiting for the lister
                items, decoded, ok, fut = inflight.popleft()
                probs, logits, per_image_ms = fut.result() if fut else (None, None, 0.0)
                if stop_requested(should_stop):
                    cancelled = True
                    break
                preds = self._records(items, decoded, ok, probs, logits, per_image_ms)
                for p in preds:
                    decode_ms.append(p.decode_ms)
                    if p.ok:
                        processed += 1
                        infer_ms.append(p.infer_ms)
                    else:
                        skipped += 1
                done += len(preds)
                total = lister.total
                if progress is not None:
                    progress(done, total)
                yield BatchResult(tuple(preds), done, total, time.perf_counter() - start)
            if not cancelled and done == 0:
                raise DataError(_nothing_found(paths, stats))
        finally:
            lister.stop()
            for _, _, fut in pending:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            fwd_pool.shutdown(wait=True, cancel_futures=True)
            if per_stream:
                torch.set_num_threads(prev_threads)  # the forward threads changed the default
        elapsed = time.perf_counter() - start
        self.summary = self._summary(
            stats, done, processed, skipped, elapsed, cancelled, infer_ms, decode_ms
        )
        return self.summary

    def _streams(self) -> tuple[int, int]:
        """(forward threads, torch threads for each; 0 = leave torch's setting alone).

        On a CPU, two batches run side by side, each on half the cores, instead of one batch
        on all of them: the cores never wait for each other at the end of every layer, which
        matters most when decoding (or anything else) takes a core now and then (measured on
        2 cores under load: 35 vs 20 images/s). On a GPU, one stream."""
        auto = 2 if self.device.type == "cpu" and torch.get_num_threads() >= 2 else 1
        n = self.streams or auto
        if self.device.type != "cpu" or n == 1:
            return n, 0
        return n, max(1, torch.get_num_threads() // n)

    def _feed(self, pending, lister, pool, thumbnail_size, should_stop, block: bool) -> None:
        """Hand paths to the decode pool until PREFETCH_BATCHES batches are queued ahead; wait
        for the lister (``block``) only while a full batch is not yet queued."""
        target = self.batch_size * (PREFETCH_BATCHES + 1)
        while len(pending) < target:
            path = lister.next(
                block=block and len(pending) < self.batch_size, should_stop=should_stop
            )
            if path is None:
                return
            pending.append(
                (lister.taken - 1, path, pool.submit(self._decode, path, thumbnail_size))
            )

    def _infer(self, crops: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, float]:
        """Normalise and classify one batch of uint8 crops (runs on a forward thread)."""
        batch = torch.stack(crops)
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        x = normalize_batch(batch.to(self.device, non_blocking=True), self.transform)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        synchronize(self.device)
        t0 = time.perf_counter()
        logits = self._forward(x)
        synchronize(self.device)
        per_image_ms = (time.perf_counter() - t0) * 1000 / len(crops)
        probs = torch.softmax(logits, dim=1).cpu()
        return probs, (logits.cpu() if self.keep_logits else None), per_image_ms

    def _records(self, items, decoded, ok, probs, logits, per_image_ms) -> list[Prediction]:
        row_of = {i: r for r, i in enumerate(ok)}
        top_p = top_i = None
        if probs is not None:
            top_p, top_i = probs.topk(self.topk, dim=1)
            top_p, top_i = top_p.tolist(), top_i.tolist()
        preds = []
        names = self.class_names
        for i, ((index, path, _), d) in enumerate(zip(items, decoded, strict=True)):
            if d.crop is None:
                preds.append(
                    Prediction(index, path, None, None, (), d.decode_ms, 0.0, d.error, None)
                )
                continue
            r = row_of[i]
            topk = tuple((names[j], float(p)) for j, p in zip(top_i[r], top_p[r], strict=True))
            preds.append(
                Prediction(
                    index,
                    path,
                    topk[0][0],
                    topk[0][1],
                    topk,
                    d.decode_ms,
                    per_image_ms,
                    None,
                    d.thumbnail,
                    tuple(logits[r].tolist()) if logits is not None else None,
                )
            )
        return preds

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
            hidden=stats.hidden,
            scan_errors=tuple(stats.errors[:20]),
        )


def _family(arch: str) -> str:
    try:
        return get_arch(arch).family
    except PigeonholeError:
        return ""


def _nothing_found(paths, stats: ScanStats) -> str:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names = ", ".join(str(p) for p in list(paths)[:3])
    details = []
    if stats.ignored:
        details.append(f"{stats.ignored} other file{'s' if stats.ignored != 1 else ''} ignored")
    if stats.hidden:
        details.append(f"{stats.hidden} hidden skipped")
    details.extend(stats.errors[:2])
    extra = f" ({'; '.join(details)})" if details else ""
    return f"No images found in {names or 'the selection'}{extra}."


def classify_paths(
    loaded: LoadedModel, paths: Iterable[str | Path], **kwargs
) -> tuple[list[Prediction], RunSummary]:
    """Convenience for scripts and tests: run to completion, return every prediction."""
    run_kwargs = {
        k: kwargs.pop(k) for k in ("should_stop", "progress", "thumbnail_size") if k in kwargs
    }
    clf = Classifier(loaded, **kwargs)
    preds: list[Prediction] = []
    summary = run_to_end(clf.run(paths, **run_kwargs), lambda b: preds.extend(b.predictions))
    return preds, summary
