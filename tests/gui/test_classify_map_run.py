"""Find similar and the map on a real run (issue 25): class folders classified in the window by
a trained checkpoint, with the embeddings that run kept (none injected), so images of one class
come first among an image's similar ones and lie together on the map; the grid's selection is
ringed on the map; results of a second model (embeddings of another length) break neither."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from classify_helpers import CLASSES, SMALL, load, run_and_wait, select
from PySide6.QtCore import Qt

from pigeonhole.core.models.archs import build_model
from pigeonhole.core.models.checkpoints import save_checkpoint
from pigeonhole.gui.classify.similar import SIMILARITY_ORDER
from tests.core.train_helpers import colour_fields, decisive_model

NEIGHBOURS = 5  # the similar images looked at for each image


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory) -> Path:
    """A ResNet-18 trained as `pigeonhole train` trains (frozen backbone, new head) on the
    colour classes: its embeddings tell the classes apart."""
    folder = tmp_path_factory.mktemp("decisive")
    model = decisive_model(folder / "train")
    path = folder / "decisive.pth"
    save_checkpoint(path, model.model, model.arch, model.class_names, model.transform)
    return path


@pytest.fixture(scope="module")
def mobilenet_checkpoint(tmp_path_factory) -> Path:
    """Another network (MobileNetV2: embeddings of 1,280 values, not 512) of the same classes."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenet.pth"
    save_checkpoint(path, build_model("mobilenet_v2", len(CLASSES)), "mobilenet_v2", list(CLASSES), SMALL)  # fmt: skip
    return path


@pytest.fixture
def real_run(qtbot, window, trained_checkpoint, tmp_path):
    """The Classify tab after a real run over 12 colour photos of each class, the grid
    focused."""
    tab = window.classify_tab
    load(qtbot, tab, trained_checkpoint)
    run_and_wait(qtbot, tab, [colour_fields(tmp_path / "val", 12)])
    window.activateWindow()
    qtbot.waitActive(window)
    tab.ui.grid.setFocus()
    return tab


def kept_embeddings(tab) -> np.ndarray:
    rows = tab.results.rows
    kept = [r.pred.embedding for r in rows if r.pred.embedding is not None]
    assert len(kept) == len(rows) == 36, f"the run kept {len(kept)} embeddings of {len(rows)}"
    return np.stack(kept)


def sort_says(tab) -> str:
    """What the sort box shows: its choice, or the order of the rows pinned in the grid."""
    sort = tab.ui.filters.sort
    return sort.currentText() if sort.currentIndex() >= 0 else sort.placeholderText()


def open_map(qtbot, tab):
    window = tab.map.show()
    qtbot.waitUntil(lambda: tab.map.projection is not None, timeout=20_000)
    return window


def test_a_real_run_finds_images_of_the_same_class_and_parts_them_on_the_map(qtbot, real_run):
    tab = real_run
    vectors = kept_embeddings(tab)
    assert vectors.dtype == np.float16 and vectors.shape[1] == 512  # ResNet-18's head input
    truths = [r.truth for r in tab.results.rows]
    select(tab, [0])
    assert tab.similar.action.isEnabled(), tab.similar.action.toolTip()
    qtbot.keyClick(tab.ui.grid, Qt.Key.Key_S)
    assert tab.view_model.source_rows()[0] == 0 and tab.view_model.rowCount() == 36
    assert sort_says(tab) == SIMILARITY_ORDER and not tab.ui.filters.sort.isEnabled()

    # every image: its nearest images are of its class (a third would be by chance)
    same = []
    for row in range(36):
        shown = tab.similar.find_similar(row)
        assert shown[0] == row
        same += [truths[n] == truths[row] for n in shown[1 : NEIGHBOURS + 1]]
    assert np.mean(same) >= 0.85, f"{np.mean(same):.0%} of the nearest images of the same class"

    # the map: each class's points lie together, apart from the others
    window = open_map(qtbot, tab)
    points = tab.map.projection.points
    assert points.shape == (36, 2) and sorted(tab.map.keys) == list(range(36))
    labels = np.array(truths)[tab.map.keys]
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :NEIGHBOURS]
    together = np.mean(labels[nearest] == labels[:, None])
    assert together >= 0.8, f"{together:.0%} of each point's nearest points of its class"
    said = Counter(r.label for r in tab.results.rows)  # (coloured by label: the model's)
    legend = [item.name() for item in window.scatter._items]
    assert legend == [f"{c} ({said[c]})" for c in tab.results.class_names if said[c]]


def test_the_grid_selection_is_ringed_on_the_map_and_a_lasso_selects_in_the_grid(qtbot, real_run):
    tab = real_run
    kept_embeddings(tab)
    window = open_map(qtbot, tab)
    chosen = window.scatter._chosen
    select(tab, [3, 4, 10])
    rows = tab.triage.selected_source_rows()
    ringed = sorted(zip(*chosen.getData(), strict=True))
    expected = sorted(tuple(tab.map.projection.points[list(tab.map.keys).index(r)]) for r in rows)
    assert len(rows) == 3 and np.allclose(ringed, expected)
    tab.ui.grid.selectionModel().clearSelection()
    assert len(chosen.getData()[0]) == 0

    # the other way: a lasso around one class's points selects its images in the grid
    points = tab.map.projection.points
    lo, hi = points.min(axis=0) - 1, points.max(axis=0) + 1
    window.scatter.select_polygon(np.array([lo, [hi[0], lo[1]], hi, [lo[0], hi[1]]]))
    assert tab.triage.selected_source_rows() == list(range(36))
    assert len(chosen.getData()[0]) == 36
    assert sort_says(tab) == "Run order"  # (the lassoed images' order)
    tab.ui.filters.reset.click()
    assert tab.ui.filters.sort.isEnabled() and tab.view_model.pinned_title is None


def test_results_of_another_network_break_neither_find_similar_nor_the_map(
    qtbot, real_run, mobilenet_checkpoint, tmp_path
):
    tab = real_run
    kept_embeddings(tab)
    open_map(qtbot, tab)
    assert tab.similar.find_similar(0)
    first_map = tab.map.projection
    other = load(qtbot, tab, mobilenet_checkpoint)
    # its images added after the ResNet's (a queued run): one result set, two lengths
    more = colour_fields(tmp_path / "more", 4, seed=5)
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        tab.runs.start(other, [str(more)], tab.ui.model_panel.run_options(), append=True)
    rows = tab.results.rows
    assert len(rows) == 48 and rows[-1].pred.embedding.shape == (1280,)
    assert rows[0].pred.embedding.shape == (512,)
    for asked, ours in ((0, range(36)), (40, range(36, 48))):
        shown = tab.similar.find_similar(asked)
        assert shown[0] == asked and set(shown) == set(ours)  # its own network's images only
    tab.map.refresh()
    qtbot.waitUntil(lambda: tab.map.projection is not first_map, timeout=20_000)
    assert sorted(tab.map.keys) == list(range(36, 48))  # the latest run's network
    assert "36 images of another model left out" in tab.map.window.status.text()

    # classified again with the MobileNet: the map and the search start afresh
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        tab.trust.stale.classify_again()
    assert tab.map.projection is None or len(tab.map.keys) <= tab.results.rowCount()
    tab.map.refresh()
    qtbot.waitUntil(lambda: tab.map.projection is not None, timeout=20_000)
    assert len(tab.map.keys) == tab.results.rowCount() == 48
    assert tab.similar.find_similar(5)[0] == 5
