"""What the cluster's workers run, with no Ray in sight (so it is tested without a cluster):

* :func:`decode_batch`: the decode stage. Paths -> the model's crops (our preprocessing,
  core.data.images, exactly as a local run), a file that cannot be read or decoded becoming a
  row with its one-line reason, never an exception that would end the job;
* :class:`ModelPackage`: what a model worker needs, made once where the run starts and shipped
  to every worker: the ONNX graph (an ``.onnx`` model, or a checkpoint's export, fp32 or int8)
  with its class names, preprocessing and how it is fed, so a CPU worker runs it on ONNX
  Runtime without torch; or the torch model itself for a worker with a GPU (or ``--engine
  torch``), which plans its own device;
* :func:`classify_batch`: the model stage. Crops -> top-k indices and scores (failed rows
  pass through);
* :func:`predictions_of`: the rows back into the :class:`Prediction` records of a local run.

A batch is a dict of equal-length numpy columns (Ray Data's ``numpy`` batch format).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..data.images import decode_image
from ..data.preprocessing import crop_array
from ..errors import ImageLoadError, first_line
from ..models.transforms import TransformSpec
from ..results.predictions import Prediction
from .sources import is_uri, read_uri

if TYPE_CHECKING:
    from ..models.loaded import LoadedModel
    from ..runtime.onnx_engine import OrtGraph
    from ..runtime.options import RunOptions

log = logging.getLogger(__name__)

NO_ERROR = ""  # the error column of a good row (Arrow keeps a string column's type that way)


def decode_batch(batch: dict[str, np.ndarray], transform: TransformSpec, draft: bool) -> dict:
    """Decode stage: ``{"index", "path"}`` -> the same with ``crop`` (uint8, N x 3 x crop x
    crop; zeros on a failed row), ``error`` (the reason, or ""), ``multi_frame`` (an animation
    or multi-page file: its first frame) and ``decode_ms``. As a local run decodes
    (core.data.images.decode_image, crop_array); a URI's bytes are read through pyarrow into a
    temp file of the same name first, so every reader and every reason is the local one."""
    paths = [str(p) for p in batch["path"]]
    n = len(paths)
    crops = np.zeros((n, 3, transform.crop, transform.crop), np.uint8)
    errors = np.full(n, NO_ERROR, dtype=object)
    multi_frame = np.zeros(n, np.bool_)
    decode_ms = np.zeros(n, np.float64)
    draft_size = transform.resize if draft else None
    with tempfile.TemporaryDirectory(prefix="pigeonhole-decode-") as folder:
        for i, path in enumerate(paths):
            t0 = time.perf_counter()
            try:
                local = _fetched(path, Path(folder)) if is_uri(path) else path
                decoded = decode_image(local, draft_size)
                crops[i] = crop_array(decoded.image, transform)
                multi_frame[i] = decoded.multi_frame
            except ImageLoadError as e:
                errors[i] = str(e)
            except Exception as e:  # a decoder bug on a weird file must not end the job
                log.debug("unexpected error decoding %s", path, exc_info=True)
                errors[i] = f"cannot decode ({first_line(e, typed=True)})"
            decode_ms[i] = (time.perf_counter() - t0) * 1000
    return {
        "index": np.asarray(batch["index"], np.int64),
        "path": np.asarray(paths, dtype=object),
        "crop": crops,
        "error": errors,
        "multi_frame": multi_frame,
        "decode_ms": decode_ms,
    }


def _fetched(uri: str, folder: Path) -> Path:
    """The object at ``uri`` as a file in ``folder``, under its own name (the readers go by the
    name's extension too); the previous one is gone."""
    for old in folder.iterdir():
        old.unlink()
    local = folder / uri.rstrip("/").rsplit("/", 1)[-1]
    local.write_bytes(read_uri(uri))
    return local


class WorkerModel(Protocol):
    """A model as a worker runs it: uint8 crops (N, 3, H, W) -> top-k (scores, indices)."""

    def classify(self, crops: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


def classify_batch(batch: dict[str, np.ndarray], model: WorkerModel, k: int, node: str) -> dict:
    """Model stage: the decoded batch -> result rows: ``index``, ``path``, ``error``,
    ``decode_ms``, ``infer_ms`` (the batch's time / its good rows), ``top_index`` and
    ``top_score`` (N x k; -1 and NaN on failed rows), ``multi_frame`` and ``node`` (which did
    the work)."""
    errors = np.asarray(batch["error"], dtype=object)
    n = len(errors)
    ok = errors == NO_ERROR
    top_index = np.full((n, k), -1, np.int64)
    top_score = np.full((n, k), np.nan, np.float32)
    infer_ms = np.zeros(n, np.float64)
    good = int(ok.sum())
    if good:
        t0 = time.perf_counter()
        scores, indices = model.classify(np.ascontiguousarray(batch["crop"][ok]), k)
        infer_ms[ok] = (time.perf_counter() - t0) * 1000 / good
        top_score[ok] = scores[:, :k]
        top_index[ok] = indices[:, :k]
    return {
        "index": np.asarray(batch["index"], np.int64),
        "path": np.asarray(batch["path"], dtype=object),
        "error": errors,
        "decode_ms": np.asarray(batch["decode_ms"], np.float64),
        "multi_frame": np.asarray(batch["multi_frame"], np.bool_),
        "infer_ms": infer_ms,
        "top_index": top_index,
        "top_score": top_score,
        "node": np.full(n, node, dtype=object),
    }


def predictions_of(rows: dict[str, np.ndarray], class_names: list[str]) -> list[Prediction]:
    """Result rows -> Predictions, as a local run makes them (a failed row has no label, no
    top-k and no inference time)."""
    out = []
    for i in range(len(rows["index"])):
        index, path = int(rows["index"][i]), str(rows["path"][i])
        error = str(rows["error"][i])
        decode_ms = float(rows["decode_ms"][i])
        if error != NO_ERROR:
            out.append(Prediction(index, path, None, None, (), decode_ms, 0.0, error))
            continue
        topk = tuple(
            (class_names[int(j)], float(s))
            for j, s in zip(rows["top_index"][i], rows["top_score"][i], strict=True)
            if j >= 0
        )
        infer_ms = float(rows["infer_ms"][i])
        out.append(Prediction(index, path, topk[0][0], topk[0][1], topk, decode_ms, infer_ms, None))
    return out


# -- the model a worker runs ---------------------------------------------------------------


@dataclass(frozen=True)
class ModelPackage:
    """What a model worker needs, shipped once (``ray.put``). ``onnx``: the graph's bytes (an
    ONNX Runtime worker, no torch); else ``loaded``, the torch model, planned on the worker
    from ``options`` (its own GPU, if any)."""

    class_names: tuple[str, ...]
    transform: TransformSpec
    topk: int
    batch_size: int
    engine: str  # "onnxruntime" | "torch"
    precision: str
    arch: str
    identity: dict  # the model's ModelIdentity.to_dict(), for the run's summary
    onnx: bytes | None = None
    graph: OrtGraph | None = None
    loaded: LoadedModel | None = None
    options: RunOptions | None = None

    def open(self, threads: int) -> WorkerModel:
        """The model, ready on this worker: ONNX Runtime on ``threads`` threads, or torch."""
        if self.onnx is not None:
            return OrtWorkerModel(self, threads)
        return TorchWorkerModel(self, threads)


class OrtWorkerModel:
    """An ONNX graph on ONNX Runtime's CPU provider, through the local run's OrtStep (the same
    normalisation, the same way of feeding and reading the graph, softmax top-k): no torch."""

    def __init__(self, package: ModelPackage, threads: int):
        from ..devices import HOST_CPU
        from ..runtime.onnx_engine import OWN_GRAPH, OrtStep, ort_session
        from ..runtime.plan import RunPlan

        with tempfile.TemporaryDirectory(prefix="pigeonhole-model-") as folder:
            path = Path(folder) / "model.onnx"
            path.write_bytes(package.onnx or b"")
            session = ort_session(path, threads)  # read into memory: the file can go
        plan = RunPlan(
            device=HOST_CPU, precision=package.precision, batch_size=package.batch_size,
            decode_workers=1, channels_last=False, gpu_decode=False, forward_streams=1,
            threads_per_stream=threads, engine="onnxruntime",
        )  # fmt: skip
        graph = package.graph or OWN_GRAPH
        self.step = OrtStep(session, plan, package.transform, graph=graph)

    def classify(self, crops: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        top = self.step.classify(crops, k)
        return np.asarray(top.scores), np.asarray(top.indices)


class TorchWorkerModel:
    """A torch model, planned for this worker (its GPU when it has one), through the local
    run's Classifier step."""

    def __init__(self, package: ModelPackage, threads: int):
        import torch

        from ..runtime.inference import Classifier

        if threads:
            torch.set_num_threads(threads)
        assert package.loaded is not None
        self.clf = Classifier(package.loaded, package.options, topk=package.topk)

    def classify(self, crops: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from ..runtime.step import pin

        top = self.clf.step.classify(pin(torch.from_numpy(crops), self.clf.device), k)
        return _on_host(top.scores, np.float32), _on_host(top.indices, np.int64)


def _on_host(values: Any, dtype) -> np.ndarray:
    """Top-k values as a numpy array: a step's tensors (on their device, fp16 perhaps), or the
    arrays ONNX Runtime's step gives where the worker's plan chose it."""
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False)
    return values.detach().cpu().numpy().astype(dtype, copy=False)


# -- made where the run starts ------------------------------------------------------------


def package_model(loaded: LoadedModel, clf: Any, options: RunOptions | None) -> ModelPackage:
    """The package of a run's model as the local run would run it: ``clf`` is its
    :class:`~core.runtime.inference.Classifier` (which chose the engine and precision, exported
    the network and calibrated int8 where asked). On ONNX Runtime the graph it runs is
    shipped; on torch, the model (``options`` planned again on each worker)."""
    from ..runtime.onnx_engine import OrtStep

    common = dict(
        class_names=tuple(clf.class_names), transform=clf.transform, topk=clf.topk,
        batch_size=clf.batch_size, precision=clf.precision, arch=loaded.arch,
        identity=loaded.identity().to_dict(),
    )  # fmt: skip
    if isinstance(clf.step, OrtStep):
        graph_file = onnx_file_of(loaded, clf)
        return ModelPackage(
            **common, engine="onnxruntime", onnx=graph_file.read_bytes(), graph=clf.step.graph
        )
    return ModelPackage(**common, engine="torch", loaded=loaded, options=options)


def gpu_package(loaded: LoadedModel, options: RunOptions, topk: int) -> ModelPackage:
    """The package of a torch model for workers with GPUs: each plans its own device, precision
    and batch size (the machine starting the run may have no GPU to plan with)."""
    names = tuple(loaded.class_names)
    return ModelPackage(
        class_names=names, transform=loaded.transform, topk=max(1, min(topk, len(names))),
        batch_size=options.batch_size, engine="torch", precision=options.precision,
        arch=loaded.arch, identity=loaded.identity().to_dict(), loaded=loaded, options=options,
    )  # fmt: skip


def onnx_file_of(loaded: LoadedModel, clf: Any) -> Path:
    """The ONNX file ``clf`` runs: the model file itself, or the export in the engine cache,
    and their int8 versions when it runs int8."""
    from ..runtime.onnx_run import int8_folder
    from ..runtime.options import INT8

    if loaded.is_onnx:
        return int8_folder(loaded.model).int8 if clf.precision == INT8 else loaded.model.path
    exported = clf.step.exported
    return exported.int8 if clf.precision == INT8 else exported.fp32


def worker_threads(cpus: float) -> int:
    """ONNX Runtime or torch threads for a model worker on a node with ``cpus`` CPUs (as Ray
    counts them there: at least one)."""
    return max(1, int(round(cpus)))
