"""Find similar and the map in the Classify tab (issue 25): the grid shows an image's nearest
images in order, with "Similar to NAME · Show all"; a lasso on the map selects exactly its
points' images, and one key labels them all as one undoable step."""

from __future__ import annotations

from collections import Counter

import numpy as np
from classify_helpers import CLASSES, select
from map_helpers import add_results, embedded_predictions
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from pigeonhole.core.insight.similarity import unit_rows
from pigeonhole.gui.classify.similar import NEAREST, NO_EMBEDDINGS


def focus_grid(qtbot, tab) -> None:
    """The window active and the grid focused, so its keys reach the tab's shortcuts."""
    tab.window().activateWindow()
    qtbot.waitActive(tab.window())
    tab.ui.grid.setFocus()


def test_find_similar_shows_the_nearest_images_in_order_until_show_all(qtbot, tab, tmp_path):
    preds, truths = embedded_predictions(tmp_path / "imgs", 150, write=False)
    add_results(tab, preds, truths)
    focus_grid(qtbot, tab)
    select(tab, [40])
    assert tab.similar.action.isEnabled()
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_S)  # the key, on the grid

    unit = unit_rows(np.stack([p.embedding for p in preds]))
    scores = unit @ unit[40]
    scores[40] = np.inf  # the image asked about comes first
    expected = list(np.argsort(-scores, kind="stable")[: NEAREST + 1])
    assert tab.view_model.source_rows() == expected
    assert tab.view_model.row(0).name == "img_00040.png"
    assert tab.ui.grid.currentIndex().row() == 0
    shown = tab.ui.filters.shown.text()
    assert "Similar to img_00040.png" in shown and f"{NEAREST + 1} of 150" in shown
    # the pinned rows stay put while more results arrive...
    more, _ = embedded_predictions(tmp_path / "more", 3, write=False)
    tab.results.add_predictions(more)
    assert tab.view_model.source_rows() == expected
    # ... until "Show all"
    tab.ui.filters.reset.click()
    assert tab.view_model.rowCount() == 153
    assert "Similar" not in tab.ui.filters.shown.text()
    # S and M stay letters in the name filter (the line edit takes them before the shortcuts)
    qtbot.keyClicks(tab.ui.filters.text, "sm")
    assert tab.ui.filters.text.text() == "sm" and tab.map.window is None


def test_find_similar_is_disabled_and_says_why_without_embeddings(qtbot, tab, tmp_path):
    preds, _ = embedded_predictions(tmp_path / "imgs", 12, write=False, embeddings=False)
    add_results(tab, preds)
    focus_grid(qtbot, tab)
    select(tab, [3])
    assert not tab.similar.action.isEnabled()
    assert tab.similar.action.toolTip() == NO_EMBEDDINGS
    assert not tab.map.action.isEnabled() and tab.map.action.toolTip() == NO_EMBEDDINGS
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_S)
    assert tab.view_model.rowCount() == 12 and tab.view_model.pinned_title is None
    assert tab.similar.action in tab.triage.context_menu().actions()


def _open_map(qtbot, tab):
    window = tab.map.show()
    qtbot.waitUntil(lambda: tab.map.projection is not None, timeout=10_000)
    return window


def test_a_lasso_of_1000_points_labels_them_in_one_step_and_one_undo(qtbot, tab, tmp_path):
    preds, truths = embedded_predictions(tmp_path / "imgs", 1_500, write=False)
    add_results(tab, preds, truths)
    window = _open_map(qtbot, tab)
    points = tab.map.projection.points
    assert points.shape == (1_500, 2)
    # a rectangle around the 1,000 points furthest left
    xs = np.sort(points[:, 0])
    cut = (xs[999] + xs[1000]) / 2
    lo, hi = points.min(axis=0) - 1, points.max(axis=0) + 1
    poly = np.array([[lo[0], lo[1]], [cut, lo[1]], [cut, hi[1]], [lo[0], hi[1]]])
    window.scatter.select_polygon(poly)

    inside = sorted(int(k) for k in tab.map.keys[points[:, 0] < cut])
    assert len(inside) == 1_000
    assert tab.view_model.source_rows() == inside
    assert tab.triage.selected_source_rows() == inside
    assert "1,000 images lassoed" in tab.ui.filters.shown.text()

    qtbot.keyClick(window, Qt.Key.Key_2)  # in the map's window: label them all "green"
    stack = tab.triage.history.stack
    assert stack.count() == 1
    assert all(tab.results.row_at(i).label == CLASSES[1] for i in inside)
    outside = set(range(1_500)) - set(inside)
    assert all(tab.results.row_at(i).corrected is None for i in outside)
    stack.undo()
    assert tab.results.correction_count() == 0
    assert all(tab.results.row_at(i).label == preds[i].label for i in inside)


def test_a_mouse_lasso_on_the_map_and_hover_show_the_images(qtbot, tab, tmp_path):
    preds, truths = embedded_predictions(tmp_path / "imgs", 90)
    add_results(tab, preds, truths)
    window = _open_map(qtbot, tab)
    window.resize(900, 600)
    scatter = window.scatter
    view = scatter.plot
    qtbot.waitUntil(lambda: view.isVisible())
    corners = [QPoint(5, 5), QPoint(view.width() - 5, 5)]
    corners += [QPoint(view.width() - 5, view.height() - 5), QPoint(5, view.height() - 5)]
    with qtbot.waitSignal(scatter.lassoed) as got:
        QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=corners[0])
        for c in [*corners[1:], corners[0]]:
            QTest.mouseMove(view.viewport(), c)
            QTest.qWait(30)  # (pyqtgraph's scene takes moves at most ~60 a second)
        QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=corners[0])
    assert len(got.args[0]) == 90  # around the whole view: every point
    assert tab.view_model.rowCount() == 90

    # the point under the mouse, found by the grid lookup, shows its image's name
    i = 17
    scene = scatter.view.mapViewToScene(QPointF(*map(float, scatter.points[i])))
    hit = scatter.point_at(scene)
    assert hit >= 0 and np.allclose(scatter.points[hit], scatter.points[i])
    scatter._on_mouse(scene)
    assert tab.results.row_at(int(tab.map.keys[hit])).name in scatter.card.text.text()


def test_the_map_colours_by_label_prediction_or_right_and_wrong(qtbot, tab, tmp_path):
    preds, truths = embedded_predictions(tmp_path / "imgs", 70, write=False)
    add_results(tab, preds, truths)
    window = _open_map(qtbot, tab)
    tab.results.set_label([0, 1], "blue")  # corrections: the labels, not the predictions

    def legend() -> list[str]:
        return [item.name() for item in window.scatter._items]

    def expected(labels) -> list[str]:
        n = Counter(labels)
        return [f"{c} ({n[c]})" for c in CLASSES]  # in the model's class order

    said = [p.label for p in preds]
    window.colour_by.setCurrentIndex(window.colour_by.findData("predicted"))
    assert legend() == expected(said)
    window.colour_by.setCurrentIndex(window.colour_by.findData("label"))
    qtbot.waitUntil(lambda: legend() == expected(["blue", "blue", *said[2:]]))
    window.colour_by.setCurrentIndex(window.colour_by.findData("correct"))
    wrong = sum(a != t for a, t in zip(["blue", "blue", *said[2:]], truths, strict=True))
    assert legend() == [f"right ({70 - wrong})", f"wrong ({wrong})"]
