"""Classifying on a Ray cluster (issue 26), core: the worker's stages without a cluster, then on
real clusters on this machine: the test session's (tests/conftest.py: 2 CPUs, its workers unable
to import torch: the CPU path is the ONNX graph on ONNX Runtime), clusters started by the run
(shut down after success, failure and cancel) and a two-node cluster (both nodes do work)."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from pigeonhole.core.data.images import load_image
from pigeonhole.core.data.listing import ScanStats, iter_image_files
from pigeonhole.core.data.preprocessing import crop_array
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.errors import ClusterError, ImageLoadError
from tests.core.train_helpers import DECISIVE_CLASSES
from tests.ray_nodes import RayNodes

pytest.importorskip("ray", reason="the cluster extra (ray[data]) is not installed")

from pigeonhole.core.cluster import ray_missing  # noqa: E402
from pigeonhole.core.cluster.parquet import ParquetSink, check_parquet_target  # noqa: E402
from pigeonhole.core.cluster.pipeline import ClusterRun, in_listing_order, plan_sizing  # noqa: E402
from pigeonhole.core.cluster.session import ClusterSession, ClusterShape  # noqa: E402
from pigeonhole.core.cluster.sources import list_sources, read_uri  # noqa: E402
from pigeonhole.core.cluster.worker import (  # noqa: E402
    ModelPackage,
    classify_batch,
    decode_batch,
    package_model,
    predictions_of,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _photos(root: Path) -> Path:
    """Labelled colour photos, a corrupt JPEG and a text file named like a photo."""
    folder = make_class_folders(root, 4, DECISIVE_CLASSES, size=(320, 240), seed=3)
    (folder / "red" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    (folder / "blue" / "notes.jpg").write_text("not a photo")
    return folder


# -- the stages, without a cluster ------------------------------------------------------------


def test_without_ray_the_option_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    problem = ray_missing()
    assert problem is not None and 'pip install "pigeonhole[cluster]"' in problem
    assert "\n" not in problem


def test_decode_batch_is_the_local_preprocessing_and_a_bad_file_is_a_row(tmp_path, decisive):
    folder = _photos(tmp_path / "photos")
    paths = [str(p) for p in iter_image_files([folder])]
    paths.append(str(folder / "green" / "vanished.jpg"))  # listed, then gone
    batch = {"index": np.arange(len(paths)), "path": np.array(paths, dtype=object)}
    out = decode_batch(batch, decisive.transform, draft=True)
    spec = decisive.transform
    for i, path in enumerate(paths):
        try:
            expected = crop_array(load_image(path, draft_size=spec.resize), spec)
        except ImageLoadError as e:
            assert out["error"][i] == str(e)
            continue
        assert out["error"][i] == ""
        assert np.array_equal(out["crop"][i], expected)
    errors = {Path(p).name: e for p, e in zip(paths, out["error"], strict=True) if e}
    assert set(errors) == {"corrupt.jpg", "notes.jpg", "vanished.jpg"}
    assert "moved or deleted" in errors["vanished.jpg"]


class _MeanColour:
    """A stand-in model: the class is the brightest channel."""

    def classify(self, crops, k):
        means = crops.reshape(len(crops), 3, -1).mean(axis=2)
        order = np.argsort(-means, axis=1)[:, :k]
        return np.take_along_axis(means / 255, order, axis=1), order


def test_classify_batch_passes_failed_rows_through():
    crops = np.zeros((3, 3, 4, 4), np.uint8)
    crops[0, 0], crops[2, 2] = 200, 200
    batch = {
        "index": np.array([5, 6, 7]),
        "path": np.array(["a.jpg", "b.jpg", "c.jpg"], dtype=object),
        "crop": crops,
        "error": np.array(["", "corrupt image (x)", ""], dtype=object),
        "multi_frame": np.array([False, False, True]),
        "decode_ms": np.array([1.0, 2.0, 3.0]),
    }
    rows = classify_batch(batch, _MeanColour(), 2, node="n1")
    preds = predictions_of(rows, ["red", "green", "blue"])
    assert [p.index for p in preds] == [5, 6, 7]
    assert [p.label for p in preds] == ["red", None, "blue"]
    assert preds[1].error == "corrupt image (x)" and preds[1].topk == () and preds[1].infer_ms == 0
    assert len(preds[0].topk) == 2 and preds[0].decode_ms == 1.0
    assert list(rows["node"]) == ["n1"] * 3


def test_uri_listing_follows_the_local_rules(tmp_path):
    folder = make_class_folders(tmp_path / "p", {"b": 2, "a10": 1, "a2": 2}, ("b", "a10", "a2"))
    (folder / "a2" / "readme.txt").write_text("x")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "x.jpg").write_bytes(b"x")
    stats = ScanStats()
    listed = list_sources([folder.as_uri()], stats)
    local = [Path(p).resolve().as_uri() for p in iter_image_files([folder])]
    assert listed == local
    assert stats.found == 5 and stats.ignored == 1 and stats.hidden == 1
    assert read_uri(listed[0]) == Path(iter_image_files([folder]).__next__()).read_bytes()
    with pytest.raises(ImageLoadError, match="moved or deleted"):
        read_uri((folder / "gone.jpg").as_uri())


def test_parquet_has_the_csv_columns_as_a_folder_or_a_file(tmp_path):
    import pyarrow.parquet as pq

    from pigeonhole.core.errors import OutputPathError
    from pigeonhole.core.results.predictions import Prediction
    from pigeonhole.core.results.writing import ExportRow, columns

    rows = [
        ExportRow(Prediction(0, "a.jpg", "red", 0.9, (("red", 0.9), ("blue", 0.1)), 1, 2, None)),
        ExportRow(Prediction(1, "b.jpg", None, None, (), 1.5, 0.0, "corrupt image (x)")),
    ]
    for target in (tmp_path / "dataset", tmp_path / "one.parquet"):
        sink = ParquetSink(target, topk=2, truth=False)
        sink.add(rows)
        sink.close()
        table = pq.read_table(target)
        assert table.column_names == columns(2) and table.num_rows == 2
        assert table.column("error").to_pylist() == [None, "corrupt image (x)"]
    with pytest.raises(OutputPathError, match="already holds a Parquet dataset"):
        check_parquet_target(str(tmp_path / "dataset") + "/")


def test_sizing_puts_one_model_worker_on_each_node():
    package = ModelPackage((), None, 1, 16, "onnxruntime", "fp32", "resnet18", {})
    two_small = plan_sizing(ClusterShape(2, 2.0, 0.0, "x", False), [1.0, 1.0], package)
    assert two_small.actors == 2 and 0.5 < two_small.actor_cpus < 1.0
    assert two_small.actor_cpus + two_small.decode_cpus <= 1.0  # decoding still fits beside it
    big = plan_sizing(ClusterShape(3, 48.0, 0.0, "x", False), [16.0] * 3, package)
    assert big.actors == 3 and big.actor_cpus * 2 > 16 and big.threads == 16
    torch_package = ModelPackage((), None, 1, 16, "torch", "fp16", "resnet18", {})
    gpus = plan_sizing(ClusterShape(2, 32.0, 4.0, "x", False), [16.0] * 2, torch_package)
    assert gpus.actors == 4 and gpus.actor_gpus == 1.0


def test_the_torch_package_classifies_as_the_local_run(tmp_path, decisive):
    """What a GPU worker runs (here on the CPU, no cluster): the torch model planned on the
    worker, the same labels as a local run of the same crops."""
    from pigeonhole.core.cluster.worker import gpu_package
    from pigeonhole.core.runtime.inference import classify_paths
    from pigeonhole.core.runtime.options import RunOptions

    folder = make_class_folders(tmp_path / "p", 2, DECISIVE_CLASSES, size=(320, 240))
    paths = [str(p) for p in iter_image_files([folder])]
    package = gpu_package(decisive, RunOptions(device="cpu", engine="torch"), topk=2)
    batch = decode_batch({"index": np.arange(len(paths)), "path": np.array(paths, dtype=object)},
                         package.transform, draft=True)  # fmt: skip
    threads = torch.get_num_threads()
    # threads=0: the test process's torch threads stay as they are (a worker sets its own)
    rows = classify_batch(batch, package.open(threads=0), package.topk, node="n")
    assert torch.get_num_threads() == threads
    preds = predictions_of(rows, list(package.class_names))
    local, _ = classify_paths(decisive, paths, device="cpu", engine="torch", topk=2)
    assert [(p.label, len(p.topk)) for p in preds] == [(p.label, 2) for p in local]
    for a, b in zip(preds, local, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)


# -- on a cluster -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory, decisive):
    """The decisive model as the local run prepares it on ONNX Runtime (its export), packaged
    for the workers, and the local run's Classifier."""
    from pigeonhole.core.runtime.inference import Classifier
    from pigeonhole.core.runtime.options import RunOptions

    options = RunOptions(engine="onnxruntime", device="cpu")
    clf = Classifier(decisive, options, topk=5)
    assert clf.engine == "onnxruntime", clf.engine_note
    return package_model(decisive, clf, options), clf


def _run(where, package, sources, **kw):
    from pigeonhole.core.tasks import run_to_end

    preds = []
    with ClusterSession(where, num_cpus=1) as shape:
        job = ClusterRun(package, shape)
        summary = run_to_end(job.run(sources, **kw), lambda b: preds.extend(b.predictions))
    return in_listing_order(preds), summary, job


def test_cluster_gives_the_local_run_s_rows(tmp_path, ray_cluster, model, monkeypatch):
    import pigeonhole.core.cluster.pipeline as pipeline

    package, clf = model
    folder = _photos(tmp_path / "photos")
    vanishing = folder / "green" / "green_001.jpg"
    local = {p.path: p for p in _local(clf, folder)}

    def list_then_delete(*args):  # listed, then deleted before the workers read it
        listed = real_list(*args)
        vanishing.unlink()
        return listed

    real_list = pipeline.list_sources
    monkeypatch.setattr(pipeline, "list_sources", list_then_delete)
    preds, summary, job = _run(ray_cluster.address, package, [str(folder)])

    assert [p.path for p in preds] == list(local)  # every file exactly one row, in order
    failed = {Path(p.path).name: p.error for p in preds if not p.ok}
    assert set(failed) == {"corrupt.jpg", "notes.jpg", "green_001.jpg"}
    assert "moved or deleted" in failed["green_001.jpg"]
    for p in preds:
        if p.path == str(vanishing):
            continue
        assert p.label == local[p.path].label and p.error == local[p.path].error
        if p.ok:
            assert p.confidence == pytest.approx(local[p.path].confidence, abs=1e-5)
    assert summary.processed == len(preds) - 3 and summary.skipped == 3
    assert summary.engine == "onnxruntime" and not summary.cancelled
    assert sum(job.rows_per_node.values()) == summary.processed


def test_a_uri_source_gives_the_same_rows(tmp_path, ray_cluster, model):
    """file:// goes through pyarrow, as s3:// and gs:// do: the same files, labels and failed
    rows as the folder itself, named by their URIs."""
    package, clf = model
    folder = _photos(tmp_path / "photos")
    local = _local(clf, folder)
    preds, summary, _job = _run(ray_cluster.address, package, [folder.as_uri()])
    assert [p.path for p in preds] == [Path(p.path).resolve().as_uri() for p in local]
    assert [(p.label, p.error) for p in preds] == [(p.label, p.error) for p in local]
    assert summary.skipped == 2


def _local(clf, folder):
    from pigeonhole.core.tasks import run_to_end

    preds = []
    run_to_end(clf.run([folder]), lambda b: preds.extend(b.predictions))
    return preds


def _ray_children() -> list[str]:
    """Ray's processes started by this one (gcs_server, raylet...), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and ("raylet" in cmd or "gcs_server" in cmd):
            found.append(cmd[:80])
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_cluster_the_run_starts_is_shut_down_after_success_failure_and_cancel(tmp_path, model):
    import ray

    package, _clf = model
    folder = make_class_folders(tmp_path / "p", 6, DECISIVE_CLASSES, size=(96, 72))
    seen = []

    # cancel: the first batch back stops the job (as Ctrl-C does)
    stop = {"now": False}

    def progress(done, total):
        seen.append(_ray_children())
        stop["now"] = True

    small_batches = dataclasses.replace(package, batch_size=4)
    preds, summary, _job = _run(
        "local", small_batches, [str(folder)], progress=progress, should_stop=lambda: stop["now"]
    )
    assert seen[0], "the run's own cluster was running"
    assert summary.cancelled and 0 < len(preds) < 18
    assert not ray.is_initialized() and _ray_children() == []
    # success
    preds, summary, _job = _run("local", package, [str(folder)])
    assert len(preds) == 18 and not summary.cancelled
    assert not ray.is_initialized() and _ray_children() == []
    # failure: a graph ONNX Runtime refuses, on every worker
    broken = dataclasses.replace(package, onnx=b"not an onnx graph")
    with pytest.raises(ClusterError, match="cluster run failed"):
        _run("local", broken, [str(folder)])
    assert not ray.is_initialized() and _ray_children() == []


def test_two_nodes_both_classify(tmp_path, model):
    package, _clf = model
    # Batches of 4: fifteen of them for two model workers (one per node: their CPU share does
    # not fit twice on a one-CPU node). With the package's batch size, all 60 images could be
    # one batch for one worker, and the other node would have done nothing (seen in CI).
    package = dataclasses.replace(package, batch_size=4)
    folder = make_class_folders(tmp_path / "p", 20, DECISIVE_CLASSES, size=(96, 72))
    nodes = RayNodes(cpus=1)
    try:
        nodes.add_node(cpus=1)
        preds, summary, job = _run(nodes.address, package, [str(folder)])
    finally:
        nodes.stop()
    assert len(preds) == 60 and summary.processed == 60
    assert job.shape.nodes == 2
    assert len(job.rows_per_node) == 2 and min(job.rows_per_node.values()) > 0, job.rows_per_node
