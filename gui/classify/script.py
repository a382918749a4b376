"""`pigeonhole gui [PATH...] [--arch] [--checkpoint] [--classes] [--screenshot] [--quit-when-done]`:
the Classify tab loads that model, classifies those paths, then saves the window and quits."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from ..widgets.model_panel import ModelPanel
from ..widgets.weights_box import IMAGENET


class ScriptedStart:
    """The command line's part in a Classify tab: which model to load and which paths to
    classify, and what to do when that is over (save a screenshot, quit with 0 or 1). The tab
    reports the end through :meth:`done`."""

    def __init__(
        self,
        host: QWidget,
        model_panel: ModelPanel,
        notify: Callable[..., None],
        classify_when_loaded: Callable[[Iterable[str]], None],
        save_screenshot: Callable[[str], bool],
    ) -> None:
        self.host, self.model_panel, self.notify = host, model_panel, notify
        self.classify_when_loaded, self.save_screenshot = classify_when_loaded, save_screenshot
        self.args = None  # the parsed `pigeonhole gui` namespace while the script runs

    @property
    def active(self) -> bool:
        """A scripted start is under way (it has not reported its end yet)."""
        return self.args is not None

    @property
    def has_paths(self) -> bool:
        return bool(getattr(self.args, "paths", None))

    def apply(self, args) -> None:
        """Load the model the arguments name and queue their paths for it."""
        self.args = args
        mp = self.model_panel
        # Scripted to quit or to save a screenshot: nobody is there to answer a question.
        mp.unattended = bool(getattr(args, "quit_when_done", False))
        trust = bool(getattr(args, "trust_checkpoint", False))
        arch = getattr(args, "arch", None)
        if arch and not mp.arch.set_arch(arch):
            self.notify(
                f"Unknown architecture '{arch}'. Run `pigeonhole models` for the list.", True
            )
            self.done(ok=False)
            return
        self.classify_when_loaded(str(p) for p in (getattr(args, "paths", None) or []))
        if getattr(args, "checkpoint", None):
            mp.set_checkpoint_path(args.checkpoint)
            # The command line says the whole model: its names file (or none), and the
            # preprocessing the checkpoint states, whatever was chosen for it before.
            mp.classes.setText(getattr(args, "classes", None) or "")
            mp.preprocessing.set_preset(None)
            mp.request_load(trust=trust, keep_hint=bool(arch))  # --arch: as the CLI's hint
        elif arch:
            mp.set_weights_mode(IMAGENET)
            mp.request_load()
        elif not mp.autoload():
            self.notify(
                "No model: give --checkpoint FILE, or --arch NAME for ImageNet weights.", True
            )
            self.done(ok=False)

    def done(self, ok: bool, message: str | None = None) -> None:
        """The scripted work is over: take the screenshot and quit, if asked to. A failure's
        ``message`` also goes to the terminal the command was typed in, as the CLI's would."""
        args = self.args
        if args is None:
            return
        self.args = None
        self.model_panel.unattended = False
        if not ok and message:
            print(f"pigeonhole: error: {message}", file=sys.stderr)
        shot = getattr(args, "screenshot", None)
        quit_ = getattr(args, "quit_when_done", False)
        if not shot and not quit_:
            return

        def finish() -> None:
            if shot:
                self.save_screenshot(shot)
            if quit_:
                QApplication.exit(0 if ok else 1)

        QTimer.singleShot(400, self.host, finish)  # let the grid lay out and the plots redraw
