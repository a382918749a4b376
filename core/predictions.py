"""The records a classification run yields: one :class:`Prediction` per image, a
:class:`BatchResult` per batch, and the run's :class:`RunSummary` (its timings, device, counts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .images import Thumbnail


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
    decode: str = "cpu"  # where JPEGs were decoded: "cpu" (Pillow) or "gpu" (on the device)
    hidden: int = 0
    scan_errors: tuple[str, ...] = ()  # folders that could not be listed, missing paths
    engine: str = "torch"  # "torch" | "onnxruntime"
    engine_note: str = ""  # why not ONNX Runtime (a fallback), or int8's measured agreement

    def line(self) -> str:
        what = "Cancelled after" if self.cancelled else "Classified"
        extra = [f"{self.skipped} skipped"]
        if self.ignored:
            extra.append(f"{self.ignored} non-image file{'s' if self.ignored != 1 else ''} ignored")
        return (
            f"{what} {self.processed} of {self.images} images ({', '.join(extra)}) in "
            f"{self.total_s:.1f} s: {self.images_per_s:.1f} images/s; "
            f"inference {self.mean_ms:.1f} ms/image (median {self.median_ms:.1f}, p95 "
            f"{self.p95_ms:.1f}), decode {self.decode_ms:.1f} ms/image"
            f"{' (on the GPU)' if self.decode == 'gpu' else ''}; {self.arch} on "
            f"{self.device_name} ({self.device}), {self.engine}, {self.precision}, "
            f"batch {self.batch_size}" + (f" ({self.engine_note})" if self.engine_note else "")
        )

    def to_dict(self) -> dict:
        return asdict(self)
