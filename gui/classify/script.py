"""`pigeonhole gui [PATH...] [--arch] [--checkpoint] [--classes] [--screenshot] [--quit-when-done]`:
the Classify tab loads that model, classifies those paths, then saves the window and quits.

A mixin of :class:`gui.classify_tab.ClassifyTab` (uses its model panel, pending paths, notify).
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ..widgets.model_panel import IMAGENET


class ScriptedStartMixin:
    def apply_command_line(self, args) -> None:
        """`pigeonhole gui [PATH...] [--arch] [--checkpoint] [--classes] [--screenshot]
        [--quit-when-done]`: load that model and classify those paths."""
        self.script = args
        mp = self.model_panel
        arch = getattr(args, "arch", None)
        if arch and not mp.arch.set_arch(arch):
            self.notify(
                f"Unknown architecture '{arch}'. Run `pigeonhole models` for the list.", True
            )
            self._script_done(ok=False)
            return
        self.pending.extend(str(p) for p in (getattr(args, "paths", None) or []))
        if getattr(args, "checkpoint", None):
            mp.classes.setText(getattr(args, "classes", None) or "")
            mp.set_checkpoint_path(args.checkpoint)
            mp.request_load()
        elif arch:
            mp.set_weights_mode(IMAGENET)
            mp.request_load()
        elif not mp.autoload():
            self.notify(mp.status.text(), error=True)
            self._script_done(ok=False)

    def _script_done(self, ok: bool) -> None:
        args = self.script
        if args is None:
            return
        self.script = None
        shot = getattr(args, "screenshot", None)
        quit_ = getattr(args, "quit_when_done", False)
        if not shot and not quit_:
            return

        def finish() -> None:
            if shot:
                self.save_screenshot(shot)
            if quit_:
                QApplication.exit(0 if ok else 1)

        QTimer.singleShot(400, self, finish)  # let the grid lay out and the plots redraw first

    def save_screenshot(self, path: str) -> bool:
        self.timing.redraw()
        self.grid.doItemsLayout()
        QApplication.processEvents()
        return self.window().grab().save(str(path))
