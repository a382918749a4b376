"""Training data layouts: train/val detection, stratified seeded splits, warnings, errors."""

from __future__ import annotations

import pytest

from pigeonhole.core.data.datasets import plan_dataset, stratified_split
from pigeonhole.core.data.synthetic import make_class_folders, make_train_val
from pigeonhole.core.errors import DataError


@pytest.mark.parametrize("val_name", ["val", "valid", "test"])
def test_detects_train_val_layout(tmp_path, val_name):
    make_train_val(tmp_path, train=4, val=2, classes=("red", "blue", "green"), val_name=val_name)
    plan = plan_dataset(tmp_path)
    assert plan.class_names == ["blue", "green", "red"]
    assert plan.train_dir == tmp_path / "train"
    assert plan.val_dir == tmp_path / val_name
    assert [(c.name, c.train, c.val) for c in plan.counts()] == [
        ("blue", 4, 2),
        ("green", 4, 2),
        ("red", 4, 2),
    ]
    assert all(s.path.parent.parent.name == val_name for s in plan.val)
    assert all(plan.class_names[s.label] == s.path.parent.name for s in plan.train + plan.val)
    assert "train/" in plan.layout


def test_class_folders_split_stratified_and_seeded(tmp_path):
    make_class_folders(tmp_path, {"red": 20, "blue": 10}, ("red", "blue"), size=(16, 12))
    plan = plan_dataset(tmp_path, val_split=0.3, seed=1)
    counts = {c.name: (c.train, c.val) for c in plan.counts()}
    assert counts == {"blue": (7, 3), "red": (14, 6)}
    train_paths = {s.path for s in plan.train}
    val_paths = {s.path for s in plan.val}
    assert not train_paths & val_paths
    assert len(train_paths | val_paths) == 30
    again = plan_dataset(tmp_path, val_split=0.3, seed=1)
    assert [s.path for s in again.val] == [s.path for s in plan.val]
    other = plan_dataset(tmp_path, val_split=0.3, seed=2)
    assert {s.path for s in other.val} != val_paths


def test_split_keeps_one_image_each_side(tmp_path):
    files = {"a": [tmp_path / "a1.jpg", tmp_path / "a2.jpg"], "b": [tmp_path / "b1.jpg"]}
    train, val = stratified_split(files, 0.1, seed=0)
    assert len(train["a"]) == 1 and len(val["a"]) == 1
    assert train["b"] == files["b"] and val["b"] == []
    with pytest.raises(DataError):
        stratified_split(files, 1.0)


def test_warnings_small_and_imbalanced_classes(tmp_path):
    make_class_folders(tmp_path, {"red": 60, "blue": 4}, ("red", "blue"), size=(16, 12))
    (tmp_path / "red" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    plan = plan_dataset(tmp_path, val_split=0.0)
    text = " ".join(plan.warnings)
    assert "Fewer than 5" in text and "blue (4)" in text
    assert "imbalanced" in text and "red: 60" in text
    assert "'empty' has no images" in text
    assert "No validation images" in text
    assert plan.class_names == ["blue", "red"]
    assert plan.ignored == 1


def test_balanced_dataset_has_no_warnings(tmp_path):
    make_class_folders(tmp_path, 6, ("red", "blue"), size=(16, 12))
    assert plan_dataset(tmp_path, val_split=0.2).warnings == []


def test_fewer_than_two_classes_is_a_clear_error(tmp_path):
    make_class_folders(tmp_path, 3, ("red",), size=(16, 12))
    with pytest.raises(DataError, match="at least 2 classes.*found 1 \\(red\\)"):
        plan_dataset(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        plan_dataset(tmp_path / "missing")
    (tmp_path / "loose.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="at least 2 classes"):
        plan_dataset(tmp_path / "red")


def test_explicit_val_dir_and_mismatched_classes(tmp_path):
    make_class_folders(tmp_path / "data", 4, ("red", "blue"), size=(16, 12))
    make_class_folders(tmp_path / "holdout", 2, ("red", "yellow"), size=(16, 12), seed=3)
    plan = plan_dataset(tmp_path / "data", val_dir=tmp_path / "holdout")
    assert {c.name: (c.train, c.val) for c in plan.counts()} == {"blue": (4, 0), "red": (4, 2)}
    text = " ".join(plan.warnings)
    assert "yellow" in text and "No validation images for: blue" in text
    with pytest.raises(DataError, match="does not exist"):
        plan_dataset(tmp_path / "data", val_dir=tmp_path / "nope")
