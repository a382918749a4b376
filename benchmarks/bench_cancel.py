"""How long Cancel takes: in core (from the stop flag to the end of the work, threads joined)
and in the window (from the click to the window saying so, and to the worker thread's end).

Measured for classification and for feature extraction (the long part of a training), with
ResNet-18 at its full 224-pixel input on photo-sized JPEGs, the stop set at several points
inside a batch. Goal: the window answers within 1 s; core within a batch (it checks the stop
flag between batches, and a batch cannot be cut short inside the network).

    python benchmarks/bench_cancel.py              # a few minutes on 2 cores
    python benchmarks/bench_cancel.py --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_app import Window, load_text  # noqa: E402
from PySide6.QtCore import QEventLoop  # noqa: E402

from pigeonhole.core.bench.suite import load_bench_model  # noqa: E402
from pigeonhole.core.data.synthetic import make_class_folders, make_photo_folder  # noqa: E402
from pigeonhole.core.errors import Cancelled  # noqa: E402
from pigeonhole.core.models.checkpoints import save_checkpoint  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.tasks import run_to_end  # noqa: E402
from pigeonhole.core.training.fine_tune import TrainConfig, train_classifier  # noqa: E402


def core_latency(make_gen, delay_s: float) -> float:
    """Run ``make_gen(stop)`` on a thread; ``delay_s`` after its first record, set the stop
    flag. Returns the seconds from the flag to the generator's end (its threads joined)."""
    stop = threading.Event()
    first, ended = threading.Event(), []

    def consume() -> None:
        try:
            for _ in make_gen(stop):
                first.set()
        except Cancelled:
            pass
        ended.append(time.perf_counter())
        first.set()

    t = threading.Thread(target=consume)
    t.start()
    first.wait()
    time.sleep(delay_s)
    flagged = time.perf_counter()
    stop.set()
    t.join()
    return ended[0] - flagged


def window_latency(start, cancel, answered, thread_of, working) -> tuple[float, float]:
    """Start a job; once ``working()`` says it is under way, press Cancel inside the next
    batch. Returns (seconds to the window's answer, seconds to the worker thread's end)."""
    loop = QEventLoop()
    start()
    while not working():
        loop.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    time.sleep(0.2)  # somewhere inside the next batch
    thread = thread_of()
    got = []
    answered.connect(got.append)
    t0 = time.perf_counter()
    cancel()
    while not got:
        loop.processEvents()
    t_answer = time.perf_counter() - t0
    while thread is not None and thread.isRunning():
        loop.processEvents()
    answered.disconnect(got.append)
    return t_answer, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pigeonhole-bench-cancel-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("PIGEONHOLE_CACHE_DIR", str(work / "cache"))
        os.environ.setdefault("PIGEONHOLE_DATA_DIR", str(work / "data"))
        print("Generating images...", flush=True)
        photos = make_photo_folder(work / "photos", 240)
        data = make_class_folders(work / "train", 120, ("red", "blue"), size=(500, 375))
        loaded = load_bench_model("resnet18", None)
        print(f"ResNet-18 ({loaded.source}), 224 px input; {load_text()}", flush=True)

        rows = []
        delays = [0.05 + 0.6 * i / max(1, args.repeats - 1) for i in range(args.repeats)]
        clf = Classifier(loaded, topk=1)
        lat = [core_latency(lambda s: clf.run(photos, should_stop=s), d) for d in delays]
        per_image = 1 / run_to_end(clf.run(sorted(photos.iterdir())[:64])).images_per_s
        rows.append(("core: classification", lat, per_image * clf.batch_size))
        cfg = TrainConfig(epochs=1, use_cache=False)
        lat = [
            core_latency(
                lambda s: train_classifier(data, base=loaded, config=cfg, should_stop=s), d
            )
            for d in delays
        ]
        rows.append(("core: feature extraction", lat, per_image * clf.batch_size))

        win = Window(work / "settings")
        tab, train = win.tab, win.window.train_tab
        ckpt = work / "resnet18.pth"
        save_checkpoint(ckpt, loaded.model, loaded.arch, loaded.class_names, loaded.transform)
        win.load(ckpt, "auto")
        answers, ends = [], []
        for _ in range(args.repeats):
            a, e = window_latency(
                lambda: tab.classify_paths([str(photos)]),
                tab.cancel_run,
                tab.runs.finished,
                lambda: tab.runs.classifying.thread,
                lambda: tab.results.rowCount() > 0,
            )
            answers.append(a)
            ends.append(e)
        window_rows = [("window: classification", answers, ends)]
        train.set_data_folder(str(data))
        win.wait(train.scanned, 300)
        train.network.set_checkpoint(str(ckpt))
        train.options.epochs_spin.setValue(1)
        answers, ends = [], []
        for _ in range(args.repeats):
            a, e = window_latency(
                train.start,
                train.cancel,
                train.training_done,
                lambda: train.training.thread,
                lambda: "Extracting" in train.status.text() and train.progress.value() > 0,
            )
            answers.append(a)
            ends.append(e)
        window_rows.append(("window: training (extraction)", answers, ends))
        win.close()

    print(f"\nCancel latency (seconds; {load_text()}):")
    for name, lat, per_batch in rows:
        print(f"  {name:32} median {statistics.median(lat):.2f}, worst {max(lat):.2f}; "
              f"a batch of {clf.batch_size} takes about {per_batch:.2f}")  # fmt: skip
    for name, answers, ends in window_rows:
        print(f"  {name:32} answered in median {statistics.median(answers):.3f}, worst "
              f"{max(answers):.3f} (goal < 1); threads ended after median "
              f"{statistics.median(ends):.2f}, worst {max(ends):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
