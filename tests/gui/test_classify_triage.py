"""Classify tab triage and output: filtering, sorting the grid, relabelling, export, copy and
move+undo into class folders (byte-identical files, nothing overwritten)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from classify_helpers import CLASSES, load, run_and_wait, select

from pigeonhole.gui.classify.results_model import CorrectedRole
from pigeonhole.gui.classify.sort_dialog import ALL, SELECTED, SHOWN, SortOptions


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def finished(qtbot, tab, checkpoint_file, image_folder):
    """A tab with a finished run over ``image_folder`` (12 images + 1 broken)."""
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    qtbot.waitUntil(lambda: tab.ui.filters.label.count() > 1)
    return tab


def shown_paths(tab) -> list[str]:
    return [tab.results.row_at(i).path for i in tab.view_model.source_rows()]


def test_filter_by_class_confidence_text_and_errors(qtbot, finished):
    tab = finished
    rows = tab.results.rows
    counts = tab.results.class_counts()
    label, n = counts.most_common(1)[0]
    # The class combo lists counts; choosing a class shows exactly its images.
    i = tab.ui.filters.label.findData(label)
    assert tab.ui.filters.label.itemText(i) == f"{label} ({n})"
    tab.ui.filters.label.setCurrentIndex(i)
    assert tab.view_model.rowCount() == n
    assert all(tab.results.row_at(s).label == label for s in tab.view_model.source_rows())
    assert tab.ui.filters.shown.text() == f"Showing {n} of 13"
    tab.ui.filters.clear()
    assert tab.view_model.rowCount() == 13

    # Confidence range: only rows inside it (failed rows have no confidence).
    confs = sorted(r.pred.confidence for r in rows if r.ok)
    lo = confs[len(confs) // 2]
    tab.ui.filters.min_conf.setValue(int(lo * 100))
    expected = [r.path for r in rows if r.ok and r.pred.confidence >= int(lo * 100) / 100]
    assert 0 < len(expected) < 12
    assert sorted(shown_paths(tab)) == sorted(expected)
    tab.ui.filters.clear()

    tab.ui.filters.text.setText("IMG_00011")  # case-insensitive, debounced
    qtbot.waitUntil(lambda: tab.view_model.rowCount() == 1)
    assert shown_paths(tab)[0].endswith("img_00011.jpg")
    tab.ui.filters.clear()

    tab.ui.filters.errors_only.setChecked(True)
    assert [Path(p).name for p in shown_paths(tab)] == ["broken.jpg"]
    assert "(1)" in tab.ui.filters.errors_only.text()
    tab.ui.filters.clear()
    assert tab.view_model.rowCount() == 13
    assert not tab.ui.grid.grab().isNull()


def test_sort_by_confidence_and_name(finished):
    tab = finished
    tab.ui.filters.set_sort("confidence", descending=True)
    confs = [tab.results.row_at(i).pred.confidence for i in tab.view_model.source_rows()]
    ok = [c for c in confs if c is not None]
    assert ok == sorted(ok, reverse=True)
    tab.ui.filters.set_sort("name")
    names = [Path(p).name for p in shown_paths(tab)]
    assert names == sorted(names)
    tab.ui.filters.set_sort("order")
    assert tab.view_model.source_rows() == list(range(13))


def test_relabel_selected_tiles_and_export_uses_corrections(qtbot, finished, tmp_path, monkeypatch):
    tab = finished
    a, b, c = [i for i, r in enumerate(tab.results.rows) if r.ok][:3]
    select(tab, [a, b])
    originals = [tab.results.row_at(a).pred.label, tab.results.row_at(b).pred.label]
    new = (
        next(c for c in CLASSES if c not in originals)
        if set(originals) != set(CLASSES)
        else "other"
    )
    offered = []
    monkeypatch.setattr(
        tab, "_ask_label", lambda cur, choices, _n=1: offered.extend(choices) or new
    )
    tab.triage.act_relabel.trigger()  # the menu action (L / F2)
    assert set(CLASSES) <= set(offered)
    for k, i in enumerate((a, b)):
        r = tab.results.row_at(i)
        assert r.label == new and r.corrected == new and r.pred.label == originals[k]
        assert tab.view_model.index(i).data(CorrectedRole)
    assert not tab.view_model.index(c).data(CorrectedRole)
    assert tab.results.corrections() == {tab.results.row_at(i).path: new for i in (a, b)}
    # The corrected class shows up in the per-class counts.
    qtbot.waitUntil(lambda: tab.ui.filters.label.findData(new) >= 0)

    out_csv = tmp_path / "out" / "results.csv"
    monkeypatch.setattr(tab, "_ask_save_path", lambda: str(out_csv))
    scopes = []  # two tiles are selected: which results, all or those two?
    monkeypatch.setattr(tab, "_ask_export_scope", lambda counts: scopes.append(counts) or ALL)
    tab.output.act_export.trigger()
    assert scopes == [{ALL: 13, SHOWN: 13, SELECTED: 2}]
    with open(out_csv, newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 13
    by_path = {row["path"]: row for row in table}
    for k, i in enumerate((a, b)):
        r = tab.results.row_at(i)
        assert by_path[r.path]["label"] == new
        assert by_path[r.path]["predicted_label"] == originals[k]
    untouched = tab.results.row_at(c)
    assert by_path[untouched.path]["label"] == untouched.pred.label
    assert [f.name for f in out_csv.parent.iterdir()] == ["results.csv"]  # no temp file left

    out_json = tmp_path / "results.json"
    assert tab.export_results(str(out_json))
    data = json.loads(out_json.read_text(encoding="utf-8"))
    text = json.dumps(data)
    assert text.count(f'"label": "{new}"') >= 2

    # Removing the correction restores the model's label.
    select(tab, [a])
    tab.triage.act_unlabel.trigger()
    assert tab.results.row_at(a).corrected is None
    assert tab.results.row_at(a).label == originals[0]


def test_copy_into_folders_leaves_sources_identical_and_never_overwrites(finished, qtbot, tmp_path):
    tab = finished
    before = {r.path: digest(r.path) for r in tab.results.rows}
    dest = tmp_path / "sorted"
    first = next(r for r in tab.results.rows if r.ok)
    (dest / first.label).mkdir(parents=True)
    (dest / first.label / first.name).write_bytes(b"already here")  # a name collision
    assert tab.sort_results(SortOptions(str(dest), "copy", None, "unsure", ALL))
    assert not tab.ui.sort_button.isEnabled()  # one file operation at a time
    qtbot.waitUntil(lambda: not tab.output.busy, timeout=30_000)
    assert {r.path: digest(r.path) for r in tab.results.rows} == before  # sources untouched
    copied = sorted(p for p in dest.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert len(copied) == 13  # 12 copies + the file that was there
    assert (dest / first.label / first.name).read_bytes() == b"already here"
    for r in tab.results.rows:
        if r.ok:
            matches = [p for p in (dest / r.label).iterdir() if digest(p) == before[r.path]]
            assert len(matches) == 1
    assert tab.ui.undo_button.isEnabled()  # a copy can be undone too (issue 27)
    # the name collision is said: another file had the name, the copy got "_1"
    assert "12 images copied, 1 renamed" in tab.ui.run_status.text()


def test_move_with_unsure_folder_then_undo(finished, qtbot, tmp_path):
    tab = finished
    ok_rows = [r for r in tab.results.rows if r.ok]
    before = {r.path: digest(r.path) for r in ok_rows}
    threshold = sorted(r.pred.confidence for r in ok_rows)[len(ok_rows) // 2]
    select(tab, [tab.view_model.view_row(tab.results.rows.index(r)) for r in ok_rows])
    dest = tmp_path / "sorted"
    assert tab.sort_results(SortOptions(str(dest), "move", threshold, "unsure", SELECTED))
    qtbot.waitUntil(lambda: not tab.output.busy, timeout=30_000)
    assert all(not Path(p).exists() for p in before)  # moved away
    moved = {r.path for r in tab.results.rows if r.ok}  # rows follow their files
    assert all(Path(p).is_file() and dest in Path(p).parents for p in moved)
    unsure = {Path(p).name for p in moved if Path(p).parent.name == "unsure"}
    expect_unsure = {
        Path(p).name for p, r in zip(before, ok_rows, strict=True) if r.pred.confidence < threshold
    }
    assert unsure == expect_unsure
    assert tab.ui.undo_button.isEnabled() and tab.output.act_undo.isEnabled()
    manifest = Path(tab.output.last_manifest)
    assert manifest.is_file()

    assert tab.undo_last_move()
    qtbot.waitUntil(lambda: not tab.output.busy, timeout=30_000)
    assert {p: digest(p) for p in before} == before  # back, byte-identical
    assert {r.path for r in tab.results.rows if r.ok} == set(before)
    assert not tab.ui.undo_button.isEnabled()
    # Everything is back: nothing is left in the destination, the hidden record of the move
    # included (it used to stay behind as .pigeonhole-moves-*.json).
    assert not manifest.exists()
    assert not any(p.is_file() for p in dest.rglob("*"))


def test_export_writes_the_filtered_rows_when_asked_and_no_empty_top_k_columns(
    qtbot, finished, tmp_path, monkeypatch
):
    tab = finished
    label, n = tab.results.class_counts().most_common(1)[0]
    tab.ui.filters.label.setCurrentIndex(tab.ui.filters.label.findData(label))
    assert tab.view_model.rowCount() == n < 13
    asked = []
    monkeypatch.setattr(tab, "_ask_export_scope", lambda counts: asked.append(counts) or SHOWN)
    out = tmp_path / "shown.csv"
    assert tab.export_results(str(out))
    assert asked == [{ALL: 13, SHOWN: n, SELECTED: 0}]
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        table, header = list(reader), reader.fieldnames
    assert len(table) == n and {row["label"] for row in table} == {label}
    # A 3-class model: top-1..top-3, never an empty top-4 or top-5 column.
    assert [c for c in header if c.startswith("top")] == [
        f"top{i}_{kind}" for i in (1, 2, 3) for kind in ("label", "score")
    ]
    assert all(row["top3_label"] for row in table)

    # Nothing filtered and at most one tile selected: no question, every result.
    tab.ui.filters.clear()
    assert tab.export_results(str(tmp_path / "all.json")) and len(asked) == 1
    assert len(json.loads((tmp_path / "all.json").read_text())["predictions"]) == 13
