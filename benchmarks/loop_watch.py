"""The GUI thread's event loop, watched: a 5 ms timer whose gaps are the stalls, and for each
long gap where the GUI thread was and why it waited.

Each tick records, besides its time, the GUI thread's scheduler figures from Linux's
``/proc/self/task/<tid>/schedstat`` (time on a CPU, time runnable but waiting for one). A gap
then splits into: the GUI thread's own work (on a CPU), the machine's load (runnable, the OS
running other processes), and waiting (asleep: for the GIL another thread of ours holds, or a
lock). A watchdog thread samples the GUI thread's Python stack (``sys._current_frames``) while
the loop is late by more than ``late_ms``: the frames say what the GUI thread was doing."""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from PySide6.QtCore import QTimer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Gap:
    ms: float  # between two ticks
    at: float  # when it began, seconds after the start asked for
    cpu_ms: float  # the GUI thread on a CPU (its own work)
    runq_ms: float  # runnable, not scheduled (the machine's load); nan where unknown
    stack: str  # the GUI thread's most sampled stack during the gap ("" if none)
    holders: tuple[str, ...] = ()  # threads busy while even the watchdog waited for the GIL

    @property
    def waiting_ms(self) -> float:
        """Asleep: the GIL held by another thread of this process, a lock, I/O."""
        runq = 0.0 if self.runq_ms != self.runq_ms else self.runq_ms
        return max(0.0, self.ms - self.cpu_ms - runq)


def _schedstat_reader():
    """A function giving the calling thread's (on-CPU ns, run-queue ns), or None off Linux."""
    path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None

    def read() -> tuple[int, int]:
        on_cpu, runq, _slices = os.pread(fd, 128, 0).split()
        return int(on_cpu), int(runq)

    return read


def _our_frames(frames: traceback.StackSummary, most: int = 5) -> str:
    """The innermost frames, those of this project first (library frames say little)."""
    ours = [f for f in frames if f.filename.startswith(ROOT) and "benchmarks" not in f.filename]
    picked = (ours or list(frames))[-most:]
    inner = frames[-1]
    lines = [f"{os.path.relpath(f.filename, ROOT)}:{f.lineno} {f.name}" for f in picked]
    if picked and inner is not picked[-1]:
        lines.append(f"… {os.path.basename(inner.filename)}:{inner.lineno} {inner.name}")
    return " <- ".join(reversed(lines))


def _idle(frame) -> bool:
    """A thread waiting (a lock, a queue, a condition): not the one that held the GIL."""
    return frame.f_code.co_name in ("wait", "get", "_wait_for_tstate_lock", "select")


class LoopWatch:
    """Start in the GUI thread (it is the thread watched); :meth:`stop` when done."""

    def __init__(self, interval_ms: int = 5, late_ms: float = 50.0) -> None:
        self.times: list[float] = []
        self.sched: list[tuple[int, int]] = []
        self.cpu: list[float] = []
        self._read = _schedstat_reader()
        self._main = threading.main_thread().ident
        self._late = late_ms / 1000
        # (when, the GUI thread's stack, the threads that may have held the GIL)
        self.samples: list[tuple[float, str, tuple[str, ...]]] = []
        self._stop = threading.Event()
        self.timer = QTimer(interval=interval_ms)
        self.timer.timeout.connect(self._tick)
        self._tick()
        self.timer.start()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        self.times.append(time.perf_counter())
        self.cpu.append(time.thread_time())
        if self._read is not None:
            self.sched.append(self._read())

    def _watch(self) -> None:
        me = threading.get_ident()
        asked = time.perf_counter()
        while not self._stop.wait(0.01):
            now = time.perf_counter()
            held, since = now - asked > 0.03, asked  # this thread too waited for the GIL
            asked = now
            late = now - self.times[-1] > self._late
            if not (late or held):
                continue
            frames = sys._current_frames()
            stack = ""
            if late and self._main in frames:
                stack = _our_frames(traceback.extract_stack(frames[self._main]))
            holders = []
            if held:  # who held it: a thread that has just come out of a long call
                names = {t.ident: t.name for t in threading.enumerate()}
                for ident, frame in frames.items():
                    if ident not in (self._main, me) and not _idle(frame):
                        other = _our_frames(traceback.extract_stack(frame), most=3)
                        holders.append(f"{names.get(ident, ident)}: {other}")
            self.samples.append((since if held else now, stack, tuple(holders)))

    def stop(self) -> None:
        self.timer.stop()
        self._stop.set()
        self._thread.join()

    def gaps(self, start: float, end: float) -> list[Gap]:
        """Every gap between ticks from ``start`` to ``end`` (perf_counter seconds)."""
        out = []
        for i in range(1, len(self.times)):
            a, b = self.times[i - 1], self.times[i]
            if a < start or b > end:
                continue
            ms = (b - a) * 1000
            cpu = (self.cpu[i] - self.cpu[i - 1]) * 1000
            runq = float("nan")
            if self.sched:
                cpu = (self.sched[i][0] - self.sched[i - 1][0]) / 1e6
                runq = (self.sched[i][1] - self.sched[i - 1][1]) / 1e6
            stack, holders = "", ()
            if ms > self._late * 1000:
                inside = [(s, h) for t, s, h in self.samples if a <= t <= b]
                seen = collections.Counter(s for s, _h in inside if s)
                stack = seen.most_common(1)[0][0] if seen else ""
                holders = tuple(dict.fromkeys(x for _s, h in inside for x in h))[:3]
            out.append(Gap(ms, a - start, cpu, runq, stack, holders))
        return out


def report(what: str, gaps: list[Gap], worst: int = 5) -> None:
    """One line of figures, then the worst gaps split into work, load and waiting."""
    if not gaps:
        print(f"  {what}: no timer ticks recorded")
        return
    ms = sorted(g.ms for g in gaps)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    over = sum(g > 100 for g in ms)
    print(f"  {what}: {len(ms):,} gaps, median {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
          f"worst {ms[-1]:.0f} ms; {over} over 100 ms")  # fmt: skip
    # What this process can change, whatever else the machine runs: the GIL (and locks).
    waits = sorted(g.waiting_ms for g in gaps)
    print(f"    waiting (GIL/lock) in one gap: worst {waits[-1]:.0f} ms, "
          f"{sum(w > 50 for w in waits)} over 50 ms; the GUI thread's own work in one gap: "
          f"worst {max(g.cpu_ms for g in gaps):.0f} ms")  # fmt: skip
    for g in sorted(gaps, key=lambda g: g.ms, reverse=True)[:worst]:
        if g.ms <= 50:
            break
        print(f"    {g.ms:5.0f} ms at {g.at:6.2f} s: GUI thread working {g.cpu_ms:4.0f} ms, "
              f"runnable but not scheduled (load) {g.runq_ms:4.0f} ms, waiting (GIL/lock) "
              f"{g.waiting_ms:4.0f} ms")  # fmt: skip
        if g.stack:
            print(f"        in {g.stack}")
        for holder in g.holders:
            print(f"        GIL with {holder}")
