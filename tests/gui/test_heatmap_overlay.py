"""Issue 24 in the window, with maps kept from the run (``Prediction.maps``): the preview lays
the kept map on the photo at once (no worker) and makes the others on demand; the grid's
overlay mode (Shift+H, the filter bar's button) lays each tile's kept map over its thumbnail,
coloured once per tile, and tiles without one draw as before.

The maps are made here the way the run keeps them: CAM of the loaded model (cam_maps) on the
image's own preprocessing, quantised to uint8, every class (a three-class model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from classify_helpers import CLASSES, select
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from pigeonhole.core.data.images import load_image
from pigeonhole.core.data.preprocessing import preprocess
from pigeonhole.core.insight.heatmaps import cam_maps
from pigeonhole.core.results.predictions import KeptMaps
from pigeonhole.gui.widgets import tiles

SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT_HOT = np.zeros((4, 4), np.uint8)
LEFT_HOT[:, :2] = 255  # the left half of the network's input: where the map says it looked


def cam_kept(loaded, path: str) -> KeptMaps:
    """Every class's CAM of ``path``, as a run keeps them."""
    x = preprocess(load_image(path), loaded.transform)[None]
    n = len(loaded.class_names)
    maps = cam_maps(loaded.model, loaded.arch, x.repeat(n, 1, 1, 1), list(range(n)))
    values = np.stack([np.round(m.values * 255) for m in maps]).astype(np.uint8)
    return KeptMaps(values, tuple(range(n)), "CAM")


def keep(tab, rows, kept) -> None:
    """Give result ``rows`` the maps ``kept(row)`` (a KeptMaps or None)."""
    for i in rows:
        row = tab.results.row_at(i)
        row.pred = dataclasses.replace(row.pred, maps=kept(row))


def redness(image: QImage, x0: float, x1: float) -> float:
    """Mean red minus blue over the middle rows of ``image`` between the fractions x0..x1."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    a = np.frombuffer(ptr, np.uint8, img.bytesPerLine() * h).reshape(h, -1)[:, : 3 * w]
    a = a.reshape(h, w, 3).astype(np.float32)
    band = a[h // 3 : 2 * h // 3, int(w * x0) : int(w * x1)]
    return float((band[..., 0] - band[..., 2]).mean())


def heat_shift(over: QImage, photo: QImage, x0: float, x1: float) -> float:
    """How much redder (> 0) or bluer (< 0) the map made the band x0..x1: at half opacity,
    a hot map (dark red, 127) gives +64, a cold one (dark blue) -64, whatever the photo's own
    colours."""
    return redness(over, x0, x1) - 0.5 * redness(photo, x0, x1)


def test_cam_kept_from_a_run_is_what_the_preview_computes_on_demand(finished):
    """The kept maps the tests build are the loaded model's CAM: quantised, the same map."""
    tab = finished
    loaded = tab.ui.model_panel.loaded
    row = next(r for r in tab.results.rows if r.ok)
    kept = cam_kept(loaded, row.path)
    with torch.no_grad():
        x = preprocess(load_image(row.path), loaded.transform)[None]
        (direct,) = cam_maps(loaded.model, loaded.arch, x, [1])
    assert kept.values.dtype == np.uint8 and kept.classes == (0, 1, 2)
    assert np.abs(kept.for_class(1) - direct.values).max() <= 0.5 / 255 + 1e-6


def test_the_preview_lays_the_kept_map_on_the_photo_at_once_and_others_on_demand(
    qtbot, finished, tmp_path
):
    tab = finished
    loaded = tab.ui.model_panel.loaded
    ok = [i for i, r in enumerate(tab.results.rows) if r.ok]
    first = ok[0]
    top = tab.results.row_at(first).pred.label
    top_index = loaded.class_names.index(top)
    # Only the top class kept, hot on the left half: the other classes are made on demand.
    keep(tab, ok, lambda r: KeptMaps(LEFT_HOT[None], (loaded.class_names.index(r.pred.label),)))
    select(tab, [first])
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_Space)
    preview = tab.triage.preview
    heat = preview.heat
    qtbot.waitUntil(lambda: preview.photo() is not None, timeout=10_000)
    qtbot.keyClick(preview, Qt.Key.Key_H)
    # At once, in the GUI thread: no worker was started.
    assert not heat._worker.busy and preview._overlay is not None
    assert heat.caption.text().startswith(f"CAM for '{top}'")
    assert "kept from the run" in heat.caption.text()
    over = preview._overlay
    assert (over.width(), over.height()) == (preview.photo().width(), preview.photo().height())
    # The map lies on the pixels the network saw: the left of the centre crop is red, the
    # right of it blue (a 48x36 photo, 53x40 resized, the 32 px crop from x = 10.5).
    photo = preview.photo()
    assert heat_shift(over, photo, 0.28, 0.40) > 45 > -45 > heat_shift(over, photo, 0.60, 0.75)
    assert tab.results.row_at(first).pred.maps.classes == (top_index,)

    other = next(c for c in CLASSES if c != top)  # "why not": not kept, made on a worker
    i = heat.classes.findData(other)
    heat.classes.setCurrentIndex(i)
    heat.classes.activated.emit(i)
    assert heat._worker.busy or "made now" in heat.caption.text()
    qtbot.waitUntil(lambda: f"CAM for '{other}'" in heat.caption.text(), timeout=60_000)
    assert "made now" in heat.caption.text() and preview._overlay is not None
    heat.classes.setCurrentIndex(0)
    heat.classes.activated.emit(0)  # back to the top class: the kept map, kept in memory
    assert "kept from the run" in heat.caption.text()

    qtbot.keyClick(preview, Qt.Key.Key_Right)  # the next image: its own kept map, at once
    assert not heat._worker.busy
    qtbot.waitUntil(lambda: "kept from the run" in heat.caption.text(), timeout=10_000)
    assert preview.grab().save(str(tmp_path / "preview_kept.png"))
    preview.close()


def test_shift_h_lays_each_tiles_kept_map_over_its_thumbnail_once(qtbot, finished, monkeypatch):
    tab = finished
    grid = tab.ui.grid
    loaded = tab.ui.model_panel.loaded
    ok = [i for i, r in enumerate(tab.results.rows) if r.ok]
    with_maps, without = ok[::2], ok[1::2]
    assert all(tab.results.row_at(i).pred.maps is not None for i in ok)  # the run kept them
    keep(tab, without, lambda r: None)  # as a run past its memory budget leaves them
    keep(tab, with_maps, lambda r: KeptMaps(np.repeat(LEFT_HOT[None], 3, 0), (0, 1, 2)))
    qtbot.waitUntil(lambda: all(tab.cache.get(tab.results.row_at(i).path) for i in ok))
    coloured = []
    real = tiles.paint_heat
    monkeypatch.setattr(tiles, "paint_heat", lambda *a: coloured.append(a[1]) or real(*a))
    before = grid.viewport().grab().toImage()

    qtbot.keyClick(grid, Qt.Key.Key_H, SHIFT)
    assert tab.tile_heat.on and tab.ui.filters.heat_button.isChecked()
    assert grid.delegate.heat_spec == loaded.transform
    after = grid.viewport().grab().toImage()
    shown = [i for i in ok if grid.visualRect(grid.model().index(i, 0)).isValid()]
    assert len(coloured) == len([i for i in with_maps if i in shown]) > 0
    for i in shown:
        rect = grid.visualRect(grid.model().index(i, 0))
        old, new = before.copy(rect), after.copy(rect)
        if i in without:
            assert old == new  # no kept map: the tile as before
        else:
            assert old != new
            assert heat_shift(new, old, 0.28, 0.38) > 45 > -45 > heat_shift(new, old, 0.6, 0.7)
    grid.viewport().grab()  # painted again: from the cache of rendered tiles
    assert len(coloured) == len([i for i in with_maps if i in shown])

    tab.ui.filters.heat_button.click()  # the button: off again, the tiles as they were
    assert not tab.tile_heat.on and grid.delegate.heat_spec is None
    assert grid.viewport().grab().toImage() == before

    tab.ui.filters.text.setFocus()  # Shift+H typed in the name filter is text
    qtbot.keyClick(tab.ui.filters.text, Qt.Key.Key_H, SHIFT)
    assert tab.ui.filters.text.text().lower() == "h" and not tab.tile_heat.on


def test_overlay_mode_without_kept_maps_says_how_to_get_one(qtbot, finished):
    tab = finished
    keep(tab, range(len(tab.results.rows)), lambda r: None)  # e.g. results of a Grad-CAM network
    said = []
    tab.tile_heat.notify = lambda text, **_k: said.append(text)
    tab.tile_heat.action.trigger()
    assert tab.tile_heat.on and said and "press H" in said[0]
