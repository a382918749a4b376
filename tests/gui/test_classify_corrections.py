"""Corrections are honest and useful (issue 12): a corrected tile shows the person's label and
"corrected", never the model's confidence for another class; the model's own prediction stays
in the details and in exports, apart from the correction."""

from __future__ import annotations

import csv
import json

from classify_helpers import load, run_and_wait, select
from PySide6.QtCore import QRect
from PySide6.QtGui import QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyleOptionViewItem

from pigeonhole.gui.classify.sort_dialog import ALL, SortOptions

HINT_GREY = "#71717a"  # gui/style.qss: QLabel#hint


class RecordingPainter(QPainter):
    """A QPainter that remembers every text drawn with it."""

    def __init__(self, device):
        super().__init__(device)
        self.texts: list[str] = []

    def drawText(self, *args):  # noqa: N802 (Qt API)
        self.texts.append(next(a for a in args if isinstance(a, str)))
        return super().drawText(*args)


def tile_texts(tab, view_row: int) -> list[str]:
    """The texts the grid's delegate paints on the tile of ``view_row``."""
    grid = tab.ui.grid
    index = grid.model().index(view_row, 0)
    option = QStyleOptionViewItem()
    option.initFrom(grid)
    size = grid.delegate.sizeHint(option, index)
    option.rect = QRect(0, 0, size.width(), size.height())
    row = tab.view_model.row(view_row)
    pix = QPixmap(size)
    painter = RecordingPainter(pix)
    try:
        grid.delegate._paint_tile(painter, option, option.rect, row, None)
    finally:
        painter.end()
    return painter.texts


def test_a_corrected_tile_shows_the_label_and_corrected_not_another_class_confidence(
    qtbot, tab, checkpoint_file, image_folder, tmp_path
):
    """Reported: a corrected tile showed "ants 52 %" where 52 % was the model's score for
    bees; the CSV did the same (label=ants, confidence=0.521, predicted_label=bees)."""
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    ok = [i for i in range(tab.view_model.rowCount()) if tab.view_model.row(i).ok]
    fixed, untouched = ok[0], ok[1]
    row = tab.view_model.row(fixed)
    said, conf = row.pred.label, row.pred.confidence
    new = next(c for c in tab.results.class_names if c != said)
    other_score = dict(row.pred.topk)[new]
    select(tab, [fixed])
    assert tab.relabel_selected(new) == 1

    # The tile: the person's label and "corrected"; no percentage at all (neither the model's
    # confidence in its own label nor its score for the corrected class).
    texts = tile_texts(tab, fixed)
    assert new in texts and "corrected" in texts and said not in texts
    assert not any("%" in t for t in texts), texts
    plain = tab.view_model.row(untouched)
    assert f"{plain.pred.confidence * 100:.0f}%" in tile_texts(tab, untouched)
    assert f"{other_score * 100:.0f}%" not in texts

    # The details keep what the model said, with its confidence, apart from the correction.
    select(tab, [fixed])
    details = tab.ui.detail.text.text()
    text_colour = tab.ui.detail.text.palette().color(QPalette.ColorRole.WindowText)
    assert text_colour.name() != HINT_GREY  # read as details, not as the greyed-out hint
    assert f"Label <b>{new}</b>, corrected by hand" in details
    assert f"The model said {said} ({conf:.1%})" in details

    # Exports: label is the person's, predicted_label/predicted_confidence the model's own,
    # corrected_label only where a person changed it; no bare "confidence" beside the label.
    out = tmp_path / "corrected.csv"
    assert tab.export_results(str(out), scope=ALL)
    table = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert "confidence" not in table[0]
    by_path = {r["path"]: r for r in table}
    got = by_path[row.path]
    assert (got["label"], got["predicted_label"], got["corrected_label"]) == (new, said, new)
    assert float(got["predicted_confidence"]) == round(conf, 6)
    other = by_path[plain.path]
    assert other["corrected_label"] == "" and other["label"] == other["predicted_label"]
    out_json = tmp_path / "corrected.json"
    assert tab.export_results(str(out_json), scope=ALL)
    data = json.loads(out_json.read_text(encoding="utf-8"))
    entry = next(r for r in data["predictions"] if r["path"] == row.path)
    assert entry["corrected_label"] == new and entry["predicted_label"] == said
    assert entry["predicted_confidence"] == round(conf, 6)


def test_sorting_puts_a_corrected_image_in_its_class_not_unsure(
    qtbot, tab, checkpoint_file, image_folder, tmp_path
):
    """The model's confidence was for another class: a person's label is not "unsure", however
    unsure the model was."""
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    rows = [r for r in tab.results.rows if r.ok]
    low = min(rows, key=lambda r: r.pred.confidence)
    new = next(c for c in tab.results.class_names if c != low.pred.label)
    view_row = next(i for i in range(tab.view_model.rowCount()) if tab.view_model.row(i) is low)
    select(tab, [view_row])
    assert tab.relabel_selected(new) == 1
    threshold = min(0.99, low.pred.confidence + 0.05)
    dest = tmp_path / "sorted"
    assert tab.sort_results(SortOptions(str(dest), "copy", threshold, "unsure", ALL))
    qtbot.waitUntil(lambda: not tab.output.busy, timeout=30_000)
    name = low.name
    assert (dest / new / name).is_file()
    assert not (dest / "unsure" / name).exists()
