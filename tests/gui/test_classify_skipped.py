"""Classify tab on a phone dump: every file a tile or a skipped entry; the run's end message
counts what was skipped by reason, and the list is one click away (the banner's link, or
Classify > Skipped files…)."""

from __future__ import annotations

from pathlib import Path

from classify_helpers import load, run_and_wait
from PySide6.QtGui import QGuiApplication

from pigeonhole.gui.classify.skipped import LINK, SkippedDialog
from tests.core.phone_dump import FAILED, ROW, SKIPPED, write_phone_dump


def test_phone_dump_in_the_app(qtbot, tab, window, checkpoint_file, tmp_path):
    dump = write_phone_dump(tmp_path / "dump")
    load(qtbot, tab, checkpoint_file)
    assert not tab.skipped.action.isEnabled()  # nothing skipped yet

    summary = run_and_wait(qtbot, tab, [dump.root])

    rows = {Path(r.path).name: r for r in tab.results.rows}
    assert set(rows) == dump.names(ROW) | dump.names(FAILED)
    assert all(rows[n].ok for n in dump.names(ROW))
    for name in dump.names(FAILED):
        assert dump.expected[name][1] in rows[name].pred.error
    status = tab.ui.run_status.text()
    assert "2 other files skipped (1 video, 1 edit sidecar)" in status, status
    assert "2 could not be read" in status
    banner = tab.ui.banner
    assert banner.isVisible() and LINK in banner.text() and "1 video" in banner.text()
    assert "2 other files skipped" in tab.ui.timing.summary.text()
    window.resize(1024, 640)
    window.grab().save(str(tmp_path / "phone-dump-window.png"))

    # The banner's link (as a click on it would) opens the list: every skipped file, by reason.
    assert tab.skipped.action.isEnabled()
    banner.linkActivated.emit(LINK)
    dialog = tab.skipped.dialog
    assert isinstance(dialog, SkippedDialog) and dialog.isVisible()
    listed = {}
    for i in range(dialog.tree.topLevelItemCount()):
        top = dialog.tree.topLevelItem(i)
        for j in range(top.childCount()):
            listed[Path(top.child(j).text(0)).name] = top.text(0)
    skipped = dump.names(SKIPPED)
    assert set(listed) == skipped
    assert listed["IMG_0001.MOV"] == "1 video (.MOV) skipped"
    assert listed["IMG_0001.AAE"] == "1 edit sidecar (.AAE) skipped"
    dialog.grab().save(str(tmp_path / "skipped-dialog.png"))
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text().splitlines()
    assert {Path(line.split("\t")[0]).name for line in copied} == skipped
    dialog.close()
    # The menu's action opens the same list.
    tab.skipped.action.trigger()
    assert tab.skipped.dialog.isVisible()
    tab.skipped.dialog.close()
    assert summary.ignored == 2 and summary.hidden == 2
