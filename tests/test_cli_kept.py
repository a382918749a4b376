"""`pigeonhole predict --explain DIR --features FILE`: heat maps and embeddings written during a
normal run, from its own forward pass; refused paths before the model loads; a Grad-CAM network
gets its maps on torch; the next run of the checkpoint keeps them without torch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.checkpoints import save_checkpoint
from tests.core.torch_blocked import run_blocked
from tests.core.train_helpers import DECISIVE_CLASSES, small_base

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's old exporter


@pytest.fixture(scope="module")
def files(tmp_path_factory, decisive):
    base = tmp_path_factory.mktemp("cli-kept")
    folder = make_class_folders(base / "photos", 2, DECISIVE_CLASSES, size=(180, 120), seed=7)
    ckpt = base / "colours.pth"
    save_checkpoint(ckpt, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    return folder, ckpt


def _images(folder) -> list:
    return sorted(folder.rglob("*.jpg"))


def test_predict_writes_maps_and_embeddings_from_its_run(files, tmp_path, capsys):
    folder, ckpt = files
    maps, feats = tmp_path / "maps", tmp_path / "emb.npy"
    code = main(["predict", str(folder), "--checkpoint", str(ckpt), "--engine", "onnxruntime",
                 "--explain", str(maps), "--features", str(feats), "--quiet"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.splitlines()) == 6  # the labels as always
    for image in _images(folder):
        values = np.load(maps / f"{image.stem}.cam.npy")
        assert values.dtype == np.float32 and values.shape == (120, 180)
        assert values.min() >= 0 and values.max() == pytest.approx(1.0, abs=0.01)
        assert Image.open(maps / f"{image.stem}.cam.png").size == (180, 120)
    table = np.load(feats)  # no pickle needed
    assert sorted(table["path"]) == sorted(map(str, _images(folder)))
    assert table["embedding"].shape == (6, 512) and np.isfinite(table["embedding"]).all()
    assert "wrote 6 heat maps" in err and "wrote 6 embeddings (512 values each)" in err


def test_the_next_run_keeps_them_without_torch(files, tmp_path, capsys):
    folder, ckpt = files
    first = tmp_path / "first.npy"
    assert main(["predict", str(folder), "--checkpoint", str(ckpt), "--engine", "onnxruntime",
                 "--features", str(first), "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    again = tmp_path / "again.npy"
    done = run_blocked(["-m", "pigeonhole", "predict", str(folder), "--checkpoint", str(ckpt),
                        "--features", str(again), "--explain", str(tmp_path / "m"), "--quiet"],
                       tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = np.load(first), np.load(again)
    order = np.argsort(a["path"]), np.argsort(b["path"])
    assert np.allclose(a["embedding"][order[0]], b["embedding"][order[1]], atol=1e-3)
    assert len(list((tmp_path / "m").glob("*.cam.npy"))) == 6


def test_parquet_features(files, tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    folder, ckpt = files
    out = tmp_path / "emb.parquet"
    assert main(["predict", str(folder), "--checkpoint", str(ckpt), "--features", str(out),
                 "--quiet"]) == 0  # fmt: skip
    table = pq.read_table(out)
    assert table.num_rows == 6 and len(table.column("embedding")[0]) == 512


@pytest.mark.parametrize("option, value, says", [
    ("--features", "emb.txt", ".npy"), ("--explain", "a-file.txt", "is a file, not a folder"),
])  # fmt: skip
def test_bad_outputs_are_refused_before_the_model_loads(tmp_path, capsys, option, value, says):
    (tmp_path / "a-file.txt").write_text("x")
    code = main(["predict", str(tmp_path), "--checkpoint", str(tmp_path / "missing.pth"),
                 option, str(tmp_path / value)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and says in err and "missing.pth" not in err


def test_a_gradcam_network_gets_its_maps_on_torch(tmp_path, capsys):
    folder = make_class_folders(tmp_path / "p", 1, DECISIVE_CLASSES, size=(96, 80), seed=2)
    base = small_base("mobilenet_v3_small")
    ckpt = tmp_path / "m.pth"
    save_checkpoint(ckpt, base.model, base.arch, base.class_names, base.transform)
    code = main(["predict", str(folder), "--checkpoint", str(ckpt), "--engine", "torch",
                 "--explain", str(tmp_path / "maps"), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    arrays = [np.load(p) for p in sorted((tmp_path / "maps").glob("*.cam.npy"))]
    assert len(arrays) == 3 and all(a.shape == (80, 96) for a in arrays)
