"""Classifying without torch (issue 22): ONNX models (Pigeonhole's exports and another tool's),
a checkpoint's cached export, what the window's classify path does, and the ONNX files that are
not classifiers, refused in one line. The proofs run where importing torch raises."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.errors import CheckpointError, PigeonholeError
from pigeonhole.core.models import export_index
from pigeonhole.core.models.checkpoints import load_model, save_checkpoint
from pigeonhole.core.models.loaded import ModelSource
from pigeonhole.core.models.onnx_graph import read_graph
from pigeonhole.core.models.onnx_models import cached_export_fits
from pigeonhole.core.models.transforms import PreprocessingOverride
from pigeonhole.core.runtime.inference import Classifier, classify_paths
from pigeonhole.core.runtime.loading import load_for_run
from pigeonhole.core.runtime.network_export import export_model
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.runtime.plan import onnx_export_would_run
from pigeonhole.core.runtime.scores import are_probabilities, top_k_array
from tests.core.torch_blocked import run_blocked
from tests.core.train_helpers import DECISIVE_CLASSES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's old exporter

#: What the window's classify_task does (gui/classify/run.py), with the call it would make to
#: load the model: load_for_run, the Classifier, the identity, the run with thumbnails, each
#: batch labelled with its folder's class.
CLASSIFY_TASK = """
import json, sys
from pigeonhole.core.models.loaded import ModelSource
from pigeonhole.core.results.evaluation import GroundTruth, labelled_batches
from pigeonhole.core.runtime.inference import Classifier
from pigeonhole.core.runtime.loading import load_for_run
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.tasks import run_to_end

model, folder = sys.argv[1], sys.argv[2]
options = RunOptions()
loaded = load_for_run(ModelSource.chosen(model), options)
clf = Classifier(loaded, options, topk=5, calibration=[folder])
key = loaded.identity().key
rows = []
def take(batch):
    for p, truth in zip(batch.predictions, batch.truths):
        assert p.thumbnail is not None and len(p.thumbnail.data) > 0
        rows.append([p.path, p.label, p.confidence, truth])
batches = clf.run([folder], thumbnail_size=64)
summary = run_to_end(labelled_batches(batches, GroundTruth(clf.class_names, [folder])), take)
blocked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))
print(json.dumps({"rows": rows, "key": key, "engine": summary.engine, "torch": blocked}))
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory, decisive):
    """The decisive model as a checkpoint and as Pigeonhole's ONNX export, photos of its
    classes, and torch's own results on them (the reference)."""
    base = tmp_path_factory.mktemp("torch-free")
    folder = make_class_folders(base / "val", 3, DECISIVE_CLASSES, size=(320, 240), seed=7)
    ckpt = base / "colours.pth"
    save_checkpoint(ckpt, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    own = base / "colours.onnx"
    export_model(decisive, "onnx", own)
    preds, _ = classify_paths(decisive, [folder], engine="torch", device="cpu")
    reference = {p.path: (p.label, p.confidence) for p in preds}
    return folder, ckpt, own, reference


def _classify_without_torch(model, folder, tmp_path) -> dict:
    out = run_blocked(["-c", CLASSIFY_TASK, str(model), str(folder)], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["torch"] == [] and result["engine"] == "onnxruntime"
    return result


def _same_as_torch(rows, reference, tol=1e-4) -> None:
    assert len(rows) == len(reference) == 9
    for path, label, confidence, truth in rows:
        assert label == reference[path][0] and truth in path, path
        assert confidence == pytest.approx(reference[path][1], abs=tol), path


def test_the_windows_classify_path_runs_pigeonholes_export_without_torch(setup, tmp_path, decisive):
    folder, _, own, reference = setup
    result = _classify_without_torch(own, folder, tmp_path)
    _same_as_torch(result["rows"], reference)
    assert result["key"] == decisive.identity().key  # the same model, by its results


class _Theirs(nn.Module):
    """Another tool's classifier: NHWC or NCHW input, probabilities or logits out."""

    def __init__(self, model: nn.Module, nhwc: bool, probabilities: bool):
        super().__init__()
        self.model, self.nhwc, self.probabilities = model, nhwc, probabilities

    def forward(self, x):
        y = self.model(x.permute(0, 3, 1, 2) if self.nhwc else x)
        return torch.softmax(y, dim=1) if self.probabilities else y


def _foreign(path, model, *, nhwc=False, batch=None, labels=None, softmax=True, crop=64):
    """Export ``model`` as another tool would: its own names, no Pigeonhole metadata."""
    net = _Theirs(model, nhwc, softmax).eval()
    shape = (batch or 1, crop, crop, 3) if nhwc else (batch or 1, 3, crop, crop)
    axes = None if batch else {"image": {0: "n"}, "scores": {0: "n"}}
    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(shape),), path, dynamo=False,
                          input_names=["image"], output_names=["scores"], dynamic_axes=axes)  # fmt: skip
    if labels is not None:
        proto = onnx.load(str(path))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "labels", json.dumps(labels)
        onnx.save(proto, str(path))
    return path


def test_another_tools_classifier_with_a_names_file_beside_it_runs_without_torch(
    setup, tmp_path, decisive
):
    """Fixed batch of 2, probabilities out (not softmaxed twice), names from classes.txt, the
    preprocessing ImageNet's for its 64-pixel input unless told: here told (--resize 72)."""
    folder, _, _, reference = setup
    model = _foreign(tmp_path / "theirs.onnx", decisive.model, batch=2)
    (tmp_path / "classes.txt").write_text("\n".join(decisive.class_names) + "\n")
    source = ModelSource.chosen(model, preprocessing=PreprocessingOverride(resize=72))
    loaded = load_for_run(source)
    assert loaded.is_onnx and loaded.arch == "onnx" and loaded.class_names == decisive.class_names
    assert loaded.model.batch == 2 and loaded.model.probabilities is None
    preds, summary = classify_paths(loaded, [folder], batch_size=3)
    assert summary.engine == "onnxruntime"
    _same_as_torch([(p.path, p.label, p.confidence, "") for p in preds], reference)
    # told nothing, the preprocessing is ImageNet's recipe for a 64-pixel input, assumed
    plain = load_for_run(ModelSource.chosen(model))
    assert (plain.transform.resize, plain.transform.crop) == (73, 64)
    assert plain.transform_origin.kind == "assumed"


def test_nhwc_input_logits_and_labels_metadata(setup, tmp_path, decisive):
    folder, _, _, reference = setup
    names = ["R", "G", "B"]
    model = _foreign(tmp_path / "nhwc.onnx", decisive.model, nhwc=True, labels=names, softmax=False)
    loaded = load_for_run(ModelSource.chosen(model, preprocessing=PreprocessingOverride(resize=72)))
    assert loaded.class_names == names and loaded.model.channels_last
    preds, _ = classify_paths(loaded, [folder])
    rename = dict(zip(decisive.class_names, names, strict=True))
    for p in preds:
        assert p.label == rename[reference[p.path][0]]
        assert p.confidence == pytest.approx(reference[p.path][1], abs=1e-4)


class _TwoInputs(nn.Module):
    def forward(self, a, b):
        return a.mean((2, 3)) + b.mean((2, 3))


class _TwoOutputs(nn.Module):
    def forward(self, x):
        return x.mean((2, 3)), x.amax((2, 3))


class _ThreeD(nn.Module):
    def forward(self, x):
        return x.mean(3)


@pytest.mark.parametrize(
    ("kind", "words"),
    [("two-inputs", "takes 2 inputs"), ("two-outputs", "gives 2 outputs"),
     ("3d-output", "3-D output"), ("flat-input", "2-D input"), ("not-onnx", "not an ONNX model")],
)  # fmt: skip
def test_an_onnx_file_that_is_not_a_classifier_is_one_clear_line(tmp_path, kind, words):
    path = tmp_path / f"{kind}.onnx"
    x = torch.zeros(1, 3, 8, 8)
    with torch.no_grad():
        if kind == "two-inputs":
            torch.onnx.export(_TwoInputs(), (x, x), path, dynamo=False)
        elif kind == "two-outputs":
            torch.onnx.export(_TwoOutputs(), (x,), path, dynamo=False)
        elif kind == "3d-output":
            torch.onnx.export(_ThreeD(), (x,), path, dynamo=False)
        elif kind == "flat-input":
            torch.onnx.export(nn.Linear(10, 3), (torch.zeros(1, 10),), path, dynamo=False)
        else:
            path.write_bytes(b"not a model at all\n" * 10)
    with pytest.raises(CheckpointError) as e:
        read_graph(path)
    message = str(e.value)
    assert words in message and path.name in message and "\n" not in message


def test_engine_torch_or_a_gpu_on_an_onnx_model_says_what_it_needs(setup):
    _, _, own, _ = setup
    loaded = load_for_run(ModelSource.chosen(own))
    with pytest.raises(PigeonholeError, match="needs a torch checkpoint"):
        Classifier(loaded, RunOptions(engine="torch"))
    with pytest.raises(PigeonholeError, match="runs on the CPU here"):
        Classifier(loaded, RunOptions(device="cuda"))
    with pytest.raises(PigeonholeError, match="Training needs a torch checkpoint"):
        loaded.require_torch("Training")


# ---------------------------------------------------------------------------------------------
# A checkpoint's cached export


def test_a_checkpoints_export_is_found_again_without_torch(setup, tmp_path, decisive):
    folder, ckpt, _, reference = setup
    source = ModelSource.chosen(ckpt)
    first = load_model(source)
    Classifier(first, RunOptions(device="cpu", engine="onnxruntime"))  # exports, or finds it
    found = export_index.find_export(ckpt)
    assert found is not None and (found.folder / "fp32.onnx").is_file()
    again = load_for_run(source, RunOptions(device="cpu"))
    assert again.is_onnx and again.source == str(ckpt)
    assert again.class_names == first.class_names and again.transform == first.transform
    assert again.preprocessing_line() == first.preprocessing_line()
    assert again.identity().key == first.identity().key
    result = _classify_without_torch(ckpt, folder, tmp_path)
    _same_as_torch(result["rows"], reference)
    # the person's choices that change the model, or torch's engine, take torch's path
    for options in (RunOptions(engine="torch"), RunOptions(precision="bf16")):
        assert not load_for_run(source, options).is_onnx
    hinted = ModelSource.chosen(ckpt, "resnet34", arch_is_demand=True, partial=True)
    assert not cached_export_fits(hinted, found.facts)


def test_the_index_forgets_a_file_that_changed_or_what_is_beside_it(setup, tmp_path, decisive):
    _, ckpt, _, _ = setup
    copy = tmp_path / ckpt.name
    copy.write_bytes(ckpt.read_bytes())
    Classifier(load_model(ModelSource.chosen(copy)), RunOptions(device="cpu", engine="onnxruntime"))
    assert export_index.find_export(copy) is not None
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")  # loading would read it: not the same facts
    assert export_index.find_export(copy) is None
    (tmp_path / "classes.txt").unlink()
    assert export_index.find_export(copy) is not None
    with torch.no_grad():
        next(decisive.model.parameters()).add_(0.5)  # other weights, same file name
    try:
        save_checkpoint(copy, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    finally:
        with torch.no_grad():
            next(decisive.model.parameters()).sub_(0.5)
    assert export_index.find_export(copy) is None


def test_weights_changed_in_place_are_not_recorded_as_the_files(setup, tmp_path):
    _, ckpt, _, _ = setup
    copy = tmp_path / ckpt.name
    copy.write_bytes(ckpt.read_bytes())
    loaded = load_model(ModelSource.chosen(copy))
    with torch.no_grad():
        next(loaded.model.parameters()).mul_(1.5)  # a head trained in place, say
    Classifier(loaded, RunOptions(device="cpu", engine="onnxruntime"), fuse=False)
    assert export_index.find_export(copy) is None


def test_the_cached_path_is_taken_only_where_onnx_runtime_would_run_anyway():
    assert onnx_export_would_run("resnet18", RunOptions(device="cpu"))
    assert onnx_export_would_run("resnet18", RunOptions(device="cpu", precision="int8"))
    assert not onnx_export_would_run("resnet18", RunOptions(engine="torch"))
    assert not onnx_export_would_run("resnet18", RunOptions(device="cuda"))
    assert not onnx_export_would_run("vit_b_16", RunOptions(device="cpu"))  # torch is faster
    assert onnx_export_would_run("vit_b_16", RunOptions(device="cpu", engine="onnxruntime"))
    facts = {"arch": "resnet18", "weights": "x", "class_names": ["a"], "needs_trust": True}
    assert not cached_export_fits(ModelSource.chosen("m.pth"), facts)  # the file needs trust
    assert cached_export_fits(ModelSource.chosen("m.pth", trust=True), facts)


# ---------------------------------------------------------------------------------------------
# Scores


def test_probabilities_are_not_softmaxed_twice():
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 3.0, -1.0]], np.float32)
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    assert are_probabilities(probs) and not are_probabilities(logits)
    from_logits, from_probs = top_k_array(logits, 2), top_k_array(probs, 2)
    assert from_logits.indices.tolist() == from_probs.indices.tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(from_logits.scores, from_probs.scores, atol=1e-6)
    torch_top = torch.softmax(torch.from_numpy(logits), 1).topk(2, 1)
    np.testing.assert_allclose(from_logits.scores, torch_top.values.numpy(), atol=1e-6)


#: What classifying, evaluating, writing and sorting results use: none may need torch.
TORCH_FREE_MODULES = [
    f"pigeonhole.core.{m}"
    for m in ("devices", "fileio", "tasks", "data.images", "data.listing", "data.datasets",
              "models.archs", "models.transforms", "models.files", "models.loaded",
              "models.onnx_graph", "models.onnx_models", "models.export_index", "models.imagenet",
              "runtime.options", "runtime.plan", "runtime.pipeline", "runtime.scores",
              "runtime.onnx_engine", "runtime.onnx_run", "runtime.quantize", "runtime.loading",
              "runtime.inference", "results.predictions", "results.evaluation", "results.metrics",
              "results.writing", "results.sorting")
] + ["pigeonhole.cli", "pigeonhole.commands.predict", "pigeonhole.commands.models"]  # fmt: skip


def test_the_classify_modules_import_without_torch(tmp_path):
    code = (
        "import importlib, sys\n"
        f"for name in {TORCH_FREE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))\n"
    )
    done = run_blocked(["-c", code], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_the_index_reads_a_file_only_when_it_may_know_it(setup, tmp_path, monkeypatch):
    """An unchanged file answers from its size and time; a file of a size no entry has is
    never read; a copy (same content, same neighbours) is found by its content."""
    _, ckpt, _, _ = setup
    first = tmp_path / "a" / ckpt.name
    first.parent.mkdir()
    first.write_bytes(ckpt.read_bytes())
    Classifier(
        load_model(ModelSource.chosen(first)), RunOptions(device="cpu", engine="onnxruntime")
    )
    read = []
    real = export_index.content_hash
    monkeypatch.setattr(export_index, "content_hash", lambda p: read.append(p) or real(p))
    assert export_index.find_export(first) is not None and read == []
    other = tmp_path / "other.pth"
    other.write_bytes(b"x" * 100)
    assert export_index.find_export(other) is None and read == []
    copy = tmp_path / "b" / ckpt.name
    copy.parent.mkdir()
    copy.write_bytes(ckpt.read_bytes())
    assert export_index.find_export(copy) is not None and read == [copy.resolve()]
