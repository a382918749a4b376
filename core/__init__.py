"""Pigeonhole core: everything that is not Qt. Never imports PySide6, pyqtgraph or gui."""

__version__ = "0.1.0"
