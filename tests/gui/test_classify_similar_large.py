"""Find similar and the map at folder scale (issue 27): the first search indexes the results'
embeddings on a worker, never in the GUI thread, and shows the similar images when it ends; a
second request waits for the same build; rows that arrive meanwhile are indexed after. And the
grid's selection of thousands of tiles is read from its ranges, matching the per-row way."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from classify_helpers import CLASSES, select
from map_helpers import add_results
from PySide6.QtCore import QItemSelection, QItemSelectionModel

from pigeonhole.core.insight.similarity import EmbeddingIndex, unit_rows
from pigeonhole.core.results.predictions import Prediction
from pigeonhole.gui.classify import similar
from pigeonhole.gui.classify.similar import NEAREST

BIG = 20_000


def synthetic_predictions(n: int, dims: int = 64, start: int = 0) -> list[Prediction]:
    """``n`` predictions (no files) whose float16 embeddings lie in 12 clusters."""
    rng = np.random.default_rng(start)
    centres = rng.standard_normal((12, dims)) * 3
    vectors = centres[rng.integers(0, 12, n)] + rng.standard_normal((n, dims))
    out = []
    for i, v in enumerate(vectors, start):
        said, path = ((CLASSES[i % 3], 0.8),), f"/nowhere/img_{i:06d}.jpg"
        emb = v.astype(np.float16)
        out.append(Prediction(i, path, said[0][0], 0.8, said, 1.0, 1.0, None, embedding=emb))
    return out


def expected_similar(preds: list[Prediction], asked: int) -> list[int]:
    unit = unit_rows(np.stack([p.embedding for p in preds]))
    scores = unit @ unit[asked]
    scores[asked] = np.inf  # the image asked about comes first
    return list(np.argsort(-scores, kind="stable")[: NEAREST + 1])


@pytest.fixture
def index_threads(monkeypatch) -> list[tuple[str, int]]:
    """The threads that filled an embedding index and how many rows, one pair per call."""
    seen: list[tuple[str, int]] = []
    add = EmbeddingIndex.add

    def recording(self, keys, vectors):
        seen.append((threading.current_thread().name, len(keys)))
        return add(self, keys, vectors)

    monkeypatch.setattr(EmbeddingIndex, "add", recording)
    return seen


def test_the_first_find_similar_indexes_on_a_worker_then_shows_them(qtbot, tab, index_threads):
    preds = synthetic_predictions(BIG)
    add_results(tab, preds)
    select(tab, [5])
    builds = []
    tab.similar.builder.started.connect(builds.append)
    assert tab.similar.find_similar() == []  # not yet: a worker indexes them
    assert "Indexing 20,000 images" in tab.ui.banner.full_text()
    assert tab.view_model.pinned_title is None  # (the worker may have begun)
    assert tab.similar.find_similar(7) == []  # a second request waits for the same build
    more = synthetic_predictions(40, start=BIG)  # results arriving meanwhile
    tab.results.add_predictions(more)

    qtbot.waitUntil(lambda: tab.view_model.pinned_title is not None, timeout=20_000)
    assert len(builds) == 1
    in_gui = sum(n for thread, n in index_threads if thread == threading.main_thread().name)
    assert sum(n for _t, n in index_threads) == BIG + 40
    assert in_gui == 40, index_threads  # the 20,000 on a worker; the 40 after, few: here
    assert tab.view_model.pinned_title == "Similar to img_000007.jpg"  # (the latest asked)
    assert tab.view_model.source_rows() == expected_similar(preds + more, 7)
    assert tab.similar.indexed() == BIG + 40
    assert "20,040 images indexed" in tab.ui.banner.full_text()
    index_threads.clear()
    assert tab.similar.find_similar(BIG + 3)[0] == BIG + 3  # now at once
    assert index_threads == []


def test_the_map_waits_for_the_index_built_on_a_worker(qtbot, tab, index_threads, monkeypatch):
    monkeypatch.setattr(similar, "INLINE_ROWS", 50)  # (a small set, indexed as a big one)
    add_results(tab, synthetic_predictions(400))
    window = tab.map.show()
    assert "Indexing 400 images" in window.status.text()
    qtbot.waitUntil(lambda: tab.map.projection is not None, timeout=20_000)
    assert sorted(tab.map.keys) == list(range(400))
    assert index_threads and threading.main_thread().name not in dict(index_threads)


def test_a_replaced_result_set_drops_the_build_under_way(qtbot, tab, index_threads):
    add_results(tab, synthetic_predictions(BIG))
    assert tab.similar.find_similar(3) == []
    tab.results.clear()
    add_results(tab, synthetic_predictions(30))
    assert tab.similar.find_similar(2)[0] == 2  # the new ones, at once: few
    tab.similar.builder.shutdown()  # (the dropped build ends; nothing it made arrives)
    assert tab.similar.indexed() == 30 and tab.view_model.rowCount() == 30


def per_row(tab) -> list[int]:
    """The selected tiles' result rows, one model index per row (the way it was done)."""
    indexes = tab.ui.grid.selectionModel().selectedIndexes()
    return sorted({tab.view_model.source_row(i.row()) for i in indexes})


def test_thousands_of_selected_tiles_are_read_from_the_selection_ranges(tab):
    add_results(tab, synthetic_predictions(BIG, dims=8))
    lassoed = [i for i in range(BIG) if i % 3][:13_000]  # pinned in the grid, as a lasso does
    tab.view_model.pin(lassoed[::-1], "lassoed")  # (in another order than the results')
    grid, flags = tab.ui.grid, QItemSelectionModel.SelectionFlag
    grid.selectAll()
    assert tab.triage.selected_source_rows() == per_row(tab) == lassoed
    # ranges that overlap, and a gap: the Ctrl and Shift clicks of a person
    sel, model = QItemSelection(), grid.model()
    for top, bottom in ((0, 4_999), (3_000, 6_000), (9_000, 12_999), (7, 7)):
        sel.select(model.index(top, 0), model.index(bottom, 0))
    grid.selectionModel().select(sel, flags.ClearAndSelect)
    rows = tab.triage.selected_source_rows()
    assert rows == per_row(tab) and len(rows) == 6_001 + 4_000 == len(set(rows))
    grid.selectionModel().clearSelection()
    assert tab.triage.selected_source_rows() == per_row(tab) == []
