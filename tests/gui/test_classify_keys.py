"""One-key triage: number keys and the context menu label the selection, the label picker
never turns a typo into a class, Ctrl+Z / Ctrl+Shift+Z undo and redo corrections, the preview
steps with the arrow keys and takes label keys, "Review uncertain" goes lowest first."""

from __future__ import annotations

from classify_helpers import CLASSES, select
from PySide6.QtCore import Qt

from pigeonhole.gui.widgets.label_picker import LabelPicker

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def labels(tab, rows) -> list[str | None]:
    return [tab.results.row_at(i).label for i in rows]


def not_predicted_as(tab, label: str, n: int) -> list[int]:
    return [i for i, r in enumerate(tab.results.rows) if r.ok and r.pred.label != label][:n]


def test_number_keys_label_the_selection_and_ctrl_z_undoes_ctrl_shift_z_redoes(qtbot, finished):
    tab = finished
    grid = tab.ui.grid
    rows = not_predicted_as(tab, CLASSES[1], 2)
    before = labels(tab, rows)
    select(tab, rows)  # the view is in run order: view rows are result rows
    qtbot.keyClick(grid, Qt.Key.Key_2)
    assert labels(tab, rows) == [CLASSES[1]] * 2
    assert all(tab.results.row_at(i).corrected == CLASSES[1] for i in rows)
    assert all(tab.results.row_at(i).pred.label != CLASSES[1] for i in rows)  # kept apart

    qtbot.keyClick(grid, Qt.Key.Key_3)  # another key: a second step
    assert labels(tab, rows) == [CLASSES[2] if b != CLASSES[2] else b for b in before]
    qtbot.keyClick(grid, Qt.Key.Key_Z, CTRL)
    assert labels(tab, rows) == [CLASSES[1]] * 2
    qtbot.keyClick(grid, Qt.Key.Key_Z, CTRL)
    assert labels(tab, rows) == before and not tab.results.corrections()
    qtbot.keyClick(grid, Qt.Key.Key_Z, CTRL | SHIFT)
    assert labels(tab, rows) == [CLASSES[1]] * 2
    assert "Undo" in tab.triage.act_undo.text() and tab.triage.act_redo.isEnabled()
    qtbot.keyClick(grid, Qt.Key.Key_9)  # no ninth class: nothing happens
    assert labels(tab, rows) == [CLASSES[1]] * 2


def test_the_context_menu_offers_each_class_with_its_key(finished):
    tab = finished
    rows = not_predicted_as(tab, CLASSES[0], 1)
    select(tab, rows)
    menu = tab.triage.context_menu()
    items = {a.text(): a for a in menu.actions() if a.text()}
    for k, name in enumerate(CLASSES):
        assert items[f"Label '{name}'"].shortcut().toString() == str(k + 1)
    items[f"Label '{CLASSES[0]}'"].trigger()
    assert labels(tab, rows) == [CLASSES[0]]
    assert "&Label…" in items and "Review &uncertain" in items


def test_the_label_picker_filters_and_never_makes_a_typo_a_class(qtbot):
    asked = []
    picker = LabelPicker(["cat", "dog", "ferret"], current="dog", count=3)
    qtbot.addWidget(picker)
    picker.show()
    assert picker.current_label() == "dog" and "3 selected" in picker.prompt.text()
    qtbot.keyClicks(picker.filter, "fer")
    assert picker.current_label() == "ferret"
    picker.filter.clear()
    qtbot.keyClicks(picker.filter, "doog")  # a typo: matches nothing
    assert picker.current_label() is None and picker.none_found.isVisible()
    qtbot.keyClick(picker.filter, Qt.Key.Key_Return)
    assert picker.chosen() is None and not picker.result()  # not accepted, not a class
    picker.filter.clear()
    qtbot.keyClicks(picker.filter, "d")
    qtbot.keyClick(picker.filter, Qt.Key.Key_Return)
    assert picker.chosen() == "dog"

    # "New class…" is the only way to a new label, and a known name takes the known class.
    for typed, expected in ((" Cat ", "cat"), ("hamster", "hamster"), (None, None)):
        picker = LabelPicker(["cat", "dog"], ask_name=lambda _p, t=typed: asked.append(t) or t)
        qtbot.addWidget(picker)
        picker.new_button.click()
        assert picker.chosen() == expected
    assert asked == [" Cat ", "hamster", None]


def test_the_preview_steps_with_arrows_takes_label_keys_and_shows_the_top_k(qtbot, finished):
    tab = finished
    first = next(i for i, r in enumerate(tab.results.rows) if r.ok)
    select(tab, [first])
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_Space)
    preview = tab.triage.preview
    assert preview is not None and preview.isVisible() and preview.position == first
    for name, _score in tab.results.row_at(first).pred.topk:  # the model's top-k, in %
        assert name in preview.details.text()
    assert "%" in preview.details.text() and f"{first + 1} of 13" in preview.where.text()
    assert "<b>1</b> red" in preview.keys.text()

    qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert preview.position == first + 1 and tab.ui.grid.currentIndex().row() == first + 1
    for _ in range(first + 2):  # back to the first, and one more: it stays there
        qtbot.keyClick(preview, Qt.Key.Key_Left)
    assert preview.position == 0 and not preview.previous_button.isEnabled()

    target = next(i for i in not_predicted_as(tab, CLASSES[2], 13) if i < 12)
    for _ in range(target):
        qtbot.keyClick(preview, Qt.Key.Key_Down)
    assert preview.position == target
    qtbot.keyClick(preview, Qt.Key.Key_3)  # label, then on to the next image
    assert tab.results.row_at(target).label == CLASSES[2]
    assert preview.position == target + 1
    qtbot.keyClick(preview, Qt.Key.Key_Z, CTRL)  # undo works in the preview too
    assert tab.results.row_at(target).corrected is None
    preview.close()


def test_review_uncertain_goes_through_the_lowest_confidence_first(qtbot, finished):
    tab = finished
    preview = tab.triage.review_uncertain()
    assert tab.ui.filters.sort.currentData() == "confidence"
    assert not tab.ui.filters.descending.isChecked()
    ok = sorted((r.pred.confidence, i) for i, r in enumerate(tab.results.rows) if r.ok)
    shown = []
    for _ in range(3):
        shown.append(tab.view_model.source_row(preview.position))
        qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert shown == [i for _, i in ok[:3]]
    preview.close()


def test_h_shows_the_heat_map_in_the_preview_and_another_class_on_demand(qtbot, finished, tmp_path):
    """Issue 24: the preview lays the heat map over the image (H or the button), made on a
    worker; the class list explains another class; H again shows the photo."""
    tab = finished
    first = next(i for i, r in enumerate(tab.results.rows) if r.ok)
    select(tab, [first])
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_Space)
    preview = tab.triage.preview
    heat = preview.heat
    assert (
        heat is not None and heat.button.isEnabled() and "<b>H</b> heat map" in preview.keys.text()
    )
    qtbot.keyClick(preview, Qt.Key.Key_H)
    top = tab.results.row_at(first).pred.label
    qtbot.waitUntil(lambda: heat.caption.text().startswith("CAM for"), timeout=60_000)
    assert f"'{top}'" in heat.caption.text() and preview._overlay is not None
    other = heat.classes.findData(next(c for c in CLASSES if c != top))
    heat.classes.setCurrentIndex(other)
    heat.classes.activated.emit(other)
    wanted = heat.classes.itemData(other)
    qtbot.waitUntil(lambda: f"'{wanted}'" in heat.caption.text(), timeout=60_000)
    qtbot.keyClick(preview, Qt.Key.Key_H)
    assert preview._overlay is None and heat.caption.text() == ""
    assert preview.grab().save(str(tmp_path / "preview_heatmap.png"))
    preview.close()
