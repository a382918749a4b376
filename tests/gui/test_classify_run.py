"""Classify tab: dropping, running, failed files, refusing URLs, cancelling, queueing, closing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from classify_helpers import CLASSES, FAST_ARCH, drop, drop_paths, load, make_images, run_and_wait
from PySide6.QtCore import QUrl

from pigeonhole.gui.classify.results_model import CorrectedRole, ErrorRole, LabelRole, PathRole

ROOT = Path(__file__).resolve().parents[2]


def test_dropped_folder_gives_one_row_per_image_and_marks_the_bad_file(
    qtbot, tab, checkpoint_file, image_folder
):
    assert tab.ui.drop_zone.currentIndex() == 0  # the hint shows while there are no results
    loaded = load(qtbot, tab, checkpoint_file)
    assert loaded.arch == FAST_ARCH and loaded.class_names == list(CLASSES)

    summary = run_and_wait(qtbot, tab, [image_folder])

    assert summary is not None and not summary.cancelled
    assert (summary.processed, summary.skipped, summary.ignored) == (12, 1, 1)
    rows = tab.results.rows
    assert len(rows) == 13 == tab.view_model.rowCount()
    assert len({r.path for r in rows}) == 13
    assert tab.ui.drop_zone.currentIndex() == 1  # the grid replaced the hint
    bad = [r for r in rows if not r.ok]
    assert [r.name for r in bad] == ["broken.jpg"]
    i = rows.index(bad[0])
    idx = tab.results.index(i)
    assert tab.results.data(idx, ErrorRole) == bad[0].pred.error
    assert "broken.jpg" in idx.data(PathRole)
    assert "Could not be read" in tab.results.data(idx, 3)  # ToolTipRole carries the reason
    for r in rows:
        assert r.pred.thumbnail is None  # thumbnails live in the bounded cache, not in rows
        if r.ok:
            assert r.label in CLASSES and 0.0 < r.pred.confidence <= 1.0
            assert len(r.pred.topk) == 3
            assert tab.cache.get(r.path) is not None
    assert not idx.data(CorrectedRole) and tab.results.data(idx, LabelRole) is None
    # The per-class counts reach the filter, the summary reaches the timing panel.
    qtbot.waitUntil(lambda: tab.ui.filters.label.count() > 1)
    counted = sum(
        int(tab.ui.filters.label.itemText(i).rsplit("(", 1)[1].rstrip(")"))
        for i in range(1, tab.ui.filters.label.count())
    )
    assert counted == 12
    assert "12 images" in tab.ui.timing.summary.text()
    assert tab.ui.timing.infer.n == 12
    assert "Done: 12 images" in tab.ui.run_status.text()
    assert tab.ui.export_button.isEnabled() and tab.ui.sort_button.isEnabled()
    # Painting the grid (thumbnails, failed mark, bars) works.
    assert not tab.ui.grid.grab().isNull()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="scheduling policies")
def test_a_run_from_the_window_runs_as_batch_work(
    qtbot, tab, checkpoint_file, image_folder, monkeypatch
):
    """The run's listing, decode and forward threads run as batch work: on a busy CPU the GUI
    thread goes first when it wakes (they had kept it waiting 20-60 ms at a time while the
    first tiles painted), and they keep the share of the CPU they had."""
    import threading

    import pigeonhole.core.data.listing as listing
    import pigeonhole.core.runtime.pipeline as pipeline

    seen: dict[str, set] = {"list": set(), "decode": set(), "forward": set()}

    def scheduling() -> tuple[int, int]:
        tid = threading.get_native_id()
        return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)

    real_list, real_decode = listing.image_paths, pipeline._one_torch_thread
    real_forward = pipeline._ForwardThreads._run

    def spy_list(*args, **kwargs):
        seen["list"].add(scheduling())
        yield from real_list(*args, **kwargs)

    def spy_decode():
        real_decode()
        seen["decode"].add(scheduling())

    def spy_forward(self, *args):
        seen["forward"].add(scheduling())
        return real_forward(self, *args)

    monkeypatch.setattr(listing, "image_paths", spy_list)
    monkeypatch.setattr(pipeline, "_one_torch_thread", spy_decode)
    monkeypatch.setattr(pipeline._ForwardThreads, "_run", spy_forward)
    load(qtbot, tab, checkpoint_file)
    gui = scheduling()
    summary = run_and_wait(qtbot, tab, [image_folder])
    assert summary is not None and summary.processed == 12
    batch = (os.SCHED_BATCH, gui[1])
    assert seen == {"list": {batch}, "decode": {batch}, "forward": {batch}}
    assert scheduling() == gui == (os.SCHED_OTHER, gui[1])


def test_thumbnails_become_images_on_the_worker_not_the_gui_thread(
    qtbot, tab, checkpoint_file, image_folder, monkeypatch
):
    """Making each thumbnail's QImage (and dropping it from the prediction) is the run's
    worker's job: in the GUI thread it was half of every hand-over of results."""
    import threading

    import pigeonhole.gui.classify.run as run

    threads: set[str] = set()
    real = run.thumbnail_to_qimage

    def spy(thumb):
        threads.add(threading.current_thread().name)
        return real(thumb)

    monkeypatch.setattr(run, "thumbnail_to_qimage", spy)
    load(qtbot, tab, checkpoint_file)
    summary = run_and_wait(qtbot, tab, [image_folder])
    assert summary is not None and summary.processed == 12
    assert threads and threading.main_thread().name not in threads
    rows = [r for r in tab.results.rows if r.ok]
    assert len(rows) == 12 and all(r.pred.thumbnail is None for r in rows)
    assert all(tab.cache.get(r.path) is not None for r in rows)


def test_non_local_urls_are_refused_with_a_message(qtbot, tab, checkpoint_file):
    load(qtbot, tab, checkpoint_file)
    drop(tab.ui.drop_zone, [QUrl("https://example.com/cat.jpg")])
    assert tab.ui.banner.isVisible()
    assert "not a local file" in tab.ui.banner.text()
    assert not tab.runs.running and tab.results.rowCount() == 0


def test_images_dropped_before_a_model_wait_for_it(qtbot, tab, checkpoint_file, image_folder):
    drop_paths(tab.ui.drop_zone, [image_folder])
    assert tab.pending == [str(image_folder)]
    assert "model" in tab.ui.banner.text().lower()
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        tab.load_checkpoint_file(str(checkpoint_file))
    assert tab.results.rowCount() == 13


def test_dropping_a_checkpoint_loads_it(qtbot, tab, checkpoint_file):
    with qtbot.waitSignal(tab.ui.model_panel.model_loaded, timeout=30_000):
        drop_paths(tab.ui.drop_zone, [checkpoint_file])
    assert tab.ui.model_panel.loaded.class_names == list(CLASSES)
    assert str(checkpoint_file) in tab.ui.model_panel.recent()


def test_cancel_stops_within_a_batch(qtbot, tab, checkpoint_file, tmp_path):
    folder = tmp_path / "many"
    make_images(folder, 240, size=(40, 30))
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(4)
    with qtbot.waitSignal(tab.runs.batch_added, timeout=30_000):
        drop_paths(tab.ui.drop_zone, [folder])
    with qtbot.waitSignal(tab.runs.finished, timeout=30_000) as blocker:
        tab.ui.cancel_button.click()
    summary = blocker.args[0]
    assert summary is None or summary.cancelled
    n = tab.results.rowCount()
    assert 4 <= n < 240
    qtbot.wait(200)  # nothing arrives after the run has ended
    assert tab.results.rowCount() == n
    assert not tab.runs.running and not tab.ui.cancel_button.isEnabled()
    assert "Cancelled" in tab.ui.run_status.text()


def test_new_run_while_running_asks_then_queues_or_replaces(
    qtbot, tab, checkpoint_file, tmp_path, monkeypatch
):
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    make_images(first, 60, size=(40, 30))
    make_images(second, 5, size=(40, 30), start=100)
    make_images(third, 7, size=(40, 30), start=200)
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(4)
    asked = []
    monkeypatch.setattr(tab, "_choose_new_run", lambda: asked.append(1) or "queue")
    with qtbot.waitSignal(tab.runs.batch_added, timeout=30_000):
        drop_paths(tab.ui.drop_zone, [first])
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        drop_paths(tab.ui.drop_zone, [second])  # queued behind the first run
    assert asked == [1]
    assert tab.results.rowCount() == 65  # the queued run appended to the results

    monkeypatch.setattr(tab, "_choose_new_run", lambda: asked.append(2) or "replace")
    with qtbot.waitSignal(tab.runs.batch_added, timeout=30_000):
        drop_paths(tab.ui.drop_zone, [first])
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        drop_paths(tab.ui.drop_zone, [third])
    assert asked == [1, 2]
    paths = {r.path for r in tab.results.rows}
    assert len(paths) == 7 and all("/c/" in p for p in paths)  # the old run's rows are gone

    monkeypatch.setattr(tab, "_choose_new_run", lambda: None)  # "Cancel" leaves things alone
    with qtbot.waitSignal(tab.runs.batch_added, timeout=30_000):
        drop_paths(tab.ui.drop_zone, [first])
    drop_paths(tab.ui.drop_zone, [second])
    with qtbot.waitSignal(tab.runs.finished, timeout=60_000):
        pass
    assert all("/a/" in r.path for r in tab.results.rows)


def test_closing_the_window_mid_run_cancels_and_waits(qtbot, window, checkpoint_file, tmp_path):
    tab = window.classify_tab
    folder = tmp_path / "many"
    make_images(folder, 200, size=(40, 30))
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(4)
    with qtbot.waitSignal(tab.runs.batch_added, timeout=30_000):
        drop_paths(tab.ui.drop_zone, [folder])
    thread = tab.runs.classifying.thread
    assert thread is not None and thread.isRunning()
    window.close()  # closeEvent -> shutdown(): cancel and wait
    assert not thread.isRunning()
    assert not tab.runs.running
    assert tab.results.rowCount() < 200


CLOSE_MID_RUN = """
import sys
from PySide6.QtCore import QMimeData, QUrl
from pigeonhole.gui.app import ensure_app
from pigeonhole.gui.main_window import MainWindow

app = ensure_app()
w = MainWindow()
w.show()
tab = w.classify_tab
tab.ui.model_panel.batch.setValue(2)
tab.runs.batch_added.connect(lambda n: w.close())  # close as soon as results arrive
tab.ui.model_panel.model_loaded.connect(lambda m: tab.classify_paths([sys.argv[2]]))
tab.load_checkpoint_file(sys.argv[1])
code = app.exec()
print("rows", tab.results.rowCount(), "running", tab.runs.running)
sys.exit(code)
"""


def test_closing_mid_run_exits_with_code_0(checkpoint_file, tmp_path):
    """A fresh process: the window closes while the run goes; exit code 0, no QThread abort."""
    folder = tmp_path / "many"
    make_images(folder, 300, size=(40, 30))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_MID_RUN, str(checkpoint_file), str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "QThread" not in proc.stderr, proc.stderr
    rows = int(proc.stdout.split()[1])
    assert 0 < rows < 300 and "running False" in proc.stdout


def test_the_window_plans_its_runs_as_the_command_line_does(
    qtbot, tab, checkpoint_file, image_folder, monkeypatch
):
    """The same plan as `pigeonhole predict` (made in its main thread): same forward streams
    and threads, decode threads, batch size. The window used to cap torch at cores - 1 and so
    ran one forward stream of one thread on 2 cores, 0.56x the CLI's speed; a second run
    inherited the thread count a previous run's forward threads had set."""
    import pigeonhole.core.runtime.inference as inference

    made = []
    real = inference.plan_run

    def spy(*args, **kwargs):
        made.append((args, kwargs, real(*args, **kwargs)))
        return made[-1][2]

    monkeypatch.setattr(inference, "plan_run", spy)
    load(qtbot, tab, checkpoint_file)
    for _ in range(2):
        run_and_wait(qtbot, tab, [image_folder])
    assert len(made) == 2
    for args, kwargs, plan in made:
        assert plan == real(*args, **kwargs)  # here, in the GUI thread, as the CLI's main thread


def test_status_bar_and_timing_panel_follow_a_run(qtbot, window, checkpoint_file, tmp_path):
    """Not "Ready" in the status bar and "No run yet." in the Timing panel while images are
    being classified."""
    tab = window.classify_tab
    folder = tmp_path / "many"
    make_images(folder, 80, size=(40, 30))
    load(qtbot, tab, checkpoint_file)
    tab.ui.model_panel.batch.setValue(4)
    during = []

    def look(_n) -> None:
        if not during:
            during.append((window.statusBar().currentMessage(), tab.ui.timing.summary.text()))

    tab.runs.batch_added.connect(look)
    run_and_wait(qtbot, tab, [folder])
    bar, timing = during[0]
    assert "images/s" in bar and " of 80" in bar, bar
    assert "Running" in timing and "No run yet" not in timing, timing
    assert window.statusBar().currentMessage().startswith("Done: 80 images")
    assert "80 images in" in tab.ui.timing.summary.text()


def test_the_empty_histogram_has_calm_axes_while_a_run_starts(qtbot):
    """It read "images (x0.001)" from -400 to 400 between the start of a run and its first
    batch."""
    from PySide6.QtWidgets import QApplication

    from pigeonhole.core.results.predictions import Prediction
    from pigeonhole.gui.widgets.plots import TimingPanel

    panel = TimingPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 420)
    panel.show()
    panel.add_batch(
        [Prediction(i, f"{i}.jpg", "a", 0.9, (), 2.0, 5.0 + i % 3, None) for i in range(30)]
    )
    panel.redraw()
    panel.clear("Starting…")
    for _ in range(5):  # pyqtgraph updates ranges and labels from the event loop
        QApplication.processEvents()
    for plot in (panel.hist_plot, panel.time_plot):
        (x0, x1), (y0, y1) = plot.viewRange()
        assert (x0, x1, y0, y1) == (0, 1, 0, 1)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0 and "x0.0" not in axis.labelString()
