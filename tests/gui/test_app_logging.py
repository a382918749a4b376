"""The window's logging: INFO goes to the log file, the terminal shows warnings and errors
only (issue 27: autoloading a model printed an INFO line on the terminal)."""

from __future__ import annotations

import contextlib
import logging

import pytest

from pigeonhole.cli import configure_terminal_logging
from pigeonhole.core.fileio import log_file
from pigeonhole.gui.app import configure_logging


@contextlib.contextmanager
def fresh_root_logger():
    """The root logger as a fresh process has it (pytest's capture handlers set aside while
    inside), then as it was."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    try:
        yield root
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = saved
        root.setLevel(level)
        logging.getLogger("PIL").setLevel(logging.NOTSET)


@pytest.mark.parametrize("verbose", [False, True])
def test_the_terminal_shows_warnings_only_and_the_file_info_too(
    tmp_path, monkeypatch, capsys, verbose
):
    monkeypatch.setenv("PIGEONHOLE_DATA_DIR", str(tmp_path / "data"))
    log = logging.getLogger("pigeonhole.gui.widgets.model_loading")
    with fresh_root_logger() as root:
        configure_terminal_logging(verbose)  # as `pigeonhole` does before opening the window
        configure_logging()  # as run_gui does
        log.info("loaded colours.pth on cpu")
        log.warning("the classes file has 2 names for 3 outputs")
        for h in root.handlers:
            h.flush()
    err = capsys.readouterr().err
    assert "the classes file has 2 names" in err
    assert ("loaded colours.pth" in err) is verbose  # INFO on the terminal only when asked
    written = log_file().read_text()
    assert "loaded colours.pth" in written and "the classes file has 2 names" in written
