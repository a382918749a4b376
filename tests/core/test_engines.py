"""The CPU engines (core.runtime.engine): ONNX Runtime fp32 and int8 give torch fp32's labels on
a decisive model, a network that does not export falls back to torch with the reason, the
export cache is reused, and feature extraction gets the same engine."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.runtime.inference import Classifier, classify_paths
from pigeonhole.core.runtime.onnx_export import export_onnx
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.runtime.plan import plan_run
from pigeonhole.core.training.features import FeatureExtractor
from tests.core.train_helpers import DECISIVE_CLASSES, small_base, whole_network_trained

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def decisive_photos(tmp_path_factory):
    """Red/green/blue photos the decisive model has never seen (other seeds)."""
    root = tmp_path_factory.mktemp("unseen")
    return make_class_folders(root, 16, DECISIVE_CLASSES, size=(320, 240), seed=500)


def _labels(loaded, folder, calibration=None, on_stage=None, **kw) -> tuple[list[str], Classifier]:
    clf = Classifier(
        loaded, RunOptions(device="cpu", **kw), calibration=calibration, on_stage=on_stage
    )
    preds = []
    for batch in clf.run([folder]):
        preds.extend(batch.predictions)
    return [p.label for p in preds], clf


def _sure(loaded, folder, at_least: float = 0.8) -> list[int]:
    """The images torch fp32 labels with at least ``at_least`` confidence."""
    preds, _ = classify_paths(loaded, [folder], device="cpu", engine="torch")
    return [i for i, p in enumerate(preds) if p.confidence >= at_least]


@pytest.fixture(scope="module")
def trained_whole(tmp_path_factory):
    return whole_network_trained(tmp_path_factory.mktemp("whole"))


def test_onnxruntime_gives_torch_fp32_labels(decisive, decisive_photos):
    torch_labels, clf = _labels(decisive, decisive_photos, engine="torch")
    assert clf.engine == "torch"
    ort_labels, clf = _labels(decisive, decisive_photos, engine="auto")
    assert clf.engine == "onnxruntime" and clf.precision == "fp32" and not clf.engine_note
    assert ort_labels == torch_labels
    assert len(set(torch_labels)) == len(DECISIVE_CLASSES)  # the comparison means something


def test_int8_gives_torch_fp32_labels_and_says_how_often_it_agrees(trained_whole, decisive_photos):
    """On a network trained through (int8 is not meant for a random backbone's activations).
    int8 is an approximation: an image torch itself is unsure of (one of these 48 is at 0.62)
    may flip, depending on which images calibrated it (the int8 model is cached by weights, so
    that depends on the tests run before). Every image torch is sure of keeps its label."""
    stages: list[str] = []
    torch_labels, _ = _labels(trained_whole, decisive_photos, engine="torch")
    sure = _sure(trained_whole, decisive_photos)
    int8_labels, clf = _labels(
        trained_whole, decisive_photos, precision="int8", calibration=[decisive_photos],
        on_stage=stages.append,
    )  # fmt: skip
    assert clf.engine == "onnxruntime" and clf.precision == "int8"
    assert len(sure) >= 0.8 * len(torch_labels)  # the comparison below covers most images
    assert [int8_labels[i] for i in sure] == [torch_labels[i] for i in sure]
    assert sum(a == b for a, b in zip(int8_labels, torch_labels, strict=True)) >= 0.95 * len(
        torch_labels
    )
    # Its agreement with fp32, measured on images held out from calibration, is told first.
    assert "top-1 agrees with fp32 on" in clf.engine_note and "held-out" in clf.engine_note
    assert clf.summary.engine_note == clf.engine_note
    assert any("Calibrating int8" in s for s in stages)
    assert len(set(torch_labels)) == len(DECISIVE_CLASSES)
    # Calibrated once: a second run reuses the int8 model and its measured agreement.
    stages.clear()
    _, again = _labels(trained_whole, decisive_photos, precision="int8", calibration=[],
                       on_stage=stages.append)  # fmt: skip
    assert stages == [] and again.engine_note == clf.engine_note


class _NoExportHead(nn.Module):
    """A linear head plus an FFT term: torch runs it, the ONNX exporter (opset 17) cannot."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.linear.out_features
        return self.linear(x) + 0 * torch.fft.rfft(x, n=2 * n, dim=1).abs()[:, :n]


def test_a_network_that_does_not_export_falls_back_to_torch_with_the_reason(tmp_path):
    loaded = small_base()
    loaded.model.fc = _NoExportHead(loaded.model.fc)
    make_class_folders(tmp_path, 2, ("red", "blue"), size=(96, 72))
    with pytest.raises(PigeonholeError, match="does not export"):
        export_onnx(loaded.model, tmp_path / "x.onnx", crop=64)
    preds, summary = classify_paths(loaded, [tmp_path], device="cpu", engine="onnxruntime")
    assert len(preds) == 4 and all(p.ok for p in preds)
    assert summary.engine == "torch"
    assert "ONNX Runtime not used" in summary.engine_note and "fft" in summary.engine_note
    assert summary.engine_note in summary.line()


def test_the_export_is_cached_by_weights_and_never_repeated(tmp_path, monkeypatch):
    monkeypatch.setenv("PIGEONHOLE_CACHE_DIR", str(tmp_path / "own-cache"))
    make_class_folders(tmp_path / "img", 1, ("red",), size=(96, 72))
    stages: list[str] = []
    classify_paths(small_base(seed=3), [tmp_path / "img"], device="cpu", on_stage=stages.append)
    assert stages == ["Exporting the network to ONNX (once for these weights)"]
    exported = list((tmp_path / "own-cache" / "onnx").glob("*/fp32.onnx"))
    assert len(exported) == 1
    mtime = exported[0].stat().st_mtime_ns
    # Another load of the same weights (a new model object) reuses it...
    classify_paths(small_base(seed=3), [tmp_path / "img"], device="cpu", on_stage=stages.append)
    assert len(stages) == 1 and exported[0].stat().st_mtime_ns == mtime
    # ...other weights get their own.
    classify_paths(small_base(seed=4), [tmp_path / "img"], device="cpu", on_stage=stages.append)
    assert len(stages) == 2
    assert len(list((tmp_path / "own-cache" / "onnx").glob("*/fp32.onnx"))) == 2


def test_feature_extraction_gets_the_same_engine(tmp_path):
    base = small_base()
    crops = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    feats = {}
    for engine in ("torch", "onnxruntime"):
        extractor = FeatureExtractor(
            base.model, "resnet18", base.transform, RunOptions("cpu", engine)
        )
        assert extractor.plan.engine == engine
        feats[engine] = extractor.forward(crops)
        extractor.restore_head()
    assert feats["torch"].shape == (3, 512)
    torch.testing.assert_close(feats["onnxruntime"], feats["torch"], atol=1e-4, rtol=1e-4)


def test_engine_choices_are_checked():
    assert plan_run("resnet18", RunOptions(device="cpu")).engine == "onnxruntime"
    vit = plan_run(
        "vit_b_16", RunOptions(device="cpu")
    )  # measured slower on ONNX Runtime: the registry says why
    assert vit.engine == "torch" and "ViT" in vit.engine_note
    assert (
        plan_run("vit_b_16", RunOptions(device="cpu", engine="onnxruntime")).engine == "onnxruntime"
    )
    assert plan_run("resnet18", RunOptions(device="cpu", engine="torch")).engine == "torch"
    assert plan_run("resnet18", RunOptions(device="cpu", precision="int8")).engine == "onnxruntime"
    with pytest.raises(PigeonholeError, match="int8 runs on ONNX Runtime"):
        plan_run("resnet18", RunOptions(device="cpu", precision="int8", engine="torch"))
    with pytest.raises(PigeonholeError, match="Unknown engine"):
        plan_run("resnet18", RunOptions(device="cpu", engine="tensorrt"))


def test_exporting_never_imports_the_onnx_package(tmp_path):
    """Issue 27: the first run of a model on the CPU stalled the window's event loop for
    0.4-1.4 s: torch's exporter imports the ``onnx`` package after every export, which loads
    ml_dtypes, whose C start-up holds the GIL all that time (every other thread waits, the GUI
    thread too). The export needs none of it (a fresh interpreter, so nothing is imported
    already); the graph still runs as the network does."""
    import subprocess
    import sys

    script = f"""
import sys, numpy as np, torch, onnxruntime as ort
from torch import nn
from pigeonhole.core.runtime.onnx_export import export_onnx
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                    nn.Linear(4, 3)).eval()
path = export_onnx(net, {str(tmp_path / "net.onnx")!r}, crop=16)
print("imported:", sorted(m for m in ("onnx", "ml_dtypes") if m in sys.modules))
x = torch.randn(2, 3, 16, 16)
got = ort.InferenceSession(str(path)).run(None, {{"input": x.numpy()}})[0]
print("max diff:", float(np.abs(got - net(x).detach().numpy()).max()))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert "imported: []" in out, out
    assert float(out.split("max diff:")[1]) < 1e-5, out


def exports_seen(monkeypatch) -> list[bool]:
    """export_params of each torch.onnx.export call from now on."""
    seen: list[bool] = []
    real = torch.onnx.export

    def spy(*args, **kwargs):
        seen.append(kwargs.get("export_params", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", spy)
    return seen


@pytest.mark.parametrize("weights_after", [True, False], ids=["weights after", "torch writes"])
def test_the_engine_export_adds_the_weights_itself(tmp_path, monkeypatch, weights_after):
    """Issue 27: torch's exporter serialises the graph and its weights in one C++ call holding
    the GIL (0.1-0.8 s for ResNet-18 on 2 busy cores: the window's event loop stalls). The
    engine's export leaves the weights out of that call and adds them itself; where it cannot
    (a graph input it has no weight for), torch writes them as before. Either way the graph
    has the images as its only input and runs as the network does (batch norms included)."""
    import numpy as np
    import onnxruntime as ort

    from pigeonhole.core.models.archs import build_model
    from pigeonhole.core.runtime import onnx_export

    torch.manual_seed(0)
    net = build_model("resnet18", 3).eval()
    with torch.no_grad():  # batch norms that do something
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    if not weights_after:
        monkeypatch.setattr(onnx_export, "_weights", lambda _m: {})
    seen = exports_seen(monkeypatch)
    path = export_onnx(net, tmp_path / "net.onnx", crop=32, fold=False)
    assert seen == ([False] if weights_after else [False, True])
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["input"]
    x = torch.randn(2, 3, 32, 32)
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(got - net(x).numpy()).max() < 1e-4


def test_the_engine_export_never_copies_the_weights(tmp_path):
    """Issue 27: the weights added after torch's call were joined into one ``bytes`` and copied
    whole again for the graph, the model and the metadata: each 45 MB copy of a ResNet-18 held
    the GIL ~0.1 s on 2 busy cores (0.5 s in all, the window's event loop waiting). The file
    is written from the weights' own memory: what Python allocates meanwhile stays far below
    the weights' size, and the file is the same graph."""
    import tracemalloc

    import onnxruntime as ort

    from pigeonhole.core.models.archs import build_model

    torch.manual_seed(0)
    net = build_model("resnet18", 3).eval()
    size = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    tracemalloc.start()
    try:
        path = export_onnx(net, tmp_path / "net.onnx", crop=32, fold=False, metadata={"k": "v"})
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 10, f"{peak / 2**20:.0f} MB allocated for {size / 2**20:.0f} MB weights"
    session = ort.InferenceSession(str(path))
    assert session.get_modelmeta().custom_metadata_map == {"k": "v"}
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert abs(session.run(None, {"input": x.numpy()})[0] - net(x).numpy()).max() < 1e-4
