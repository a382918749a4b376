"""Messages that say what happened (issue 27): the banner follows undo and redo, the label
picker says how many images it labels, the start page names every checkpoint type."""

from __future__ import annotations

from classify_helpers import CLASSES, select
from PySide6.QtCore import Qt

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def test_undo_and_redo_update_the_banner(qtbot, finished):
    """After Ctrl+Z the banner still said "1 image(s) labelled 'green' (Ctrl+Z undoes)"."""
    tab = finished
    row = next(i for i, r in enumerate(tab.results.rows) if r.ok and r.pred.label != CLASSES[1])
    select(tab, [row])
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_2)
    banner = tab.ui.banner
    assert banner.isVisible() and "labelled 'green'" in banner.text()
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_Z, CTRL)
    assert tab.results.row_at(row).corrected is None
    assert "labelled 'green' (Ctrl+Z undoes)" not in banner.text() or not banner.isVisible()
    assert banner.isVisible() and banner.text().startswith("Undone:"), banner.text()
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_Z, CTRL | SHIFT)
    assert tab.results.row_at(row).corrected == CLASSES[1]
    assert banner.text().startswith("Redone:") and "green" in banner.text(), banner.text()


def test_the_label_picker_says_how_many_images_it_labels(qtbot, finished, monkeypatch):
    from pigeonhole.gui.widgets.label_picker import LabelPicker

    tab = finished
    asked = []
    monkeypatch.setattr(LabelPicker, "exec", lambda self: asked.append(self.prompt.text()) or 0)
    rows = [i for i, r in enumerate(tab.results.rows) if r.ok][:3]
    select(tab, rows)
    tab.triage.act_relabel.trigger()  # L
    select(tab, rows[:1])
    tab.triage.act_relabel.trigger()
    assert asked == ["Label for the 3 selected images:", "Label for this image:"]


def test_the_start_page_names_every_checkpoint_type(window):
    from pigeonhole.core.models.files import CHECKPOINT_SUFFIXES as CHECKPOINT_EXTENSIONS
    from pigeonhole.gui.widgets.drop_zone import NEEDS_MODEL

    zone = window.classify_tab.ui.drop_zone
    zone.show_start(NEEDS_MODEL)
    for ext in CHECKPOINT_EXTENSIONS:
        assert ext in zone.sub.text(), ext
    assert ".onnx" in zone.sub.text()  # ONNX models are models too (issue 22)


def test_copying_twice_says_so_and_the_banner_undoes_the_copy(qtbot, finished, tmp_path):
    """Issue 27: copying into the same folder twice added "_1" duplicates of every image while
    the banner said "12 images copied.", and nothing offered to remove the copies."""
    from pigeonhole.gui.classify.sort_dialog import ALL, SortOptions

    tab = finished
    dest = tmp_path / "sorted"

    def files() -> list:
        return sorted(p for p in dest.rglob("*") if p.is_file() and not p.name.startswith("."))

    def sort() -> None:
        assert tab.sort_results(SortOptions(str(dest), "copy", None, "unsure", ALL))
        qtbot.waitUntil(lambda: not tab.output.busy, timeout=30_000)

    sort()
    assert len(files()) == 12
    banner, undo = tab.ui.banner, tab.ui.banner_action
    assert banner.text() == "12 images copied." and undo.isVisible() and undo.text() == "Undo"
    sort()
    assert len(files()) == 12  # no "_1" duplicates
    assert banner.text() == "0 images copied, 12 already there."
    assert not undo.isVisible()  # this one made nothing to undo
    assert tab.output.last_manifest is not None  # the first copy can still be undone
    assert tab.ui.undo_button.isVisible() and tab.ui.undo_button.text() == "Undo copy"
    tab.ui.undo_button.click()
    qtbot.waitUntil(lambda: not tab.output.busy, timeout=30_000)
    assert files() == [] and banner.text().startswith("12 copies removed")
    assert all(__import__("pathlib").Path(r.path).is_file() for r in tab.results.rows)
