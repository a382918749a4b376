"""Evaluation mode (issue 12): folders named like the model's classes give each image a ground
truth; the app shows the accuracy `pigeonhole predict --evaluate` prints for the same folder
and model, per-class figures and the confusion matrix in the Evaluation pane, marks the tiles
whose label disagrees with their folder, and filters to exactly those. A folder named like no
class is not an error: its images just have no ground truth."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from classify_helpers import CLASSES, labelled_folders, load, run_and_wait, select
from PySide6.QtGui import QColor

from pigeonhole.cli import main
from pigeonhole.gui.classify.evaluation_view import PANE
from pigeonhole.gui.widgets.tiles import tile_marks


def cli_evaluation(checkpoint: Path, val: Path, out: Path, capsys) -> tuple[dict, str]:
    """`pigeonhole predict VAL --checkpoint C --evaluate --out OUT`: {path: (label, true)}
    and the accuracy figure it prints."""
    capsys.readouterr()
    argv = ["predict", str(val), "--checkpoint", str(checkpoint), "--evaluate", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    accuracy = re.search(r"evaluation: accuracy ([\d.]+%) on (\d+) images", err)
    assert accuracy, err
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    by_path = {str(Path(r["path"]).resolve()): (r["label"], r["true_label"] or None) for r in rows}
    return by_path, accuracy.group(1)


def strip_pixel(tab, view_row: int) -> QColor:
    """A pixel at the left end of the band a disagreement mark paints across the bottom of a
    tile's image (gui.widgets.tiles: the tile inset 4, the image 6 more, the text 40 below)."""
    grid = tab.ui.grid
    rect = grid.visualRect(grid.model().index(view_row, 0))
    img = grid.viewport().grab().toImage()
    return img.pixelColor(rect.left() + 4 + 6 + 2, rect.bottom() - 4 - 40 - 2)


def test_evaluation_on_class_named_folders_matches_the_command_line(
    qtbot, tab, checkpoint_file, other_checkpoint, tmp_path, capsys
):
    val = labelled_folders(tmp_path)
    cli, cli_accuracy = cli_evaluation(checkpoint_file, val, tmp_path / "cli.csv", capsys)
    assert len(cli) == 21

    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [val])
    panel = tab.trust.evaluation.panel
    qtbot.waitUntil(lambda: tab.ui.side.pane_visible(PANE) and panel.report is not None)
    report = panel.report

    # The same labels, the same ground truth, so the same figures as the command line.
    app = {str(Path(r.path).resolve()): (r.pred.label, r.truth) for r in tab.results.rows}
    assert app == cli
    assert f"{report.accuracy:.1%}" == cli_accuracy
    assert f"Accuracy {cli_accuracy}" in panel.summary.text()
    assert report.with_truth == 18 and report.without_truth == 3
    assert "3 more in folders named like no class" in panel.summary.text()
    truth_index = {name: i for i, name in enumerate(CLASSES)}
    expected = [[0] * 3 for _ in CLASSES]
    for label, true in cli.values():
        if true is not None:
            expected[truth_index[true]][truth_index[label]] += 1
    assert [list(row) for row in report.metrics.confusion] == expected
    assert panel.confusion.matrix == expected
    assert panel.table.rowCount() == 3
    red = next(c for c in report.metrics.per_class if c.name == "red")
    row = next(i for i in range(3) if panel.table.item(i, 0).text() == "red")
    assert panel.table.item(row, 1).text() == f"{red.precision:.3f}"
    assert panel.table.item(row, 2).text() == f"{red.recall:.3f}"

    # Disagreements: the three stray images at least; marked on their tiles, and nowhere else.
    wrong = {p for p, (label, true) in cli.items() if true is not None and label != true}
    assert {str(Path(p).resolve()) for p in report.disagreements} == wrong
    strays = {str(p.resolve()) for p in val.glob("*/stray_*.jpg")}
    assert strays <= wrong
    for r in tab.results.rows:
        disagrees = str(Path(r.path).resolve()) in wrong
        assert tile_marks(r) == ((f"folder: {r.truth}",) if disagrees else ())
    misc = [r for r in tab.results.rows if Path(r.path).parent.name == "misc"]
    assert len(misc) == 3 and all(r.truth is None and not r.disagrees for r in misc)
    tab.ui.grid.doItemsLayout()
    agreeing = next(
        i
        for i in range(tab.view_model.rowCount())
        if str(Path(tab.view_model.row(i).path).resolve()) not in wrong
    )
    plain = strip_pixel(tab, agreeing)
    assert not (plain.red() > 150 and plain.green() < 90 and plain.blue() < 90)

    # The filter shows exactly the disagreeing rows (the pane's button turns it on).
    box = tab.ui.filters.disagreements_only
    assert box.isVisibleTo(tab) and f"({len(wrong)})" in box.text()
    assert panel.disagreements_button.isEnabled()
    panel.disagreements_button.click()
    assert box.isChecked()
    shown = {
        str(Path(tab.view_model.row(i).path).resolve()) for i in range(tab.view_model.rowCount())
    }
    assert shown == wrong
    tab.ui.grid.doItemsLayout()
    for i in range(tab.view_model.rowCount()):
        mark = strip_pixel(tab, i)
        assert mark.red() > 150 and mark.green() < 90 and mark.blue() < 90, mark.name()
    box.setChecked(False)
    assert tab.view_model.rowCount() == 21

    # A person puts a stray image right, in the filtered grid: it leaves the filter; the
    # figures stay the model's own, and the pane says how many remain with the corrections.
    box.setChecked(True)
    stray = next(p for p in strays if p in wrong)
    fixed = next(
        i
        for i in range(tab.view_model.rowCount())
        if str(Path(tab.view_model.row(i).path).resolve()) == stray
    )
    select(tab, [fixed])
    assert tab.relabel_selected(tab.view_model.row(fixed).truth) == 1
    assert tab.view_model.rowCount() == len(wrong) - 1
    assert stray not in {
        str(Path(tab.view_model.row(i).path).resolve()) for i in range(tab.view_model.rowCount())
    }
    qtbot.waitUntil(lambda: f"({len(wrong) - 1})" in box.text())
    assert f"({len(wrong) - 1} counting your corrections)" in panel.summary.text()
    assert panel.report.accuracy == report.accuracy

    # Another model loaded: the figures are said to be the earlier model's.
    load(qtbot, tab, other_checkpoint)
    qtbot.waitUntil(lambda: "not the model loaded now" in panel.summary.text())
    assert "colours.pth" in panel.summary.text()


def test_folders_named_like_no_class_have_no_evaluation(qtbot, tab, checkpoint_file, image_folder):
    """Not an error: no Evaluation pane, no disagreement filter, no marks."""
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    assert tab.results.rowCount() > 0
    assert all(r.truth is None and tile_marks(r) == () for r in tab.results.rows)
    assert not tab.ui.side.pane_visible(PANE)
    assert tab.trust.evaluation.report is None
    assert not tab.ui.filters.disagreements_only.isVisibleTo(tab)
