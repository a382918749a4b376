"""Opt-in int8 on the CPU: ONNX Runtime static quantisation (QDQ: int8 per-channel weights,
uint8 activations), calibrated on a few dozen of the user's own images, chosen once and cached
with the model (core.runtime.onnx_engine's folder for those weights).

How far int8 drifts from fp32 depends on the model and the images, so its top-1 agreement with
fp32 is measured on other images from the same folder (held out from calibration) and shown
before the user relies on it. ONNX Runtime rather than torch's FX int8: one engine for fp32 and
int8 (see benchmarks/bench_int8.py for the two measured side by side).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.images import load_image
from ..data.listing import iter_image_files
from ..data.preprocessing import crop_array
from ..devices import cpu_flags
from ..errors import DataError, EngineError, ImageLoadError, first_line
from ..models.transforms import TransformSpec
from .onnx_engine import OWN_GRAPH, ExportedModel, OrtGraph, graph_input, ort_session

log = logging.getLogger(__name__)

CALIBRATION_IMAGES = 32
HOLDOUT_IMAGES = 32
_CANDIDATES = 512  # images listed to choose from (spread over them, not just the first ones)
_CALIBRATION_BATCH = 8


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    """uint8 crops to calibrate on, and others held out to measure agreement on."""

    calibrate: np.ndarray  # uint8 (N, 3, crop, crop)
    holdout: np.ndarray  # uint8 (M, 3, crop, crop); M may be 0
    source: str  # where they came from, for the person


def calibration_set(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    transform: TransformSpec,
    calibrate: int = CALIBRATION_IMAGES,
    holdout: int = HOLDOUT_IMAGES,
) -> CalibrationSet:
    """Images spread over (up to the first 512 of) ``paths``: every other one calibrates, the
    rest are held out. Raises :class:`DataError` when no image there can be read."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = list(paths)
    files = list(itertools.islice(iter_image_files(paths), _CANDIDATES))
    stride = max(1, len(files) // (calibrate + holdout))
    crops: list[np.ndarray] = []
    for f in files[::stride]:
        try:
            crops.append(crop_array(load_image(f, draft_size=transform.resize), transform))
        except ImageLoadError:
            continue
        if len(crops) >= calibrate + holdout:
            break
    if not crops:
        raise DataError("int8 calibrates on your images, but none could be read there.")
    cal, held = crops[0::2][:calibrate], crops[1::2][:holdout]
    where = ", ".join(str(p) for p in paths[:2]) + (" ..." if len(paths) > 2 else "")
    empty = np.empty((0, *crops[0].shape), dtype=np.uint8)
    return CalibrationSet(np.stack(cal), np.stack(held) if held else empty, where)


def quantize_int8(
    cached: ExportedModel,
    transform: TransformSpec,
    calibration: Callable[[], CalibrationSet],
    on_stage: Callable[[str], None] | None = None,
    graph: OrtGraph = OWN_GRAPH,
) -> tuple[Path, str]:
    """The int8 ONNX file for the fp32 graph of ``cached`` (quantised now only if the cache
    lacks it) and the line that tells the user its measured agreement with fp32. ``graph``:
    how the graph is fed and read (another tool's ONNX model has its own names)."""
    if not cached.int8.is_file():
        calib = calibration()
        if on_stage is not None:
            on_stage(f"Calibrating int8 on {len(calib.calibrate)} of your images (once)")
        t0 = time.perf_counter()
        cached.folder.mkdir(parents=True, exist_ok=True)
        _quantize(cached, calib.calibrate, transform, graph)
        same, total = _agreement(cached, calib.holdout, transform, graph)
        cached.update_manifest(
            int8={
                "calibrated_on": calib.source,
                "calibration_images": len(calib.calibrate),
                "holdout_images": total,
                "holdout_agree": same,
                "quantize_s": round(time.perf_counter() - t0, 2),
            }
        )
    return cached.int8, int8_note(cached.manifest().get("int8", {}))


def int8_note(info: dict) -> str:
    """The line telling the user int8's measured agreement with fp32 ("int8: top-1 agrees
    with fp32 on 31 of 32 held-out images (96.9 %) ..."), from the manifest's record."""
    total, same = int(info.get("holdout_images", 0)), int(info.get("holdout_agree", 0))
    where = info.get("calibrated_on", "?")
    if not total:
        return (f"int8: agreement with fp32 not measured (too few images in {where} to hold "
                "some out); check a few results against fp32")  # fmt: skip
    return (
        f"int8: top-1 agrees with fp32 on {same} of {total} held-out images "
        f"({100 * same / total:.1f} %) from {where} (calibrated on "
        f"{info.get('calibration_images', '?')} others)"
    )


class _QuantiserNotes(logging.Filter):
    """ONNX Runtime's quantiser warns on the root logger about details nobody can act on (no
    per-channel axis on a LayerNorm's 1-D weight...): while it runs, they go to this module's
    debug log instead of the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "onnxruntime" in record.pathname and record.levelno < logging.ERROR:
            log.debug("onnxruntime quantiser: %s", record.getMessage())
            return False
        return True


def _inputs(crops: np.ndarray, transform: TransformSpec, graph: OrtGraph) -> Iterator[np.ndarray]:
    """The graph's inputs for ``crops``, a batch at a time (its own batch size when fixed)."""
    size = graph.batch or _CALIBRATION_BATCH
    for start in range(0, len(crops), size):
        x = graph_input(crops[start : start + size], transform, graph)
        if graph.batch and len(x) < graph.batch:
            x = np.concatenate([x, np.zeros((graph.batch - len(x), *x.shape[1:]), x.dtype)])
        yield x


def _quantize(
    cached: ExportedModel, crops: np.ndarray, transform: TransformSpec, graph: OrtGraph
) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = _inputs(crops, transform, graph)

        def get_next(self):
            x = next(self.batches, None)
            return None if x is None else {graph.input: x}

    from onnxruntime.quantization.shape_inference import quant_pre_process

    tmp = cached.folder / f".int8-{os.getpid()}.onnx"
    pre = cached.folder / f".int8-pre-{os.getpid()}.onnx"
    notes = _QuantiserNotes()
    logging.getLogger().addFilter(notes)
    try:
        # ONNX Runtime's advice before quantising: fold constants (conv biases become
        # initializers) and infer shapes, so every convolution gets quantised.
        quant_pre_process(str(cached.fp32), str(pre), skip_symbolic_shape=True)
        quantize_static(
            str(pre),
            str(tmp),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            # Without VNNI, u8 x s8 products can saturate in the 16-bit intermediate: 7-bit
            # weights avoid that (ONNX Runtime's advice for AVX2/AVX-512 without VNNI).
            reduce_range=not ({"avx512_vnni", "avx_vnni"} & cpu_flags()),
            nodes_to_exclude=_extras_only_nodes(pre, graph.output),
        )
        os.replace(tmp, cached.int8)
    except Exception as e:  # the quantiser's own errors: the graph cannot be quantised
        log.debug("int8 quantisation failed", exc_info=True)
        raise EngineError(f"int8 quantisation failed ({first_line(e)})") from e
    finally:
        logging.getLogger().removeFilter(notes)
        tmp.unlink(missing_ok=True)
        pre.unlink(missing_ok=True)


def _extras_only_nodes(path: Path, logits: str) -> list[str]:
    """The nodes that only feed a graph's extra outputs (core.runtime.explained: the maps from
    the last feature map, the embedding), left in float32: they cost little, and the maps are
    then the int8 network's own feature map weighted exactly (quantising the gathered head
    weights per channel also failed on ONNX Runtime)."""
    import onnx

    g = onnx.load(str(path), load_external_data=False).graph
    producer = {out: node for node in g.node for out in node.output}

    def ancestors(names: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(names)
        while stack:
            node = producer.get(stack.pop())
            if node is not None and node.name not in seen:
                seen.add(node.name)
                stack.extend(node.input)
        return seen

    extras = [o.name for o in g.output if o.name != logits]
    return sorted(ancestors(extras) - ancestors([logits])) if extras else []


def _agreement(
    cached: ExportedModel, holdout: np.ndarray, transform: TransformSpec, graph: OrtGraph
) -> tuple[int, int]:
    """(held-out images whose int8 top-1 equals fp32's, held-out images)."""
    if not len(holdout):
        return 0, 0
    fp32, int8 = ort_session(cached.fp32, 0), ort_session(cached.int8, 0)
    same, left = 0, len(holdout)
    for x in _inputs(holdout, transform, graph):
        n = min(left, len(x))
        a = fp32.run([graph.output], {graph.input: x})[0][:n].argmax(1)
        b = int8.run([graph.output], {graph.input: x})[0][:n].argmax(1)
        same, left = same + int((a == b).sum()), left - n
    return same, len(holdout)
