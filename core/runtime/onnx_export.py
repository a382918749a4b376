"""Export a torch network to ONNX for ONNX Runtime (core.runtime.onnx_engine), and the engine
cache: each network is exported once, kept by a hash of its weights in the user's cache folder,
so the same checkpoint is never exported twice.

:func:`export_onnx` is public: `pigeonhole export --format onnx` and the engine both use it.
Anything here that fails raises :class:`EngineError`; the run then goes on torch and says why.
"""

from __future__ import annotations

import contextlib
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
from ..fileio import atomic_write, cache_dir
from .onnx_engine import INPUT, ONNX_OPSET, OUTPUT, ExportedModel, first_line
from .onnx_proto import Pieces, field, with_initializers

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
    fold: bool = True,
) -> Path:
    """Write ``model`` (CPU, float32) as an ONNX graph with a free batch size: input ``input``,
    float32 (N, 3, crop, crop), normalised; output ``output``; ``metadata`` in the file's
    metadata properties (core.models.onnx_models reads them back), ``doc`` its description.
    ``fold``: fold batch norms and constants into the graph here (a tidier file for other
    runtimes); ONNX Runtime folds them itself when it loads the graph, off the GIL, while
    torch's folding passes hold it for 0.1-0.9 s (the engine's export leaves it to ORT).
    Not folded, the graph is exported without its weights, which are added after
    (core.runtime.onnx_proto): torch's serialiser holds the GIL for the whole 45 MB of a
    ResNet-18 otherwise; the file is then written from the weights' own memory, never copied
    (each 45 MB copy held the GIL ~0.1 s on 2 busy cores). The file is written atomically.
    Raises :class:`EngineError` with the reason when the network does not export."""
    path = Path(path)
    params = list(model.parameters())
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params):
        raise EngineError("ONNX export needs the model on the CPU in float32.")
    if sum(p.numel() for p in params) * 4 > _MAX_PROTO_BYTES:
        raise EngineError("the network is over 2 GB, more than one ONNX file holds")
    was_training = model.training
    model.eval()
    # nn.MultiheadAttention's fused inference kernel (ViT, Swin...) has no ONNX form: export
    # the plain attention ops it stands for (ONNX Runtime fuses them again).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    try:
        torch.backends.mha.set_fastpath_enabled(False)
        data: Pieces | None = None
        if not fold:  # the weights after, off torch's call (else as torch writes them)
            try:
                data = with_initializers(
                    _exported(model, crop, opset, False, False), _weights(model)
                )
            except ValueError:
                log.debug("weights not added after the export; torch writes them", exc_info=True)
        if data is None:
            data = [_exported(model, crop, opset, fold, True)]
    except Exception as e:  # any exporter failure means "this network does not export"
        log.debug("ONNX export failed", exc_info=True)
        raise EngineError(f"it does not export to ONNX ({first_line(e)})") from e
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        model.train(was_training)
    if metadata or doc:
        data.append(metadata_fields(metadata or {}, doc))
    with atomic_write(path, "wb") as fh:
        fh.writelines(data)  # each big piece straight to the OS, the GIL let go meanwhile
    return path


def _exported(model: nn.Module, crop: int, opset: int, fold: bool, weights: bool) -> bytes:
    """The bytes torch's TorchScript exporter writes (no onnxscript needed, seconds not
    minutes); ``weights``: with the weights in (torch serialises them holding the GIL)."""
    buffer = io.BytesIO()
    # A network with extra outputs (core.runtime.explained: maps, embedding) names them all.
    names = list(getattr(model, "output_names", [OUTPUT]))
    with warnings.catch_warnings(), torch.no_grad(), _no_onnx_package():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, crop, crop),),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT],
            output_names=names,
            dynamic_axes={name: {0: "batch"} for name in [INPUT, *names]},
            do_constant_folding=fold,
            export_params=weights,
        )
    return buffer.getvalue()


def _weights(model: nn.Module) -> dict[str, object]:
    """The model's weights and buffers by the names the exporter gives its graph inputs, as
    numpy arrays (shared memory, no copy); ValueError for a type numpy has not (bfloat16)."""
    try:
        return {name: t.detach().numpy() for name, t in model.state_dict(keep_vars=True).items()}
    except TypeError as e:
        raise ValueError(str(e)) from e


@contextlib.contextmanager
def _no_onnx_package():
    """While exporting: torch's TorchScript exporter imports the ``onnx`` package after every
    export only to add custom onnxscript functions to the graph (we register none, so it adds
    nothing). Importing ``onnx`` loads ml_dtypes, whose C start-up holds the GIL for 0.4-1.4 s:
    every other thread waits meanwhile, the window's too (its event loop froze on the first
    run of each model, issue 27). The exported bytes go through as they are instead. With a
    torch whose exporter is laid out otherwise, nothing is changed."""
    try:
        from torch.onnx._internal.torchscript_exporter import onnx_proto_utils as proto
    except ImportError:
        proto = None
    original = getattr(proto, "_add_onnxscript_fn", None)
    if original is None:
        yield
        return
    proto._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes
    try:
        yield
    finally:
        proto._add_onnxscript_fn = original


def metadata_fields(metadata: Mapping[str, str], doc: str = "") -> bytes:
    """What, appended to an ONNX file's bytes, adds ``metadata`` to its metadata properties
    and ``doc`` as its description: protobuf fields (ModelProto's
    ``metadata_props`` is field 14, ``doc_string`` field 6; a parser appends repeated fields
    and keeps the last of a single one), so the ``onnx`` package is never imported: loading
    it holds the GIL for up to 1.4 s (see :func:`_no_onnx_package`)."""
    extra = b"".join(
        field(14, field(1, key.encode()) + field(2, value.encode()))
        for key, value in metadata.items()
    )
    if doc:
        extra += field(6, doc.encode())
    return extra


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
    export_onnx(model, cached.fp32, crop, metadata=metadata, fold=False)  # ORT folds, off the GIL
    seconds = time.perf_counter() - t0
    cached.update_manifest(export_s=round(seconds, 2), torch=torch.__version__)
    log.info("exported %s in %.1f s", cached.fp32, seconds)
    return cached.fp32
