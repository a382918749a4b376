"""The app under cancel and close: many cycles of opening the real main window (offscreen),
loading a model, classifying a folder with corrupt files in it or training on a folder of
class folders, and cancelling or closing at a random moment, as an impatient person does.

Each cycle must end (window closed, every worker thread joined) within --cycle-timeout
seconds; one that does not is a hang: Python's faulthandler prints every thread's stack and
the process exits non-zero. First, one window for a long session (--runs
classifications, each cancelled at random): its memory after 5 runs and after the last, which
should stay flat. Reported for the cycles: how many of each kind, hangs (0), Python
exceptions caught by the event loop (0), threads added after the first round of cycles (0),
the slowest close and the slowest cancel (click to the run's end on screen), peak memory.

    python benchmarks/soak_app.py                  # 50 cycles, a few minutes on 2 cores
    python benchmarks/soak_app.py --cycles 10 --json figures.json

soak.py runs it as its "app" step.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_app import Window  # noqa: E402
from PySide6.QtCore import QThreadPool  # noqa: E402
from soak import make_checkpoint, make_images  # noqa: E402

from pigeonhole.core.data.synthetic import make_class_folders  # noqa: E402

KINDS = ("cancel, close", "close mid-run", "cancel, run again, close", "close while loading",
         "close mid-training")  # fmt: skip


def native_threads() -> int:
    """The process's threads, as the kernel counts them (Qt's, torch's and Python's)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: Python's own threads only
        return threading.active_count()


def rss_mb() -> float:
    """Resident memory now (Linux; elsewhere the peak)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(x.split()[1]) / 1024 for x in f if x.startswith("VmRSS"))
    except (OSError, StopIteration):
        return peak_rss_mb()


def one_window_runs(work: Path, runs: int, rng: random.Random) -> tuple[float, float]:
    """One window, ``runs`` classifications each cancelled at a random moment (a long session):
    resident memory after the first few runs and after the last, in MB."""
    win = Window(work / "settings" / "one", 1024, 640)
    win.load(work / "model.pth", "cpu")
    early = 0.0
    for i in range(runs):
        win.tab.classify_paths([str(work / "images")])
        pump(win, rng.uniform(0.05, 1.5))
        cancel(win)
        if i == min(4, runs - 1):
            early = rss_mb()
    late = rss_mb()
    close(win)
    return early, late


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pump(win: Window, seconds: float) -> None:
    """Let the event loop run for ``seconds`` (results arrive, tiles paint)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        win.app.processEvents()
        time.sleep(0.005)


def cancel(win: Window) -> float:
    """Click Cancel; seconds until the window shows the run as ended."""
    t0 = time.perf_counter()
    win.tab.act_cancel.trigger()
    while win.tab.runs.running:
        win.app.processEvents()
        time.sleep(0.001)
    return time.perf_counter() - t0


def close(win: Window) -> float:
    """Close the window as a person does; seconds until it is closed and its threads joined."""
    t0 = time.perf_counter()
    win.close()
    return time.perf_counter() - t0


def one_cycle(kind: str, i: int, work: Path, rng: random.Random, figures: dict) -> None:
    settings = work / "settings" / f"{i:03d}"
    win = Window(settings, 1024, 640)
    try:
        if kind == "close while loading":
            win.tab.load_checkpoint_file(str(work / "model.pth"))
            pump(win, rng.uniform(0.0, 0.3))
            figures["close_s"].append(close(win))
            return
        win.load(work / "model.pth", "cpu")
        if kind == "close mid-training":
            train = win.window.train_tab
            win.window.tabs.setCurrentWidget(train)
            train.set_data_folder(str(work / "classes"))
            win.wait(train.scanned, 60)
            train.network.set_checkpoint(str(work / "model.pth"))
            assert train.start(), "the Train tab did not start"
            pump(win, rng.uniform(0.2, 3.0))
            figures["close_s"].append(close(win))
            return
        win.tab.classify_paths([str(work / "images")])
        pump(win, rng.uniform(0.05, 1.5))
        if kind != "close mid-run":
            figures["cancel_s"].append(cancel(win))
        if kind == "cancel, run again, close":
            win.tab.classify_paths([str(work / "images")])
            pump(win, rng.uniform(0.05, 1.0))
        figures["close_s"].append(close(win))
    finally:
        win.window.deleteLater()
        win.app.processEvents()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--images", type=int, default=600, help="images per classification run")
    ap.add_argument("--runs", type=int, default=30, help="runs in the one-window session")
    ap.add_argument("--cycle-timeout", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", help="keep everything here (default: a temp folder)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    errors: list[str] = []
    default_hook = sys.excepthook

    def hook(kind, value, tb) -> None:  # an exception in a slot: counted, never swallowed
        errors.append(f"{kind.__name__}: {value}")
        default_hook(kind, value, tb)

    sys.excepthook = hook
    figures: dict = {"close_s": [], "cancel_s": []}
    by_kind = dict.fromkeys(KINDS, 0)
    with tempfile.TemporaryDirectory(prefix="pigeonhole-soak-app-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("PIGEONHOLE_CACHE_DIR", str(work / "cache"))
        os.environ.setdefault("PIGEONHOLE_DATA_DIR", str(work / "appdata"))
        corrupt = make_images(work / "images", args.images, 0.05, seed=args.seed)
        make_class_folders(work / "classes", 30, ("red", "blue"), size=(96, 72))
        make_checkpoint(work / "model.pth")
        # first the long session, in a process no other window has used memory in yet
        print(f"one window, {args.runs} runs cancelled at random...", flush=True)
        faulthandler.dump_traceback_later(args.cycle_timeout * 5, exit=True)
        early, late = one_window_runs(work, args.runs, rng)
        faulthandler.cancel_dump_traceback_later()
        baseline = None  # threads after one cycle of each kind (torch's and ORT's pools exist)
        print(f"{args.cycles} cycles; {args.images} images per run ({len(corrupt)} corrupt)",
              flush=True)  # fmt: skip
        t0 = time.perf_counter()
        for i in range(args.cycles):
            kind = KINDS[i % len(KINDS)]
            faulthandler.dump_traceback_later(args.cycle_timeout, exit=True)
            one_cycle(kind, i, work, rng, figures)
            faulthandler.cancel_dump_traceback_later()
            by_kind[kind] += 1
            if i == len(KINDS) - 1:
                QThreadPool.globalInstance().waitForDone(10_000)
                baseline = native_threads()
            if (i + 1) % 10 == 0:
                print(f"  {i + 1} cycles, {time.perf_counter() - t0:.0f} s, peak "
                      f"{peak_rss_mb():.0f} MB", flush=True)  # fmt: skip
        QThreadPool.globalInstance().waitForDone(10_000)
        left = native_threads() - (baseline or 0)
        python_threads = sorted(
            t.name for t in threading.enumerate() if not isinstance(t, threading._DummyThread)
        )
        peak_cycles = peak_rss_mb()
    closes, cancels = figures["close_s"], figures["cancel_s"]
    report = {
        "cycles": sum(by_kind.values()),
        "by_kind": by_kind,
        "hangs": 0,  # a hang never gets here: faulthandler ends the process
        "exceptions": len(errors),
        "threads_added_after_first_round": left,
        "python_threads_now": python_threads,
        "close_s_median": round(statistics.median(closes), 3),
        "close_s_max": round(max(closes), 3),
        "cancel_s_median": round(statistics.median(cancels), 3),
        "cancel_s_max": round(max(cancels), 3),
        # every cycle opens a new window in this one process: memory a closed window leaves to
        # the allocator adds up here (about 100 MB per window on glibc), which a person never
        # meets (one window per process); the one-window session (run first) is the figure for that
        "peak_rss_mb_cycles": round(peak_cycles, 1),
        "one_window_rss_mb_after_5_runs": round(early, 1),
        f"one_window_rss_mb_after_{args.runs}_runs": round(late, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 1 if errors or left > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
