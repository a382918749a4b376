"""Garbage collection in the GUI thread only (gui.app.GuiThreadCollector): collections run from
its timer, in the GUI thread; young ones often enough to stay short (issue 27: at one check a
second, a run's results made each middle-generation collection a 20-35 ms pause), full ones no
more often than Python's own cadence."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject


class _Cycle:
    def __init__(self):
        self.me = self


def test_collections_run_in_the_gui_thread_from_the_timer(qtbot):
    from pigeonhole.gui.app import GuiThreadCollector

    assert not gc.isenabled()  # (the app's collector turned automatic collection off)
    owner = QObject()
    collector = GuiThreadCollector(owner)
    seen: list[tuple[int, threading.Thread]] = []

    def note(phase, info):
        if phase == "stop":
            seen.append((info["generation"], threading.current_thread()))

    gc.callbacks.append(note)
    try:
        made = [_Cycle() for _ in range(3 * collector.threshold[0])]
        del made  # cycles: only a collection frees them
        qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    finally:
        gc.callbacks.remove(note)
        owner.deleteLater()
    assert {t for _g, t in seen} == {threading.main_thread()}


def test_young_collections_are_frequent_and_full_ones_no_more_than_pythons():
    from pigeonhole.gui.app import GuiThreadCollector

    owner = QObject()
    try:
        collector = GuiThreadCollector(owner)
        interval = collector._timer.interval()
        young, middle, old = collector.threshold
        assert interval <= 250  # a young collection holds at most a quarter second's objects
        python = gc.get_threshold()
        assert (young, middle) == python[:2]
        # A full collection takes ``middle * old`` checks that each found a young collection
        # due: no sooner than Python's own thresholds checked once a second.
        assert middle * old * interval >= python[1] * python[2] * 1000
    finally:
        owner.deleteLater()
