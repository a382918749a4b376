"""The typed run request: one value, checked when made, planned once; the end of a run attaches
each image's ground truth for the CLI and the window alike."""

from __future__ import annotations

import dataclasses

import pytest

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.models.files import CHECKPOINT_SUFFIXES, SAVE_SUFFIXES, is_checkpoint_name
from pigeonhole.core.models.loaded import ModelSource
from pigeonhole.core.models.transforms import PreprocessingOverride
from pigeonhole.core.results.evaluation import GroundTruth, LabelledBatch, labelled_batches
from pigeonhole.core.runtime.inference import Classifier
from pigeonhole.core.runtime.options import ENGINES, RunOptions, specs
from pigeonhole.core.runtime.plan import plan_run
from pigeonhole.core.tasks import run_to_end
from tests.core.train_helpers import small_base


def test_a_bad_choice_is_refused_when_the_request_is_made():
    with pytest.raises(PigeonholeError, match="Unknown engine 'tensorrt'"):
        RunOptions(engine="tensorrt")
    with pytest.raises(PigeonholeError, match="Unknown decode"):
        RunOptions(decode="nvdec")
    with pytest.raises(PigeonholeError, match="Batch size must be a whole number"):
        RunOptions(batch_size=-1)
    with pytest.raises(PigeonholeError, match="Workers"):
        RunOptions(workers=True)  # a bool is not a count
    with pytest.raises(PigeonholeError, match="Unknown precision"):
        dataclasses.replace(RunOptions(), precision="fp8")  # replace checks again


def test_spellings_are_normalised_once():
    options = RunOptions(device=" CPU ", engine="ONNXRuntime", precision="Int8", decode="")
    assert (options.device, options.engine, options.precision, options.decode) == (
        "cpu", "onnxruntime", "int8", "auto",
    )  # fmt: skip
    assert specs(ENGINES) == ("auto", "torch", "onnxruntime")


def test_remembered_settings_keep_what_is_valid():
    got = RunOptions.from_dict({"engine": "torch", "batch_size": 9000, "colour": "blue"})
    assert got == RunOptions(engine="torch")  # the too-big batch falls back to automatic
    assert RunOptions.from_dict(got.as_dict()) == got


def test_the_plan_follows_the_request():
    plan = plan_run("resnet18", RunOptions(device="cpu", engine="torch", batch_size=3, workers=1))
    assert (plan.engine, plan.batch_size, plan.decode_workers) == ("torch", 3, 1)
    assert plan_run("resnet18", RunOptions(device="cpu", threads=2, streams=1)).forward_streams == 1


def test_one_list_of_checkpoint_suffixes():
    assert set(SAVE_SUFFIXES) <= set(CHECKPOINT_SUFFIXES)
    assert ".safetensors" in SAVE_SUFFIXES  # the app can save what the CLI can
    assert is_checkpoint_name("Model.PKL") and not is_checkpoint_name("notes.txt")


def test_a_model_source_is_made_the_same_way_everywhere():
    chosen = ModelSource.chosen("m.pth", "resnet18", trust=True, preprocessing="imagenet")
    assert chosen.preprocessing == PreprocessingOverride(preset="imagenet")
    assert chosen.trust and not chosen.require_arch  # the app's Network box is a hint
    demand = ModelSource.chosen("m.pth", "resnet18", arch_is_demand=True)
    assert demand.require_arch
    assert not ModelSource.chosen(None, "resnet18", arch_is_demand=True).require_arch
    with pytest.raises(PigeonholeError):
        ModelSource.chosen("m.pth", preprocessing="no-such-preset")


def test_the_end_of_a_run_attaches_the_folders_classes(tmp_path):
    base = dataclasses.replace(
        small_base(), class_names=[f"class {i}" for i in range(998)] + ["red", "blue"]
    )
    folder = make_class_folders(tmp_path / "val", 2, ("red", "blue"), size=(64, 48))
    (tmp_path / "val" / "other").mkdir()
    make_class_folders(tmp_path / "val" / "other", 1, ("green",), size=(64, 48))
    clf = Classifier(base, RunOptions(device="cpu", batch_size=2), topk=1)
    truth = GroundTruth(base.class_names, [folder])
    batches: list[LabelledBatch] = []
    summary = run_to_end(labelled_batches(clf.run([folder]), truth), batches.append)
    pairs = [(p.path, t) for b in batches for p, t in zip(b.predictions, b.truths, strict=True)]
    assert summary.processed == len(pairs) == 5
    for path, t in pairs:
        assert t == (None if "/green/" in path else path.split("/")[-2])
    plain: list[LabelledBatch] = []
    run_to_end(labelled_batches(clf.run([folder]), None), plain.append)
    assert all(t is None for b in plain for t in b.truths)
