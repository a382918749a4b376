"""Export a torch network to ONNX for ONNX Runtime (core.runtime.onnx_engine), and the engine
cache: each network is exported once, kept by a hash of its weights in the user's cache folder,
so the same checkpoint is never exported twice.

:func:`export_onnx` is public: `pigeonhole export --format onnx` and the engine both use it.
Anything here that fails raises :class:`EngineError`; the run then goes on torch and says why.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import EngineError
from ..fileio import cache_dir, write_bytes_atomic
from .onnx_engine import INPUT, ONNX_OPSET, OUTPUT, ExportedModel, first_line

log = logging.getLogger(__name__)

_EXPORT_FORMAT = 1  # part of the cache key: bump it when the export changes
_MAX_PROTO_BYTES = 2**31 - 1  # one ONNX file (no external data) holds at most 2 GB


def export_onnx(
    model: nn.Module,
    path: str | Path,
    crop: int = 224,
    *,
    opset: int = ONNX_OPSET,
    metadata: Mapping[str, str] | None = None,
    doc: str = "",
) -> Path:
    """Write ``model`` (CPU, float32) as an ONNX graph with a free batch size: input ``input``,
    float32 (N, 3, crop, crop), normalised; output ``output``; ``metadata`` in the file's
    metadata properties (core.models.onnx_models reads them back), ``doc`` its description.
    The file is written atomically. Raises :class:`EngineError` with the reason when the
    network does not export."""
    path = Path(path)
    params = list(model.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        raise EngineError("ONNX export needs the model on the CPU in float32.")
    if sum(p.numel() for p in params) * 4 > _MAX_PROTO_BYTES:
        raise EngineError("the network is over 2 GB, more than one ONNX file holds")
    was_training = model.training
    model.eval()
    buffer = io.BytesIO()
    example = torch.zeros(1, 3, crop, crop)
    # nn.MultiheadAttention's fused inference kernel (ViT, Swin...) has no ONNX form: export
    # the plain attention ops it stands for (ONNX Runtime fuses them again).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow
            torch.onnx.export(
                model,
                (example,),
                buffer,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed, seconds not minutes
                opset_version=opset,
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
            )
    except Exception as e:  # any exporter failure means "this network does not export"
        log.debug("ONNX export failed", exc_info=True)
        raise EngineError(f"it does not export to ONNX ({first_line(e)})") from e
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        model.train(was_training)
    data = buffer.getvalue()
    if metadata or doc:
        data = with_metadata(data, metadata or {}, doc)
    write_bytes_atomic(path, data)
    return path


def with_metadata(data: bytes, metadata: Mapping[str, str], doc: str = "") -> bytes:
    """An ONNX file's bytes with ``metadata`` added to its metadata properties."""
    import onnx

    proto = onnx.load_from_string(data)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    if doc:
        proto.doc_string = doc
    return proto.SerializeToString()


def engine_cache(arch: str, weights: str, output: str, crop: int) -> ExportedModel:
    """Where the export of these weights lives: the key covers the weights' hash, what the
    graph outputs ("logits" or "features"), the input size and the exporter's version."""
    desc = f"{arch}|{weights}|{output}|{crop}|{ONNX_OPSET}|{_EXPORT_FORMAT}|{torch.__version__}"
    key = hashlib.sha1(desc.encode()).hexdigest()[:24]
    return ExportedModel(cache_dir() / "onnx" / f"{arch}-{output}-{key}")


def ensure_exported(
    model: nn.Module,
    cached: ExportedModel,
    crop: int,
    on_stage: Callable[[str], None] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """The fp32 ONNX file of ``model``, exported now only if the cache does not have it, with
    ``metadata`` inside (the class names and preprocessing of the model first exported)."""
    if cached.fp32.is_file():
        return cached.fp32
    if on_stage is not None:
        on_stage("Exporting the network to ONNX (once for these weights)")
    t0 = time.perf_counter()
    export_onnx(model, cached.fp32, crop, metadata=metadata)
    seconds = time.perf_counter() - t0
    cached.update_manifest(export_s=round(seconds, 2), torch=torch.__version__)
    log.info("exported %s in %.1f s", cached.fp32, seconds)
    return cached.fp32
