"""core.results.writing: CSV/JSON contents, corrections, atomic writes."""

from __future__ import annotations

import csv
import json

import pytest

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.results.predictions import Prediction, RunSummary
from pigeonhole.core.results.writing import (
    COLUMNS,
    ExportRow,
    columns,
    write_csv,
    write_json,
    write_results,
)

PREDS = [
    Prediction(
        0, "/p/a.jpg", "cat", 0.9, (("cat", 0.9), ("dog", 0.07), ("bird", 0.03)), 5.5, 20.25, None
    ),
    Prediction(
        1, "/p/b,with comma.jpg", "dog", 0.6, (("dog", 0.6), ("cat", 0.4)), 4.0, 20.25, None
    ),
    Prediction(2, "/p/broken.jpg", None, None, (), 0.5, 0.0, "truncated or incomplete image file"),
]
SUMMARY = RunSummary(
    images=3, processed=2, skipped=1, ignored=4, total_s=1.5, images_per_s=2.0, mean_ms=20.25,
    median_ms=20.25, p95_ms=20.25, device="cpu", device_name="Test CPU", precision="fp32",
    batch_size=16, arch="resnet18", cancelled=False,
)  # fmt: skip


def test_columns():
    assert COLUMNS[:8] == [
        "path", "label", "predicted_label", "predicted_confidence", "corrected_label",
        "decode_ms", "infer_ms", "error",
    ]  # fmt: skip
    assert COLUMNS[8:12] == ["top1_label", "top1_score", "top2_label", "top2_score"]
    assert len(columns(2)) == 8 + 4
    assert columns(1, truth=True, model=True)[8:11] == ["true_label", "model", "stale"]


def test_csv_keeps_the_model_and_the_person_apart(tmp_path):
    """Reported: a corrected row showed the model's confidence for the old label as the
    confidence of the new one (label=ants, confidence=0.521, predicted_label=bees)."""
    out = tmp_path / "res.csv"
    write_csv(out, PREDS, topk=3, corrections={"/p/b,with comma.jpg": "bird", "/p/a.jpg": "cat"})
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == columns(3)
    a, b, bad = rows
    assert (a["label"], a["predicted_confidence"], a["corrected_label"]) == ("cat", "0.9", "")
    assert (a["top2_label"], a["top3_score"]) == ("dog", "0.03")
    assert (b["path"], b["label"], b["predicted_label"], b["corrected_label"]) == (
        "/p/b,with comma.jpg", "bird", "dog", "bird",
    )  # fmt: skip
    assert b["predicted_confidence"] == "0.6"  # the model's, for the model's own label
    assert "confidence" not in rows[0]  # no column that mixes the two
    assert b["top3_label"] == "" and b["top3_score"] == ""
    assert bad["label"] == "" and bad["error"] == "truncated or incomplete image file"
    assert bad["infer_ms"] == "" and float(bad["decode_ms"]) == 0.5
    assert float(a["infer_ms"]) == 20.25
    assert [p.name for p in tmp_path.iterdir()] == ["res.csv"]  # no temp file left behind


def test_no_empty_top_k_columns_for_a_two_class_model(tmp_path):
    two = [Prediction(0, "/p/a.jpg", "ants", 0.7, (("ants", 0.7), ("bees", 0.3)), 1.0, 1.0, None)]
    out = tmp_path / "two.csv"
    write_csv(out, two, topk=5)
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[-4:] == ["top1_label", "top1_score", "top2_label", "top2_score"]


def test_truth_and_model_columns(tmp_path):
    rows = [
        ExportRow(PREDS[0], true_label="cat", model="resnet18:ab12", stale=False),
        ExportRow(PREDS[1], corrected="bird", true_label="dog", model="resnet18:0000", stale=True),
    ]
    out = tmp_path / "eval.csv"
    write_csv(out, rows, topk=1)
    with open(out, newline="", encoding="utf-8") as fh:
        a, b = list(csv.DictReader(fh))
    assert (a["true_label"], a["model"], a["stale"]) == ("cat", "resnet18:ab12", "")
    assert (b["true_label"], b["label"], b["stale"]) == ("dog", "bird", "yes")


def test_json_contents_and_summary(tmp_path):
    out = tmp_path / "res.json"
    write_json(out, PREDS, SUMMARY, topk=2, corrections={"/p/a.jpg": "dog"}, extra={"k": 1})
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["processed"] == 2 and doc["summary"]["device_name"] == "Test CPU"
    assert doc["topk"] == 2 and doc["columns"] == columns(2) and doc["k"] == 1
    a, b, bad = doc["predictions"]
    assert a["label"] == "dog" and a["predicted_label"] == "cat" and a["corrected_label"] == "dog"
    assert a["predicted_confidence"] == 0.9
    assert a["topk"] == [{"label": "cat", "score": 0.9}, {"label": "dog", "score": 0.07}]
    assert b["corrected_label"] is None and b["predicted_confidence"] == 0.6
    assert bad["label"] is None and bad["error"].startswith("truncated") and bad["topk"] == []


def test_write_results_by_suffix_and_replaces_atomically(tmp_path):
    out = tmp_path / "r.CSV"
    out.write_text("old contents")
    write_results(out, PREDS, SUMMARY)
    assert out.read_text(encoding="utf-8").startswith("path,label,predicted_label,")
    write_results(tmp_path / "r.json", PREDS, SUMMARY)
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["images"] == 3
    with pytest.raises(PigeonholeError, match=r"\.csv or \.json"):
        write_results(tmp_path / "r.txt", PREDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.CSV", "r.json"]
