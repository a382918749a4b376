"""A guard against a PySide6 bug, applied once when ``gui`` is imported.

pyproject.toml refuses the one release known to have it (``PySide6-Essentials>=6.6,!=6.12.0``;
the development environment runs 6.11.3), so a pip install or the frozen build does not get it.
The guard stays for a 6.12.0 that arrives anyway (installed beside pip's resolver, or a
distribution's package) and for a later release with the same fault; elsewhere it costs nothing.

PySide6 6.12.0 on CPython 3.11 returns ``None`` from every void method (``QPainter.save``,
``QLabel.setText``, ``QProgressBar.setValue``...) and from every empty ``QVariant`` without
taking a reference to it. Each call lowers None's reference count by one; after a few hundred
thousand calls (minutes of scrolling the grid, or a long run with live plots) it reaches zero
and the interpreter aborts with "Fatal Python error: none_dealloc", at the latest on exit.
CPython 3.12 made None immortal; on 3.11 we do the same by hand: its count is set so high that
no session can ever bring it down to zero.
"""

from __future__ import annotations

import ctypes
import sys

_IMMORTAL = 1 << 60


def make_none_immortal() -> None:
    """Raise None's reference count out of reach (CPython < 3.12 only, where it is mortal)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt: the first field of PyObject
    if refcnt.value < _IMMORTAL // 2:
        refcnt.value += _IMMORTAL
