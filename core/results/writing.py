"""Write results to CSV or JSON, atomically, keeping apart what the model said and what the
person decided.

Columns: ``label`` is what the user ends up with (their correction, or the model's prediction);
``predicted_label`` and ``predicted_confidence`` are always the model's own (the confidence is the
model's probability for *its* label, never for a corrected one); ``corrected_label`` is set only
when the person changed it. With ground truth (evaluation mode) a ``true_label`` column is added;
results that remember their model get ``model`` and ``stale`` (made by another model than the one
loaded now). Top-k columns go only as far as the model has classes.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputPathError
from ..fileio import atomic_write
from .predictions import Prediction, RunSummary

BASE_COLUMNS = (
    "path",
    "label",
    "predicted_label",
    "predicted_confidence",
    "corrected_label",
    "decode_ms",
    "infer_ms",
    "error",
)
FORMATS = {".csv": "csv", ".json": "json"}


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One result as exported: the model's prediction and what is known besides it."""

    prediction: Prediction
    corrected: str | None = None  # the person's label, when it differs from the model's
    true_label: str | None = None  # from a class-named folder (evaluation mode)
    model: str | None = None  # the model that made it (ModelIdentity.key)
    stale: bool = False  # made by another model than the one loaded now


def columns(
    topk: int = 5, truth: bool = False, model: bool = False, status: bool = False
) -> list[str]:
    cols = list(BASE_COLUMNS) + (["status"] if status else [])
    if truth:
        cols.append("true_label")
    if model:
        cols += ["model", "stale"]
    for i in range(1, topk + 1):
        cols += [f"top{i}_label", f"top{i}_score"]
    return cols


COLUMNS = columns(5)


def _num(x: float | None, digits: int) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def as_rows(
    items: Iterable[Prediction | ExportRow], corrections: Mapping[str, str] | None = None
) -> list[ExportRow]:
    """ExportRows from predictions (with ``corrections`` by path) or rows as they are."""
    rows = []
    for item in items:
        if isinstance(item, ExportRow):
            rows.append(item)
            continue
        fixed = corrections.get(item.path) if corrections else None
        rows.append(ExportRow(item, fixed if fixed != item.label else None))
    return rows


def _shape(rows: list[ExportRow], topk: int) -> tuple[int, bool, bool]:
    """(top-k columns the results can fill, a true_label column?, model columns?)."""
    k = min(topk, max((len(r.prediction.topk) for r in rows), default=0))
    truth = any(r.true_label is not None for r in rows)
    model = any(r.model is not None for r in rows)
    return max(k, 1), truth, model


def row_dict(row: ExportRow, topk: int = 5, truth: bool = False, model: bool = False) -> dict:
    """One result as a flat dict in :func:`columns` order (numbers rounded, None for blanks)."""
    p = row.prediction
    out = {
        "path": p.path,
        "label": row.corrected if row.corrected is not None else p.label,
        "predicted_label": p.label,
        "predicted_confidence": _num(p.confidence, 6),
        "corrected_label": row.corrected,
        "decode_ms": _num(p.decode_ms, 3),
        "infer_ms": _num(p.infer_ms, 3) if p.ok else None,
        "error": p.error,
    }
    if truth:
        out["true_label"] = row.true_label
    if model:
        out["model"] = row.model
        out["stale"] = row.stale
    for i in range(topk):
        label, score = p.topk[i] if i < len(p.topk) else (None, None)
        out[f"top{i + 1}_label"] = label
        out[f"top{i + 1}_score"] = _num(score, 6)
    return out


def _status_dicts(
    rows: list[ExportRow], skipped: Sequence[tuple[str, str]] | None, cols: list[str], shape
) -> Iterator[tuple[dict, ExportRow | None]]:
    """Each row's dict (with its ``status`` when ``skipped`` is given), then the skipped
    files' rows."""
    for r in rows:
        d = row_dict(r, *shape)
        if skipped is not None:
            d["status"] = "classified" if r.prediction.ok else "failed"
        yield d, r
    for path, reason in skipped or ():
        d = dict.fromkeys(cols)
        d.update(path=path, status="skipped", error=reason)
        yield d, None


def write_csv(
    path: str | os.PathLike,
    predictions: Iterable[Prediction | ExportRow],
    topk: int = 5,
    corrections: Mapping[str, str] | None = None,
    skipped: Sequence[tuple[str, str]] | None = None,
) -> None:
    """CSV with a header row; blanks for missing values, ``yes`` in ``stale``; with
    ``skipped`` ((path, reason) pairs), a ``status`` column and a row per skipped file."""
    rows = as_rows(predictions, corrections)
    k, truth, model = _shape(rows, topk)
    cols = columns(k, truth, model, status=skipped is not None)
    with atomic_write(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for d, _ in _status_dicts(rows, skipped, cols, (k, truth, model)):
            if model:
                d["stale"] = "yes" if d["stale"] else ""
            writer.writerow(["" if d[c] is None else d[c] for c in cols])


def write_json(
    path: str | os.PathLike,
    predictions: Iterable[Prediction | ExportRow],
    summary: RunSummary | None = None,
    topk: int = 5,
    corrections: Mapping[str, str] | None = None,
    extra: Mapping | None = None,
    skipped: Sequence[tuple[str, str]] | None = None,
) -> None:
    """``{"summary": {...} | null, "topk": K, "columns": [...], "predictions": [{...}], ...}``;
    each prediction has the CSV's fields plus ``topk`` as a list of ``{label, score}``;
    ``extra`` adds top-level entries (e.g. ``"evaluation"``); ``skipped`` as in
    :func:`write_csv` (skipped rows among the predictions, with ``"status": "skipped"``)."""
    rows = as_rows(predictions, corrections)
    k, truth, model = _shape(rows, topk)
    cols = columns(k, truth, model, status=skipped is not None)
    out = []
    for d, r in _status_dicts(rows, skipped, cols, (k, truth, model)):
        n = min(k, len(r.prediction.topk)) if r is not None else 0
        d["topk"] = [
            {"label": d[f"top{i + 1}_label"], "score": d[f"top{i + 1}_score"]} for i in range(n)
        ]
        out.append(d)
    doc = {
        "summary": summary.to_dict() if summary is not None else None,
        "topk": k,
        "columns": cols,
        "predictions": out,
        **(dict(extra) if extra else {}),
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
    predictions: Iterable[Prediction | ExportRow],
    summary: RunSummary | None = None,
    topk: int = 5,
    corrections: Mapping[str, str] | None = None,
    extra: Mapping | None = None,
    skipped: Sequence[tuple[str, str]] | None = None,
) -> None:
    """CSV or JSON, chosen by the suffix of ``path`` (``extra`` goes into JSON only);
    ``skipped``: (path, reason) of skipped files, as rows with a ``status`` column."""
    try:
        if results_format(path) == "csv":
            write_csv(path, predictions, topk, corrections, skipped)
        else:
            write_json(path, predictions, summary, topk, corrections, extra, skipped)
    except OSError as e:
        raise OutputPathError(f"Cannot write '{path}': {e.strerror or e}") from None
