"""Pigeonhole's Qt front end: thin, turns user actions into core calls and core events into views."""

from pathlib import Path

from .pyside_fixes import make_none_immortal

make_none_immortal()  # PySide6 6.12.0 drops a reference to None on every void call


def style_sheet() -> str:
    """The app's Qt style sheet (gui/style.qss), or "" when it is missing."""
    qss = Path(__file__).with_name("style.qss")
    return qss.read_text(encoding="utf-8") if qss.is_file() else ""
