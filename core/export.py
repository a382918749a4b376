"""Write results to CSV or JSON, atomically, with the user's corrections applied.

``label`` is what the user ends up with (their correction, or the model's prediction);
``predicted_label`` is always the model's, and ``corrected`` says whether they differ by hand.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import OutputPathError
from .fileio import atomic_write
from .inference import Prediction, RunSummary

BASE_COLUMNS = (
    "path",
    "label",
    "confidence",
    "decode_ms",
    "infer_ms",
    "error",
    "predicted_label",
    "corrected",
)
FORMATS = {".csv": "csv", ".json": "json"}


def columns(topk: int = 5) -> list[str]:
    cols = list(BASE_COLUMNS)
    for i in range(1, topk + 1):
        cols += [f"top{i}_label", f"top{i}_score"]
    return cols


COLUMNS = columns(5)


def _num(x: float | None, digits: int) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def prediction_row(
    p: Prediction, topk: int = 5, corrections: Mapping[str, str] | None = None
) -> dict:
    """One result as a flat dict in :func:`columns` order (numbers rounded, None for blanks)."""
    corrected = corrections.get(p.path) if corrections else None
    row = {
        "path": p.path,
        "label": corrected if corrected is not None else p.label,
        "confidence": _num(p.confidence, 6),
        "decode_ms": _num(p.decode_ms, 3),
        "infer_ms": _num(p.infer_ms, 3) if p.ok else None,
        "error": p.error,
        "predicted_label": p.label,
        "corrected": corrected is not None and corrected != p.label,
    }
    for i in range(topk):
        label, score = p.topk[i] if i < len(p.topk) else (None, None)
        row[f"top{i + 1}_label"] = label
        row[f"top{i + 1}_score"] = _num(score, 6)
    return row


def write_csv(
    path: str | os.PathLike,
    predictions: Iterable[Prediction],
    topk: int = 5,
    corrections: Mapping[str, str] | None = None,
) -> None:
    """CSV with a header row; blanks for missing values, ``yes`` in ``corrected``."""
    cols = columns(topk)
    with atomic_write(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for p in predictions:
            row = prediction_row(p, topk, corrections)
            row["corrected"] = "yes" if row["corrected"] else ""
            writer.writerow(["" if row[c] is None else row[c] for c in cols])


def write_json(
    path: str | os.PathLike,
    predictions: Iterable[Prediction],
    summary: RunSummary | None = None,
    topk: int = 5,
    corrections: Mapping[str, str] | None = None,
) -> None:
    """``{"summary": {...} | null, "topk": K, "columns": [...], "predictions": [{...}]}``;
    each prediction has the CSV's fields plus ``topk`` as a list of ``{label, score}``."""
    rows = []
    for p in predictions:
        row = prediction_row(p, topk, corrections)
        row["topk"] = [
            {"label": row[f"top{i + 1}_label"], "score": row[f"top{i + 1}_score"]}
            for i in range(min(topk, len(p.topk)))
        ]
        rows.append(row)
    doc = {
        "summary": summary.to_dict() if summary is not None else None,
        "topk": topk,
        "columns": columns(topk),
        "predictions": rows,
    }
    with atomic_write(path, "w") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False, allow_nan=False)
        fh.write("\n")


def results_format(path: str | os.PathLike) -> str:
    """'csv' or 'json' from the file's suffix; a clear error for anything else."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise OutputPathError(
            f"Cannot write results to '{path}': the name must end in .csv or .json."
        )
    return fmt


def write_results(
    path: str | os.PathLike,
    predictions: Iterable[Prediction],
    summary: RunSummary | None = None,
    topk: int = 5,
    corrections: Mapping[str, str] | None = None,
) -> None:
    """CSV or JSON, chosen by the suffix of ``path``."""
    try:
        if results_format(path) == "csv":
            write_csv(path, predictions, topk, corrections)
        else:
            write_json(path, predictions, summary, topk, corrections)
    except OSError as e:
        raise OutputPathError(f"Cannot write '{path}': {e.strerror or e}") from None
