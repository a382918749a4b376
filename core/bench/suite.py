"""`pigeonhole bench` in one run: model-only vs pipeline vs the naive loop (measured by
core.bench.measure).

All three see the same images with the same torch thread settings:
* naive loop: what the classic inference script does, one image at a time: ``Image.open``,
  torchvision ``transforms``, forward under ``no_grad``, fp32, the model as loaded;
* model only: the same images preprocessed into memory first, batched forward only;
* pipeline: :class:`core.runtime.inference.Classifier` over the files (decode overlapped with compute).
On the CPU every engine and precision is measured side by side (torch fp32, ONNX Runtime fp32
and int8, calibrated on the same folder). Top-1 agreement and the largest logit difference
against the naive loop (torch fp32) are reported, plus the agreement of Pillow draft-mode
decoding with full decoding on large JPEGs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..devices import device_name, has_amx, resolve_device
from ..errors import DataError, ImageLoadError
from ..models.archs import build_model, get_arch
from .measure import (
    compare,
    decode_ceiling_cpu,
    decode_ceiling_device,
    draft_agreement,
    model_only,
    naive_loop,
    pipeline,
)

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
    rows: list[dict] = field(default_factory=list)  # one per engine and precision (decoder on CUDA)
    draft: dict | None = None
    decode: dict = field(default_factory=dict)  # decoding ceilings, images/s
    formats: list[dict] = field(default_factory=list)  # decode ms per format (core.bench.formats)
    keep: list[dict] = field(
        default_factory=list
    )  # maps + embeddings kept vs not (core.bench.keep)

    def to_dict(self) -> dict:
        return asdict(self)


def bf16_is_fast() -> bool:
    """bf16 pays off on CPUs with AMX tiles; without them (AVX512-BF16 only) it measured 2x
    slower than fp32 here, so the default bench leaves it out."""
    return has_amx()


def load_bench_model(arch: str, checkpoint: str | None, preprocessing=None, classes: int = 1000):
    """The checkpoint, else cached ImageNet weights, else random weights with a fixed seed (a
    head of ``classes``: what a run keeps of each image depends on it); with the user's
    ``preprocessing`` (a PreprocessingOverride) when given."""
    from ..models.checkpoints import (
        LoadedModel,
        ModelSource,
        apply_preprocessing,
        imagenet_weights_cached,
        load_model,
    )

    if checkpoint:
        return load_model(
            ModelSource(checkpoint=checkpoint, arch=arch, preprocessing=preprocessing)
        ).require_torch("The benchmark")
    spec = get_arch(arch)
    if classes == 1000 and spec.has_pretrained and imagenet_weights_cached(spec.name):
        return load_model(ModelSource(arch=spec.name, preprocessing=preprocessing))
    torch.manual_seed(0)  # offline: random weights with a fixed seed (stated in the output)
    model = build_model(spec.name, classes)
    names = [f"class_{i}" for i in range(classes)]
    loaded = LoadedModel(model, spec.name, names, spec.transform, "random weights (seed 0)")
    apply_preprocessing(loaded, preprocessing)
    return loaded


def default_images(device: torch.device) -> int:
    """Enough images to time: 96 on a CPU (under a minute); 2,048 on a GPU (eight batches)."""
    return 2048 if device.type == "cuda" else 96


def run_bench(
    folder: str | None = None,
    arch: str = "resnet18",
    checkpoint: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 0,
    workers: int = 0,
    images: int = 0,
    extra_bf16: bool | None = None,
    draft: bool = True,
    decode: str = "auto",
    preprocessing=None,
    engine: str = "all",
    out=print,
    formats: bool = True,
    keep_repeats: int = 0,
    classes: int = 1000,
) -> BenchResult:
    """Measure and print (through ``out``) the naive loop, decoding ceilings, model-only and
    the pipeline on the same images, for each engine and precision (``engine`` "all": every
    one this device has); on CUDA also the Pillow-fed pipeline, GPU decoding's agreement with
    it and peak GPU memory; then (``formats``) decode ms per format: JPEG, HEIC, PNG, WebP, AVIF,
    DNG. ``preprocessing``: the user's PreprocessingOverride. ``keep_repeats``: also time
    each engine's run with maps and embeddings kept against one without, interleaved that
    many times (core.bench.keep). ``classes``: the random head's (no checkpoint)."""
    from ..runtime.inference import Classifier
    from ..runtime.options import RunOptions

    loaded = load_bench_model(arch, checkpoint, preprocessing, classes)
    out(loaded.preprocessing_line())
    dev = resolve_device(device)
    images = images or default_images(dev)
    with _bench_folder(folder, images, out) as folder_path:
        files, unreadable = _readable_files(folder_path, images)
        # The naive loop first, on the model exactly as loaded (the pipeline may switch it to
        # channels_last in place).
        naive_ips, naive_logits = naive_loop(loaded.model, files, loaded.transform, dev)

        def classifier(prec: str, eng: str, dec: str = decode, **kw) -> Classifier:
            options = RunOptions(str(dev), eng, prec, dec, batch_size, workers)
            kw = kw or {"topk": 1, "keep_logits": True}
            return Classifier(loaded, options, calibration=[folder_path],
                              on_stage=lambda text: out(f"  ({text}...)"), **kw)  # fmt: skip

        runs = bench_runs(dev, precision, engine, extra_bf16, out)
        clf = classifier(*runs[0])
        res = _bench_result(loaded, files, clf, out)
        if unreadable:
            out(f"  ({unreadable} unreadable files left out)")
        res.naive_ips = naive_ips
        out(f"  naive loop (PIL + transforms, batch 1, fp32): {naive_ips:7.1f} img/s")
        res.decode = _decode_ceilings(clf, files, loaded.transform, out)
        for i, (prec, eng) in enumerate(runs):
            c = clf if i == 0 else classifier(prec, eng)
            res.rows.append(_measure(c, files, naive_ips, naive_logits, out))
        if loaded.source.startswith("random") and any(p == "int8" for p, _ in runs):
            out("  (random weights: int8's agreement says little; give a trained --checkpoint)")
        if clf.plan.gpu_decode:  # the same run fed by Pillow, to compare
            pillow = classifier(precision, "torch", "cpu")
            res.rows.append(_pillow_fed(pillow, res.rows[0], files, naive_ips, naive_logits, out))
        for row in res.rows:
            row.pop("_logits", None)
        if keep_repeats:
            from .keep import keep_costs

            res.keep = keep_costs(classifier, runs, files, keep_repeats, out)
        if draft:
            res.draft = _draft(loaded, None if folder is None else folder_path, out)
        if formats:
            from .formats import decode_costs, table_head

            out(table_head(loaded.transform))
            res.formats = [r.to_dict() for r in decode_costs(loaded.transform, 3, out=out)]
        return res


@contextlib.contextmanager
def _bench_folder(folder: str | None, images: int, out) -> Iterator[Path]:
    """``folder``, or a temporary one of ``images`` generated photos, removed afterwards."""
    if folder is not None:
        yield Path(folder)
        return
    from ..data.synthetic import make_photo_folder

    with tempfile.TemporaryDirectory(prefix="pigeonhole-bench-") as tmp:
        out(f"Generating {images} photo-sized JPEGs (500x375)...")
        make_photo_folder(Path(tmp), images)
        yield Path(tmp)


def _readable_files(folder: Path, images: int) -> tuple[list[Path], int]:
    """Up to ``images`` files that decode, and how many did not (the naive loop has no error
    handling: time decodable images only)."""
    from ..data.images import load_image
    from ..data.listing import iter_image_files

    files, unreadable = [], 0
    for f in iter_image_files([folder]):
        try:
            load_image(f)
        except ImageLoadError:
            unreadable += 1
            continue
        files.append(f)
        if len(files) >= images:
            break
    if not files:
        raise DataError(f"No readable images found in {folder}.")
    return files, unreadable


def _bench_result(loaded, files: list[Path], clf, out) -> BenchResult:
    """The run's setting (model, images, device, threads, batch), printed as its first line."""
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
    return res


def _decode_ceilings(clf, files: list[Path], transform, out) -> dict:
    """How fast decoding alone goes: Pillow on the run's threads, and nvJPEG where it decodes."""
    ceilings = {"cpu_threads": clf.workers,
                "cpu_ips": decode_ceiling_cpu(files, transform, clf.workers)}  # fmt: skip
    out(f"  decode ceiling, Pillow on {clf.workers} threads:    {ceilings['cpu_ips']:7.1f} img/s")
    if clf.plan.gpu_decode:
        ceilings["gpu_ips"] = decode_ceiling_device(
            files, transform, clf.device, clf.batch_size, clf.workers
        )
        out(f"  decode ceiling, on the GPU (nvJPEG):        {ceilings['gpu_ips']:7.1f} img/s")
    return ceilings


def _pillow_fed(pillow, gpu_row: dict, files, naive_ips, naive_logits, out) -> dict:
    """The Pillow-fed run's row, with its top-1 agreement with the GPU-decoded run (whose
    logits are dropped from its row)."""
    row = _measure(pillow, files, naive_ips, naive_logits, out, label="Pillow-fed")
    ours = torch.tensor(gpu_row.pop("_logits"))
    row["gpu_vs_pillow_top1_pct"], _ = compare(ours, torch.tensor(row["_logits"]))
    out(
        f"    GPU-decoded vs Pillow-fed pipeline: top-1 identical {row['gpu_vs_pillow_top1_pct']:.1f}%"
    )
    return row


def _draft(loaded, folder: Path | None, out) -> dict:
    """Draft-mode JPEG decoding against full decoding (on generated JPEGs when ``folder`` is
    None)."""
    d = draft_agreement(loaded, folder)
    out(
        f"  draft decode ({d['images']} JPEGs {d['size']}{', generated' if d['generated'] else ''}): "
        f"{d['full_ms']:.1f} -> {d['draft_ms']:.1f} ms/image decode+crop, "
        f"top-1 agreement with full decoding {d['top1_agreement']:.1f}% "
        f"(draft is used only for JPEGs >= 3x the resize size)"
    )
    return d


def bench_runs(
    device: torch.device, precision: str, engine: str, extra_bf16: bool | None, out=print
) -> list[tuple[str, str]]:
    """(precision, engine) pairs to measure. On the CPU with ``engine`` "all": torch fp32,
    ONNX Runtime fp32 and int8 (when installed), and bf16 where AMX makes it pay (or asked)."""
    from ..runtime.plan import onnxruntime_missing

    if engine != "all" or device.type != "cpu":
        return [(precision, "auto" if engine == "all" else engine)]
    if precision not in ("auto", "fp32"):
        return [(precision, "torch" if precision == "bf16" else "auto")]
    runs = [("fp32", "torch")]
    missing = onnxruntime_missing()
    if missing:
        out(f"  (ONNX Runtime not measured: {missing})")
    else:
        runs += [("fp32", "onnxruntime"), ("int8", "onnxruntime")]
    if extra_bf16 or (extra_bf16 is None and bf16_is_fast()):
        runs.append(("bf16", "torch"))
    elif extra_bf16 is None:
        out("  (bf16 not run: this CPU has no AMX, where bf16 is slower than fp32; "
            "--precision bf16 measures it)")  # fmt: skip
    return runs


def _measure(clf, files, naive_ips, naive_logits, out, label: str = "") -> dict:
    """Model-only and pipeline figures of one Classifier, against the naive loop."""
    prec = clf.precision
    name = f"{clf.engine} {prec}{', ' + label if label else ''}"
    mo = model_only(clf, files)
    if clf.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(clf.device)
    pipe, logits, skipped = pipeline(clf, files)
    peak = torch.cuda.max_memory_allocated(clf.device) if clf.device.type == "cuda" else None
    same, maxdiff = compare(logits, naive_logits if not skipped else torch.empty(0))
    row = {
        "engine": clf.engine,
        "engine_note": clf.engine_note,
        "precision": prec,
        "decode": "gpu" if clf.plan.gpu_decode else "cpu",
        "model_only_ips": mo,
        "pipeline_ips": pipe,
        "pipeline_vs_model_only": pipe / mo,
        "pipeline_vs_naive": pipe / naive_ips,
        "top1_identical_pct": same,
        "max_logit_diff": maxdiff,
        "skipped": skipped,
        "peak_gpu_mb": None if peak is None else peak / 2**20,
        "_logits": logits.tolist(),
    }
    if clf.engine_note:
        out(f"  [{name}] {clf.engine_note}")
    out(f"  model only ({name}, in-memory):{' ' * max(1, 18 - len(name))}{mo:7.1f} img/s")
    out(
        f"  pipeline ({name}):{' ' * max(1, 28 - len(name))}{pipe:7.1f} img/s  "
        f"= {pipe / naive_ips:.2f}x naive, {pipe / mo:.0%} of model-only"
    )
    if peak is not None:
        out(f"    peak GPU memory {peak / 2**20:,.0f} MB")
    if not math.isnan(same):
        out(f"    vs naive fp32: top-1 identical {same:.1f}%, max |logit diff| {maxdiff:.2g}")
    return row
