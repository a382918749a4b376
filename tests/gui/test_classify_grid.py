"""Classify tab grid at scale: bounded thumbnail cache, thumbnails re-made off-thread only for
painted tiles, tile size, preview, and a 2,000-image run shown as it goes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from classify_helpers import load, make_images, run_and_wait
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage

from pigeonhole.core.results.predictions import Prediction
from pigeonhole.gui.widgets.thumbnails import DEFAULT_CACHE_BYTES, THUMB_SIDE, ThumbnailCache

ROOT = Path(__file__).resolve().parents[2]


def thumb(w=THUMB_SIDE, h=144) -> QImage:
    img = QImage(w, h, QImage.Format.Format_RGB888)
    img.fill(0x336699)
    return img


def test_cache_is_an_lru_bounded_by_bytes():
    one = thumb().sizeInBytes()
    cache = ThumbnailCache(max_bytes=10 * one)
    for i in range(50):
        cache.put(f"/img/{i}.jpg", thumb())
        if i == 5:
            assert cache.get("/img/0.jpg") is not None  # touched: becomes most recent
    assert cache.nbytes <= 10 * one and len(cache) == 10
    assert "/img/49.jpg" in cache and "/img/10.jpg" not in cache
    # The app's budget: 20,000 results never hold more thumbnail memory than this.
    assert DEFAULT_CACHE_BYTES <= 300 * 1024 * 1024


def test_20000_rows_only_painted_tiles_ask_for_thumbnails(qtbot, tab, tmp_path):
    preds = [
        Prediction(
            i,
            str(tmp_path / f"gone_{i:05d}.jpg"),
            "cat",
            0.5 + (i % 50) / 100,
            (("cat", 0.9),),
            1.0,
            2.0,
            None,
        )
        for i in range(20_000)
    ]
    for start in range(0, 20_000, 500):  # as batches arrive
        tab.results.add_predictions(preds[start : start + 500])
    tab.ui.drop_zone.show_content()
    assert tab.view_model.rowCount() == 20_000
    requested = []
    real_request = tab.loader.request
    tab.loader.request = lambda path: requested.append(path) or real_request(path)
    tab.ui.grid.grab()  # paint the first screenful
    grid = tab.ui.grid

    def at_bottom() -> bool:  # the batched layout reaches the end in steps
        grid.scrollToBottom()
        return grid.indexAt(QPoint(20, grid.viewport().height() - 30)).row() > 19_900

    qtbot.waitUntil(at_bottom, timeout=20_000)
    grid.grab()
    assert 0 < len(set(requested)) < 300  # two screenfuls, not 20,000 files
    assert str(tmp_path / "gone_19999.jpg") in requested
    qtbot.waitUntil(lambda: tab.loader.pending == 0, timeout=20_000)
    assert len(tab.cache.failed) == len(set(requested))  # missing files: placeholder, no retry
    n = len(requested)
    tab.ui.grid.grab()
    assert len(requested) == n
    # Filter and sort over 20,000 rows.
    tab.ui.filters.set_sort("confidence", descending=True)
    assert tab.results.row_at(tab.view_model.source_row(0)).pred.confidence == 0.99
    tab.ui.filters.min_conf.setValue(90)
    assert tab.view_model.rowCount() == 20_000 * 9 // 50 + 400  # 0.90 .. 0.99


def test_evicted_thumbnails_are_remade_from_the_file(qtbot, tab, checkpoint_file, image_folder):
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    ok = [r.path for r in tab.results.rows if r.ok]
    assert all(tab.cache.get(p) is not None for p in ok)
    tab.cache.clear()  # as if evicted
    tab.ui.grid.set_tile_size(96)
    tab.ui.grid.grab()  # painting asks the loader for what is on screen
    qtbot.waitUntil(lambda: all(p in tab.cache for p in ok), timeout=20_000)
    img = tab.cache.get(ok[0])
    assert max(img.width(), img.height()) <= THUMB_SIDE
    bad = next(r.path for r in tab.results.rows if not r.ok)
    assert bad not in tab.cache and bad not in tab.cache.failed  # failed tiles never ask
    tab.ui.tile_slider.setValue(200)
    assert tab.ui.grid.tile_size == 200
    assert tab.ui.grid.sizeHintForIndex(tab.ui.grid.model().index(0, 0)).width() == 200


def test_preview_opens_on_double_click_with_the_full_image(
    qtbot, tab, checkpoint_file, image_folder
):
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    row = next(i for i, r in enumerate(tab.results.rows) if r.ok)
    idx = tab.ui.grid.model().index(row, 0)
    tab.ui.grid.setCurrentIndex(idx)
    assert "decode" in tab.ui.detail.text.text() and "%" in tab.ui.detail.text.text()
    with qtbot.waitSignal(tab.ui.grid.preview_requested):
        tab.ui.grid.doubleClicked.emit(idx)
    dialog = tab.triage.preview
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog._image is not None, timeout=10_000)
    assert (dialog._image.width(), dialog._image.height()) == (
        48,
        36,
    )  # full size, not the thumbnail
    dialog.close()


def test_a_2000_image_run_fills_the_grid_and_plots_as_it_goes(
    qtbot, tab, checkpoint_file, tmp_path
):
    """Batches reach the grid and the plots during the run, not only at its end, a batch or
    more at a time (one beginInsertRows per hand-over, never per image). (How long the event
    loop ever waits during a run is measured by benchmarks/bench_app.py: timing belongs in
    benchmarks, not in tests.)"""
    folder = tmp_path / "many"
    make_images(folder, 2000, size=(32, 24))
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(16)
    seen_during_run = []
    inserts: list[int] = []
    tab.results.rowsInserted.connect(lambda _parent, first, last: inserts.append(last - first + 1))
    tab.runs.progressed.connect(lambda p: seen_during_run.append(tab.ui.grid.model().rowCount()))
    redraws_during_run: list[int] = []
    tab.runs.progressed.connect(lambda p: redraws_during_run.append(tab.ui.timing.redraws))
    # The plots redraw on a timer (once a second in the app); a run here can be over in about
    # a second, so the timer ticks faster: the test is whether they follow the run, not when.
    tab.ui.timing._timer.setInterval(20)
    summary = run_and_wait(qtbot, tab, [folder], timeout=120_000)
    assert summary.processed == 2000 and tab.results.rowCount() == 2000
    assert tab.ui.grid.model().rowCount() == 2000  # the grid's rows follow the results
    assert len(seen_during_run) >= 2 and seen_during_run[0] < 2000  # shown as they came
    assert sum(inserts) == 2000 and len(inserts) <= 2000 / 16  # batched hand-over
    # The plots were updated live: redrawn between the run's first and last hand-over.
    assert len(redraws_during_run) >= 2 and redraws_during_run[-1] > redraws_during_run[0]


def test_pyside_none_leak_cannot_abort_the_app():
    """PySide6 6.12 drops a reference to None on every void call (QPainter.save, setText...).
    Importing ``gui`` makes None immortal, so a long session (here 200,000 calls in a fresh
    interpreter, whose None count starts near a few thousand) still exits cleanly."""
    code = (
        "import pigeonhole.gui, sys\n"
        "from PySide6.QtWidgets import QApplication, QLabel\n"
        "app = QApplication([]); label = QLabel()\n"
        "for i in range(200_000): label.setText('x')\n"
        "print(sys.getrefcount(None) > 2**59)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_the_grid_spreads_its_spare_width_between_the_columns(
    qtbot, window, checkpoint_file, image_folder
):
    """Seen in screenshots: at many widths the grid left an empty strip of up to a tile's
    width at its right edge. The spare width now goes between the columns, and no width loses
    a column to it (at an exact fit QListView wraps the last one)."""
    from pigeonhole.gui.widgets.thumbnail_view import GAP, MAX_GAP

    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    grid = tab.ui.grid
    n = grid.model().rowCount()
    for width in range(1024, 1960, 47):
        window.resize(width, 768)
        qtbot.wait(30)
        grid.doItemsLayout()
        rects = [grid.visualRect(grid.model().index(i, 0)) for i in range(n)]
        viewport, tile = grid.layout_width(), grid.tile_size
        fit = max(1, (viewport - GAP) // (tile + GAP))  # columns at the least gap
        assert len({r.x() for r in rects}) == min(fit, n), (width, viewport, tile)
        spare = viewport - 1 - max(r.right() for r in rects)  # the right margin
        gap = grid.column_gap
        if len(rects) > fit and gap < MAX_GAP:  # full rows, the gap not capped
            # the trailing gap, one spared, and the rounding of the gap
            assert spare <= 2 * gap + 2 * GAP + fit, (width, spare, gap)
