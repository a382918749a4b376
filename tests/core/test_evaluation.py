"""Evaluation on labelled folders, and the warning for a model that cannot tell classes apart."""

from __future__ import annotations

import torch

from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.checkpoints import LoadedModel
from pigeonhole.core.results.evaluation import GroundTruth, evaluate
from pigeonhole.core.results.predictions import OutputCheck, Prediction
from pigeonhole.core.runtime.inference import classify_paths
from tests.core.train_helpers import SMALL


def test_ground_truth_from_the_nearest_class_named_folder(tmp_path):
    truth = GroundTruth(["ants", "Honey bees", "wasps"], roots=[tmp_path / "val"])
    assert truth.label_of(tmp_path / "val" / "ants" / "a.jpg") == "ants"
    assert truth.label_of(tmp_path / "val" / "ANTS" / "deep" / "a.jpg") == "ants"
    assert truth.label_of(tmp_path / "val" / "honey_bees" / "b.jpg") == "Honey bees"
    assert truth.label_of(tmp_path / "val" / "misc" / "c.jpg") is None
    # never above the dropped folder: "ants/val/x.jpg" dropped as "val" has no truth
    nested = GroundTruth(["ants"], roots=[tmp_path / "ants" / "val"])
    assert nested.label_of(tmp_path / "ants" / "val" / "x.jpg") is None
    # the dropped folder itself may be the class folder
    direct = GroundTruth(["ants"], roots=[tmp_path / "val" / "ants"])
    assert direct.label_of(tmp_path / "val" / "ants" / "x.jpg") == "ants"


def test_evaluate_counts_accuracy_confusion_and_disagreements(tmp_path):
    truth = GroundTruth(["ants", "bees"], roots=[tmp_path])
    results = [
        (str(tmp_path / "ants" / "1.jpg"), "ants"),
        (str(tmp_path / "ants" / "2.jpg"), "bees"),
        (str(tmp_path / "bees" / "3.jpg"), "bees"),
        (str(tmp_path / "bees" / "4.jpg"), None),  # failed: not counted
        (str(tmp_path / "other" / "5.jpg"), "ants"),  # no truth
    ]
    report = evaluate(results, truth)
    assert report.with_truth == 3 and report.without_truth == 1
    assert report.accuracy == 2 / 3
    assert report.metrics.confusion == ((1, 1), (0, 1))
    assert report.disagreements == (str(tmp_path / "ants" / "2.jpg"),)
    ants, bees = report.metrics.per_class
    assert (ants.precision, ants.recall, ants.support) == (1.0, 0.5, 2)
    assert (bees.precision, bees.recall) == (0.5, 1.0)
    assert "accuracy 66.7% on 3 images" in report.line()
    assert evaluate([(str(tmp_path / "x" / "1.jpg"), "ants")], truth) is None


def test_a_model_with_equal_outputs_is_flagged(tmp_path):
    """Reported: a raw MobileNetV2 gave exactly 50/50 on every image, and nothing said so."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )  # fmt: skip
    with torch.no_grad():
        model[3].weight.zero_()
        model[3].bias.zero_()  # every logit 0: 50 % for both classes, always
    folder = make_class_folders(tmp_path, 3, ("red", "blue"), size=(80, 60))
    loaded = LoadedModel(model, "resnet18", ["ants", "bees"], SMALL, "test")
    _, summary = classify_paths(loaded, [folder], device="cpu", fuse=False)
    (warning,) = summary.warnings
    assert "same probability (50%) on every image" in warning


def test_one_label_for_a_big_folder_is_flagged_and_a_varied_run_is_not():
    def pred(i, label, conf):
        return Prediction(i, f"/p/{i}.jpg", label, conf, ((label, conf),), 1.0, 1.0, None)

    same = OutputCheck(2)
    for i in range(25):
        same.add(pred(i, "ants", 0.8))
    assert "Every one of the 25 images got the label 'ants'" in same.warnings()[0]
    varied = OutputCheck(2)
    for i in range(25):
        varied.add(pred(i, "ants" if i % 3 else "bees", 0.8))
    assert varied.warnings() == []
    few = OutputCheck(2)
    for i in range(5):
        few.add(pred(i, "ants", 0.9))
    assert few.warnings() == []  # five images of one class are not suspicious
