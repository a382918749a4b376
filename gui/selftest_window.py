"""The Qt half of `pigeonhole --self-test` (core/selftest.py calls it): the platform plugin
loads, image-format plugins and bundled resources are there, the main window opens and paints."""

from __future__ import annotations

import time
from pathlib import Path

import PySide6
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImageReader

from ..core.fileio import resources_dir
from .app import ensure_app


def pyside_version() -> str:
    return PySide6.__version__


def open_main_window(workdir: Path) -> tuple[str | None, dict]:
    """Open, paint and close the main window; settings go to ``workdir``. Returns the first
    problem found (None when all is well) and the details for the report."""
    app = ensure_app()
    # bundled files are found where a frozen app keeps them (sys._MEIPASS), or in the checkout
    icon = resources_dir() / "icons" / "pigeonhole.png"
    formats = sorted(bytes(f).decode() for f in QImageReader.supportedImageFormats())
    details = {
        "platform": app.platformName(),
        "resources": str(icon.parent.parent),
        "image_formats": formats,
    }
    if not icon.is_file():
        return f"bundled resources not found ({icon} is missing)", details
    if app.windowIcon().isNull():
        return "the app icon did not load", details
    missing = [f for f in ("jpeg", "png") if f not in formats]
    if missing:
        return f"Qt image format plugins missing: {missing}", details
    # window geometry etc. go to the temp folder, not the user's settings
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(workdir / "settings")
    )

    from .main_window import MainWindow

    t0 = time.perf_counter()
    window = MainWindow()
    window.show()
    app.processEvents()
    details["window_show_s"] = round(time.perf_counter() - t0, 3)
    shot = window.grab()
    details["window_size"] = [shot.width(), shot.height()]
    problem = None
    if shot.isNull() or shot.width() <= 100:
        problem = "the main window could not be drawn"
    else:
        image = shot.toImage()
        colours = {
            image.pixel(x, y)
            for x in range(0, image.width(), 37)
            for y in range(0, image.height(), 29)
        }
        if len(colours) <= 3:
            problem = "the main window painted as a blank image"
        shot.save(str(workdir / "window.png"))
    window.close()
    window.deleteLater()
    app.processEvents()
    return problem, details
