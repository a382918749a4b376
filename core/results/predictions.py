"""The records a classification run yields: one :class:`Prediction` per image, a
:class:`BatchResult` per batch, and the run's :class:`RunSummary` (its timings, device, counts)."""

from __future__ import annotations

import math
import statistics
from array import array
from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.preprocessing import Thumbnail
from ..data.skipped import SkippedGroup


@dataclass(frozen=True, slots=True)
class KeptMaps:
    """An image's class-activation maps, kept from the forward pass that classified it (no
    second pass to draw them): ``values`` uint8 (k, h, w) on the network's input grid, each map
    scaled to its own peak (255), for the class indices ``classes`` (every class when the model
    has few, else its top classes), made by ``method``."""

    values: np.ndarray
    classes: tuple[int, ...]
    method: str = "CAM"

    def for_class(self, index: int) -> np.ndarray | None:
        """The map of class ``index`` as float32 in [0, 1], or None when it was not kept."""
        try:
            row = self.classes.index(index)
        except ValueError:
            return None
        return self.values[row].astype(np.float32) / 255.0

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


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
    read_ms: float = 0.0  # of decode_ms, reading the file (GPU decoding: read on a thread)
    # Kept from the same forward pass when the run asks (Classifier(keep=...)): the vector the
    # classification layer sees (float16, 1-D) and the class-activation maps.
    embedding: np.ndarray | None = field(default=None, compare=False)
    maps: KeptMaps | None = field(default=None, compare=False)

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
    skipped: int  # candidates that could not be decoded (failed rows)
    ignored: int  # other files skipped by the listing, for a reason shown (videos, sidecars...)
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
    decode: str = "cpu"  # where JPEGs were decoded: "cpu" (Pillow) or "gpu" (on the device)
    hidden: int = 0  # hidden files and folders, macOS resource forks: skipped quietly
    scan_errors: tuple[str, ...] = ()  # folders that could not be listed, missing paths
    warnings: tuple[str, ...] = ()  # e.g. a model that cannot tell its classes apart
    model: dict | None = None  # ModelIdentity.to_dict() of the model that made these results
    engine: str = "torch"  # "torch" | "onnxruntime"
    engine_note: str = ""  # why not ONNX Runtime (a fallback), or int8's measured agreement
    # The files the listing skipped, by reason (each names its files: --list-skipped).
    skipped_groups: tuple[SkippedGroup, ...] = ()
    multi_frame: int = 0  # animations and multi-page files: their first frame was classified

    def line(self) -> str:
        what = "Cancelled after" if self.cancelled else "Classified"
        extra = [f"{self.skipped} could not be read"]
        if self.ignored:
            extra.append(f"{self.ignored} other file{'s' if self.ignored != 1 else ''} skipped")
        return (
            f"{what} {self.processed} of {self.images} images ({', '.join(extra)}) in "
            f"{self.total_s:.1f} s: {self.images_per_s:.1f} images/s; "
            f"inference {self.mean_ms:.1f} ms/image (median {self.median_ms:.1f}, p95 "
            f"{self.p95_ms:.1f}), decode {self.decode_ms:.1f} ms/image"
            f"{' (on the GPU)' if self.decode == 'gpu' else ''}; {self.arch} on "
            f"{self.device_name} ({self.device}), {self.engine}, {self.precision}, "
            f"batch {self.batch_size}" + (f" ({self.engine_note})" if self.engine_note else "")
        )

    def skipped_lines(self) -> list[str]:
        """What the listing skipped, a line per reason ("12 videos (.MOV) skipped"); hidden
        files and resource forks, skipped quietly, share the last line. Then the multi-frame
        files, said once."""
        shown = [g.text for g in self.skipped_groups if not g.quiet]
        quiet = [g.text.removesuffix(" skipped") for g in self.skipped_groups if g.quiet]
        if quiet:
            shown.append(f"({' and '.join(quiet)} skipped)")
        if self.multi_frame:
            n = self.multi_frame
            shown.append(
                f"{n} animation{'s' if n != 1 else ''} or multi-page file{'s' if n != 1 else ''}:"
                " the first frame was classified"
            )
        return shown

    def skipped_files(self) -> list[tuple[str, str]]:
        """(path, reason as a person reads it) of every skipped file named, by reason."""
        return [(path, g.label) for g in self.skipped_groups for path in g.paths]

    def to_dict(self) -> dict:
        """The fields as JSON values; each skipped group without its paths."""
        out = asdict(self)
        out["skipped_groups"] = [g.to_dict() for g in self.skipped_groups]
        return out


SAME_LABEL_MIN_IMAGES = 20  # below this, one label for every image may well be right


class OutputCheck:
    """Watches a run's predictions (without keeping them) for a model that cannot tell its
    classes apart: every class gets the same probability on every image, or one class wins on
    every image of a sizeable folder."""

    def __init__(self, num_classes: int, tolerance: float = 1e-6):
        self.num_classes = num_classes
        self.tolerance = tolerance
        self.images = 0
        self.all_flat = True
        self.labels: set[str] = set()

    def add(self, p: Prediction) -> None:
        if not p.ok:
            return
        self.images += 1
        flat = abs((p.confidence or 0.0) - 1.0 / self.num_classes) < self.tolerance
        self.all_flat = self.all_flat and flat
        if len(self.labels) < 2:
            self.labels.add(p.label or "")

    def warnings(self) -> list[str]:
        if self.images < 2 or self.num_classes < 2:
            return []
        if self.all_flat:
            return [
                f"The model gives all {self.num_classes} classes the same probability "
                f"({1 / self.num_classes:.0%}) on every image: it cannot tell them apart, so its "
                "labels mean nothing. Check the checkpoint (a head never trained?) and its "
                "preprocessing."
            ]
        if self.images >= SAME_LABEL_MIN_IMAGES and len(self.labels) == 1:
            return [
                f"Every one of the {self.images} images got the label '{next(iter(self.labels))}'"
                ": unless the folder really holds only that class, the model cannot tell the "
                "classes apart."
            ]
        return []


class RunTally:
    """What a run counts as its predictions come, the same for a run on this machine
    (core.runtime.inference) and on a cluster (core.cluster.pipeline): images done and
    classified, each one's inference and decode times, and the model check (OutputCheck);
    :meth:`figures` gives the RunSummary's counts and times."""

    def __init__(self, num_classes: int):
        self.check = OutputCheck(num_classes)
        self.infer_ms, self.decode_ms = array("d"), array("d")
        self.done = self.processed = 0

    def add(self, predictions) -> None:
        for p in predictions:
            self.check.add(p)
            self.decode_ms.append(p.decode_ms)
            if p.ok:
                self.processed += 1
                self.infer_ms.append(p.infer_ms)
        self.done += len(predictions)

    def figures(self, elapsed: float) -> dict:
        """RunSummary's fields that come from the tally (``warnings`` included)."""
        times = sorted(self.infer_ms)
        return dict(
            processed=self.processed,
            skipped=self.done - self.processed,
            total_s=elapsed,
            images_per_s=self.done / elapsed if elapsed > 0 else 0.0,
            mean_ms=statistics.fmean(times) if times else 0.0,
            median_ms=statistics.median(times) if times else 0.0,
            p95_ms=times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)] if times else 0.0,
            decode_ms=statistics.fmean(self.decode_ms) if self.decode_ms else 0.0,
            warnings=tuple(self.check.warnings()),
        )
