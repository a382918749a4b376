"""core.export: CSV/JSON contents, corrections, atomic writes."""

from __future__ import annotations

import csv
import json

import pytest

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.export import COLUMNS, columns, write_csv, write_json, write_results
from pigeonhole.core.predictions import Prediction, RunSummary

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
        "path", "label", "confidence", "decode_ms", "infer_ms", "error", "predicted_label", "corrected",
    ]  # fmt: skip
    assert COLUMNS[8:12] == ["top1_label", "top1_score", "top2_label", "top2_score"]
    assert len(columns(2)) == 8 + 4


def test_csv_contents_and_corrections(tmp_path):
    out = tmp_path / "res.csv"
    write_csv(out, PREDS, topk=3, corrections={"/p/b,with comma.jpg": "bird", "/p/a.jpg": "cat"})
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == columns(3)
    a, b, bad = rows
    assert (a["label"], a["confidence"], a["corrected"], a["top2_label"], a["top3_score"]) == (
        "cat", "0.9", "", "dog", "0.03",
    )  # fmt: skip
    assert (b["path"], b["label"], b["predicted_label"], b["corrected"]) == (
        "/p/b,with comma.jpg", "bird", "dog", "yes",
    )  # fmt: skip
    assert b["top3_label"] == "" and b["top3_score"] == ""
    assert bad["label"] == "" and bad["error"] == "truncated or incomplete image file"
    assert bad["infer_ms"] == "" and float(bad["decode_ms"]) == 0.5
    assert float(a["infer_ms"]) == 20.25
    assert [p.name for p in tmp_path.iterdir()] == ["res.csv"]  # no temp file left behind


def test_json_contents_and_summary(tmp_path):
    out = tmp_path / "res.json"
    write_json(out, PREDS, SUMMARY, topk=2, corrections={"/p/a.jpg": "dog"})
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["processed"] == 2 and doc["summary"]["device_name"] == "Test CPU"
    assert doc["topk"] == 2 and doc["columns"] == columns(2)
    a, b, bad = doc["predictions"]
    assert a["label"] == "dog" and a["predicted_label"] == "cat" and a["corrected"] is True
    assert a["topk"] == [{"label": "cat", "score": 0.9}, {"label": "dog", "score": 0.07}]
    assert b["corrected"] is False and b["confidence"] == 0.6
    assert bad["label"] is None and bad["error"].startswith("truncated") and bad["topk"] == []


def test_write_results_by_suffix_and_replaces_atomically(tmp_path):
    out = tmp_path / "r.CSV"
    out.write_text("old contents")
    write_results(out, PREDS, SUMMARY)
    assert out.read_text(encoding="utf-8").startswith("path,label,confidence")
    write_results(tmp_path / "r.json", PREDS, SUMMARY)
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["images"] == 3
    with pytest.raises(PigeonholeError, match=r"\.csv or \.json"):
        write_results(tmp_path / "r.txt", PREDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.CSV", "r.json"]
