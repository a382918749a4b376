"""Results know their model (issue 12): rows from another model than the one loaded now are
marked on their tiles, in their details and in exports, and "Classify again with this model"
re-runs the same paths with the person's corrections kept; a model's warnings are said once."""

from __future__ import annotations

import csv

from classify_helpers import load, run_and_wait, select

from pigeonhole.gui.classify.questions import QUEUE
from pigeonhole.gui.classify.sort_dialog import ALL
from pigeonhole.gui.widgets.tiles import STALE_TEXT, tile_marks


def first_ok_view_row(tab) -> int:
    return next(i for i in range(tab.view_model.rowCount()) if tab.view_model.row(i).ok)


def test_results_from_another_model_are_marked_and_classified_again(
    qtbot, tab, checkpoint_file, other_checkpoint, image_folder, tmp_path
):
    """Reported: after loading another model the grid kept the old model's labels, with no
    mark and no "re-run"."""
    first = load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    old_key = first.identity().key
    rows = list(tab.results.rows)
    assert rows and all(r.model.key == old_key and not r.stale for r in rows)
    assert tab.ui.stale_bar.isHidden()
    view_row = first_ok_view_row(tab)
    corrected = tab.view_model.row(view_row)
    label = next(c for c in tab.results.class_names if c != corrected.pred.label)
    select(tab, [view_row])
    assert tab.relabel_selected(label) == 1
    tab.ui.grid.doItemsLayout()
    before = tab.ui.grid.viewport().grab().toImage()

    second = load(qtbot, tab, other_checkpoint)
    qtbot.waitUntil(lambda: tab.results.stale_count() == len(rows))
    assert all(r.stale for r in tab.results.rows)
    # visibly: the tiles (dimmed, "other model"), the bar above the grid, the details
    assert all(tile_marks(r)[:1] == (STALE_TEXT,) for r in tab.results.rows)
    assert tab.ui.grid.viewport().grab().toImage() != before
    assert tab.ui.stale_bar.isVisible()
    bar = tab.ui.stale_bar.text.text()
    assert "colours.pth" in bar and "other.pth" in bar
    select(tab, [view_row])
    assert "not the model loaded now" in tab.ui.detail.text.text()
    # and in exports: the model that made each result, and that it is stale
    out = tmp_path / "stale.csv"
    assert tab.export_results(str(out), scope=ALL)
    exported = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["stale"] for r in exported} == {"yes"}
    assert {r["model"] for r in exported} == {old_key}

    # Classify again: the same paths, the loaded model, the correction kept with its file
    assert tab.trust.stale.act_again.isEnabled()
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        tab.ui.stale_bar.button.click()
    new_key = second.identity().key
    assert sorted(r.path for r in tab.results.rows) == sorted(r.path for r in rows)
    assert all(r.model.key == new_key and not r.stale for r in tab.results.rows)
    assert tab.results.stale_count() == 0 and tab.ui.stale_bar.isHidden()
    again = next(r for r in tab.results.rows if r.path == corrected.path)
    assert again.label == label

    # The same weights loaded again (a new LoadedModel of the same file): nothing is stale.
    load(qtbot, tab, other_checkpoint)
    qtbot.waitUntil(lambda: tab.trust.stale.current is not None)
    assert tab.results.stale_count() == 0 and tab.ui.stale_bar.isHidden()


def test_a_model_that_cannot_tell_classes_apart_is_said_once(
    qtbot, tab, flat_checkpoint, image_folder, tmp_path, monkeypatch
):
    """Reported: a model giving 50/50 on every image filled the grid with "ants 50 %" and no
    warning. Two runs (one queued behind the other) say it once, in the warning colour."""
    load(qtbot, tab, flat_checkpoint)
    more = tmp_path / "more"
    more.mkdir()
    for p in sorted(image_folder.glob("img_*"))[:4]:
        (more / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(tab, "_choose_new_run", lambda: QUEUE)
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000) as done:
        tab.classify_paths([str(image_folder)])
        tab.classify_paths([str(more)])
    assert done.args[0].warnings
    banner = tab.ui.banner.text()
    assert tab.ui.banner.isVisible() and tab.ui.banner.property("warning")
    assert not tab.ui.banner.property("error")
    assert banner.count("same probability") == 1
    assert "same probability" in tab.ui.timing.summary.text()
