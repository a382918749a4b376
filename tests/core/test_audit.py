"""Likely mislabelled images: out-of-sample probabilities from k-fold heads on cached features,
ranked by confident learning with per-class thresholds; `pigeonhole audit`."""

from __future__ import annotations

import csv
import random
import shutil

import numpy as np
import pytest

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.errors import DataError
from pigeonhole.core.insight.audit import (
    audit_features,
    audit_labels,
    confident_learning,
    fold_of,
)
from pigeonhole.core.models.checkpoints import save_checkpoint
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.tasks import run_to_end
from tests.core.train_helpers import DECISIVE_CLASSES, small_base


def flipped_folder(root, per_class=40, share=0.05, seed=0):
    """Learnable class folders with ``share`` of the images moved into a wrong class folder."""
    make_class_folders(root, per_class, DECISIVE_CLASSES, size=(160, 120), seed=3)
    files = sorted(root.rglob("*.jpg"))
    rng = random.Random(seed)
    flipped = set()
    for f in rng.sample(files, round(len(files) * share)):
        other = rng.choice([c for c in DECISIVE_CLASSES if c != f.parent.name])
        dst = root / other / f"moved_{f.name}"
        shutil.move(f, dst)
        flipped.add(str(dst))
    return flipped


def test_the_flipped_labels_come_first(tmp_path):
    flipped = flipped_folder(tmp_path / "data")
    report = run_to_end(audit_labels(small_base(), tmp_path / "data", RunOptions(device="cpu")))
    assert len(report.ranking) == 40 * 3
    top = report.ranking[: len(report.ranking) // 20]  # the top 5 %
    hits = sum(s.path in flipped for s in top)
    assert hits >= 0.8 * len(flipped), (hits, len(flipped))
    suspect = next(s for s in report.ranking if s.path in flipped)
    assert suspect.flagged and suspect.suggested_label != suspect.given_label
    assert suspect.given_label == suspect.path.split("/")[-2]


def test_per_class_thresholds_judge_each_class_by_its_own_standard():
    # Class 1 is one the model is unsure of: its own images get only 0.45 on it, yet an image
    # of class 0 that gets 0.5 on class 1 is more like class 1 than class 1's own images are.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5], [0.55, 0.45], [0.55, 0.45], [0.95, 0.05]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    flagged, suggested = confident_learning(probs, labels)
    assert flagged.tolist() == [False, False, True, False, False, True]
    assert suggested[2] == 1 and suggested[5] == 0
    # a global cut at 0.5 would call class 1's own images wrong instead
    assert (probs[labels == 1, 1] < 0.5).all()


def test_folds_are_stratified():
    labels = [0] * 10 + [1] * 5
    fold = fold_of(labels, 5)
    for k in range(5):
        assert sorted(np.array(labels)[fold == k].tolist()) == [0, 0, 1]


def test_a_folder_without_classes_is_refused(tmp_path):
    make_class_folders(tmp_path / "one", 3, ("red",), size=(32, 24))
    with pytest.raises(DataError, match="at least 2 class folders"):
        run_to_end(audit_labels(small_base(), tmp_path / "one"))


def test_the_audit_command_writes_the_ranking(tmp_path, capsys):
    flipped = flipped_folder(tmp_path / "data", per_class=20, share=0.1, seed=1)
    base = small_base()
    ck = tmp_path / "base.pth"
    save_checkpoint(ck, base.model, "resnet18", base.class_names, base.transform)
    out = tmp_path / "suspects.csv"
    argv = ["audit", str(tmp_path / "data"), "--checkpoint", str(ck), "--out", str(out)]
    assert main([*argv, "--device", "cpu"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["path", "given_label", "suggested_label", "score"]
    assert rows[0]["path"] in flipped and rows[0]["given_label"] != rows[0]["suggested_label"]
    assert sum(r["path"] in flipped for r in rows[: len(flipped)]) >= len(flipped) // 2
    err = capsys.readouterr().err
    assert "likely mislabelled" in err
    assert (
        main(["audit", str(tmp_path / "data"), "--checkpoint", str(ck), "--out", str(tmp_path)])
        == 2
    )


def test_audit_features_ranks_flipped_labels_from_vectors_at_hand():
    """The Classify tab's path: the run kept each image's vector, so the audit trains its
    k-fold heads on those (no feature extraction); flipped labels come first."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32)) * 3
    labels = np.repeat(np.arange(3), 30)
    x = (centres[labels] + rng.normal(size=(90, 32))).astype(np.float16)
    given = labels.copy()
    flipped = [5, 40, 77]
    for i in flipped:
        given[i] = (labels[i] + 1) % 3
    paths = [f"img{i}.jpg" for i in range(90)]
    report = run_to_end(audit_features(x, given.tolist(), ["a", "b", "c"], paths))
    top = {s.path for s in report.ranking[:3]}
    assert top == {paths[i] for i in flipped}
    first = report.ranking[0]
    assert first.flagged and first.suggested_label == "abc"[labels[int(first.path[3:-4])]]


def test_audit_features_refuses_a_class_with_one_image():
    x = np.zeros((5, 4), dtype=np.float32)
    with pytest.raises(DataError, match="at least 2 images: b"):
        run_to_end(audit_features(x, [0, 0, 0, 0, 1], ["a", "b"], list("vwxyz")))
