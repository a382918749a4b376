"""Pigeonhole's Qt front end: thin, turns user actions into core calls and core events into views."""

from .pyside_fixes import make_none_immortal

make_none_immortal()  # PySide6 6.12 drops a reference to None on every void call
