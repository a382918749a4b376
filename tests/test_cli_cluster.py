"""`pigeonhole predict --cluster` (issue 26): the same files, columns, order, labels and failed
rows as a local run, as CSV and as Parquet; --evaluate; Ctrl-C keeps what came back; one run
on a cluster it starts itself; without Ray, one line saying what to install."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.checkpoints import save_checkpoint
from tests.core.broken_images import write_corpus

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, decisive):
    """The decisive model as a checkpoint; its classes' photos beside the broken-file corpus."""
    base = tmp_path_factory.mktemp("cli-cluster")
    ckpt = base / "colours.pth"
    save_checkpoint(ckpt, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    folder = make_class_folders(base / "photos", 4, ("red", "green", "blue"), size=(200, 150))
    write_corpus(folder / "corpus")
    return ckpt, folder


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _predict(setup, *extra: str) -> int:
    ckpt, folder = setup
    argv = ["predict", str(folder), "--checkpoint", str(ckpt), "--engine", "onnxruntime",
            "--device", "cpu", "--evaluate", "--quiet", *extra]  # fmt: skip
    return main(argv)


SAME = ("path", "label", "predicted_label", "error", "true_label", "top1_label", "top2_label")


def test_csv_and_parquet_are_the_local_run_s(tmp_path, setup, ray_cluster, capsys):
    import pyarrow.parquet as pq

    assert _predict(setup, "--out", str(tmp_path / "local.csv")) == 0
    local_err = capsys.readouterr().err
    assert _predict(setup, "--cluster", ray_cluster.address, "--out", str(tmp_path / "c.csv")) == 0
    cluster_err = capsys.readouterr().err
    local, cluster = _rows(tmp_path / "local.csv"), _rows(tmp_path / "c.csv")
    assert list(cluster[0]) == list(local[0])  # the same columns, in the same order
    assert [r["path"] for r in cluster] == [r["path"] for r in local]  # listing order
    for a, b in zip(cluster, local, strict=True):
        assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
        if a["predicted_confidence"]:
            assert float(a["predicted_confidence"]) == pytest.approx(
                float(b["predicted_confidence"]), abs=1e-5
            )
    assert any(r["error"] for r in cluster) and any(r["label"] for r in cluster)
    accuracy = next(ln for ln in local_err.splitlines() if "evaluation: accuracy" in ln)
    assert accuracy in cluster_err
    assert "Ray cluster at" in cluster_err and "Traceback" not in cluster_err

    dataset = tmp_path / "dataset"
    argv = ["--cluster", ray_cluster.address, "--out", f"{dataset}/"]
    assert _predict(setup, *argv) == 0
    assert "Parquet file" in capsys.readouterr().err
    table = pq.read_table(dataset)
    assert table.column_names == list(cluster[0])
    parquet = sorted(table.to_pylist(), key=lambda r: r["path"])
    for a, b in zip(parquet, sorted(cluster, key=lambda r: r["path"]), strict=True):
        assert {k: a[k] or "" for k in SAME} == {k: b[k] for k in SAME}


def test_an_onnx_model_runs_on_the_workers_as_locally(tmp_path, setup, ray_cluster, decisive):
    """An .onnx model file is shipped as it is (the workers cannot import torch)."""
    from pigeonhole.core.runtime.network_export import export_model

    _ckpt, folder = setup
    model = tmp_path / "colours.onnx"
    export_model(decisive, "onnx", model)
    runs = {}
    for name, extra in (("local", []), ("cluster", ["--cluster", ray_cluster.address])):
        out = tmp_path / f"{name}.csv"
        argv = ["predict", str(folder), "--checkpoint", str(model), "--quiet", "--out", str(out)]
        assert main(argv + extra) == 0
        runs[name] = [(r["path"], r["label"], r["error"]) for r in _rows(out)]
    assert runs["cluster"] == runs["local"]


def test_ctrl_c_stops_the_job_and_keeps_what_came_back(tmp_path, setup, ray_cluster, capsys,
                                                      monkeypatch):  # fmt: skip
    import pigeonhole.core.cluster.pipeline as pipeline

    calls = []
    real = pipeline.predictions_of

    def interrupted_on_the_second_batch(rows, names):
        calls.append(len(rows["index"]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(rows, names)

    monkeypatch.setattr(pipeline, "predictions_of", interrupted_on_the_second_batch)
    out = tmp_path / "partial.csv"
    argv = ["--cluster", ray_cluster.address, "--out", str(out), "--batch-size", "4"]
    assert _predict(setup, *argv) == 130
    err = capsys.readouterr().err
    assert len(_rows(out)) == calls[0]
    assert f"interrupted; the {calls[0]} results so far are in {out}" in err
    assert "Cancelled after" in err and "Traceback" not in err


def test_without_ray_the_option_says_what_to_install(setup, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    assert _predict(setup, "--cluster", "local") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "pigeonhole: error: --cluster needs Ray Data, which is not installed; install it with: "
        'pip install "pigeonhole[cluster]"'
    ]


@pytest.mark.slow
def test_a_local_cluster_from_the_command_line(tmp_path, setup):
    """What a new user runs first: the command starts a cluster for the run, writes Parquet
    and says where."""
    pytest.importorskip("ray")
    ckpt, folder = setup
    out = tmp_path / "results.parquet"
    cmd = [sys.executable, "-m", "pigeonhole", "predict", str(folder / "red"), "--checkpoint",
           str(ckpt), "--cluster", "local", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert lines[0].startswith("pigeonhole: Ray cluster started for this run: 1 node")
    assert any(ln.startswith("pigeonhole: wrote 4 results to") for ln in lines), done.stderr
    assert any(ln.startswith("Classified 4 of 4 images") for ln in lines), done.stderr
    assert out.is_file() and "Traceback" not in done.stderr


def test_progress_reads_well_in_a_log():
    """Not a terminal: plain lines (done of the total, share, rate, failed), no carriage
    returns; at most one per ``every_s`` (0 here: each update)."""
    import io

    from pigeonhole.commands.predict import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream, enabled=True, lines=True, every_s=0)
    bar.update(50, 200, failed=1)
    bar.update(200, 200, failed=3)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("pigeonhole: 50/200 images (25 %), ") and lines[0].endswith(
        " images/s, 1 failed"
    )
    assert lines[1].startswith("pigeonhole: 200/200 images (100 %)")
