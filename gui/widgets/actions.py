"""Actions for menus, context menus and keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def make_action(
    host: QWidget,
    text: str,
    slot: Callable[[], object],
    shortcut: QKeySequence | list[QKeySequence] | None = None,
    enabled: bool = True,
) -> QAction:
    """An action of ``host`` (its shortcuts work while the focus is inside it) that calls
    ``slot`` with no arguments."""
    a = QAction(text, host)
    if shortcut is not None:
        a.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    a.triggered.connect(lambda _checked=False: slot())
    a.setEnabled(enabled)
    host.addAction(a)
    return a
