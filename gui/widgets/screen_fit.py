"""Windows and dialogs sized to the screen they open on: never larger than its available
geometry (the screen less the task bar or dock), so their buttons are never off-screen on a
laptop."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

SHARE = 0.95  # of the available width and height, at most (room for the window's frame)


def available_geometry(widget: QWidget) -> QRect:
    """The available geometry of the screen ``widget`` opens on: its parent window's screen
    (a dialog not shown yet has none of its own), else the primary screen."""
    parent = widget.parentWidget()
    screen = (parent.window().screen() if parent is not None else None) or widget.screen()
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fitted_size(widget: QWidget, width: int, height: int) -> QSize:
    """``width`` x ``height``, or less where the screen is smaller (never below the widget's
    minimum size)."""
    area = available_geometry(widget)
    w = min(width, int(area.width() * SHARE))
    h = min(height, int(area.height() * SHARE))
    return QSize(w, h).expandedTo(widget.minimumSizeHint().boundedTo(area.size()))


def resize_to_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize ``widget`` to ``width`` x ``height`` where the screen has room, else to fit it."""
    widget.resize(fitted_size(widget, width, height))
