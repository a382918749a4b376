"""Start-up benchmark: whole processes, timed from their launch.

1. `pigeonhole --help` and `pigeonhole --version` (neither imports torch);
2. the window, offscreen (benchmarks/startup_probe.py): the main window's first paint, and the
   main window ready: its drop zone has taken a dropped image (torch is not imported for
   either; it loads on a worker after);
3. `pigeonhole predict ONE_IMAGE` until its result line and its exit (ResNet-18 with seeded
   random weights): the checkpoint on torch (--engine torch); the checkpoint with its ONNX
   export cached (made by an untimed warm-up run, as a user's second run finds it: no torch);
   the model exported as an .onnx file (no torch);
4. the yardstick, measured in the same run: `python -c "import torch"` alone.

Every figure is the median of --runs runs, the variants interleaved; the load average is
printed with them. Goals (2 cores): --help < 0.3 s, main window ready < 1.0 s, predict < 3 s,
and a one-image predict on an .onnx model or a cached export under the time of `import torch`.

    python benchmarks/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def timed(cmd: list[str], env: dict, until: str | None = None) -> dict[str, float]:
    """Seconds from launch to exit ("exit"), and to the first output line starting with each
    word of interest (the GUI probe's lines carry their own wall-clock time)."""
    t0 = time.time()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    marks: dict[str, float] = {}
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] in ("MainWindow", "DropAccepted"):
            marks[parts[0]] = float(parts[1]) - t0
            marks[parts[0] + " torch"] = parts[2] == "True"
        elif until and until not in marks:
            marks[until] = time.time() - t0
    proc.wait()
    marks["exit"] = time.time() - t0
    return marks


def window_variants() -> dict[str, tuple[list[str], str | None]]:
    """The window: its first paint, then a drop taken (benchmarks/startup_probe.py)."""
    return {"gui": ([PY, str(ROOT / "benchmarks" / "startup_probe.py")], None)}


def print_window_rows(med, runs: dict[str, list[dict]]) -> None:
    """The window's rows: first paint, and ready for a drop."""
    torch_at_ready = any(r.get("DropAccepted torch") for r in runs["gui"])
    torch_at_paint = any(r.get("MainWindow torch") for r in runs["gui"])
    print(f"  main window, first paint:             {med('gui', 'MainWindow'):6.2f} s  "
          f"(torch imported by then: {torch_at_paint})")  # fmt: skip
    print(f"  main window ready (drop zone accepts a drop): {med('gui', 'DropAccepted'):.2f} s  "
          f"(goal < 1.0; torch imported by the drop: {torch_at_ready})")  # fmt: skip


def _loadavg() -> str:
    """/proc/loadavg as it reads (1, 5, 15 minutes...), or "?" where there is none."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pigeonhole-startup-"))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT),
               PIGEONHOLE_CACHE_DIR=str(tmp / "cache"), PIGEONHOLE_DATA_DIR=str(tmp / "data"),
               XDG_CONFIG_HOME=str(tmp / "config"))  # fmt: skip
    sys.path.insert(0, str(ROOT))
    import torch

    from pigeonhole.core.data.synthetic import make_photo_folder
    from pigeonhole.core.models.archs import build_model, get_arch
    from pigeonhole.core.models.checkpoints import ModelSource, load_model, save_checkpoint
    from pigeonhole.core.runtime.network_export import export_model

    torch.manual_seed(0)
    ckpt = tmp / "resnet18.pth"
    save_checkpoint(ckpt, build_model("resnet18", 10), "resnet18", [f"c{i}" for i in range(10)],
                    get_arch("resnet18").transform)  # fmt: skip
    onnx_file = tmp / "resnet18.onnx"
    export_model(load_model(ModelSource(checkpoint=str(ckpt))), "onnx", onnx_file)
    make_photo_folder(tmp / "one", 1)
    image = str(next((tmp / "one").iterdir()))
    cli = [PY, "-m", "pigeonhole"]
    predict = [*cli, "predict", image, "--quiet", "--checkpoint"]
    variants = {
        "--help": ([*cli, "--help"], None),
        "--version": ([*cli, "--version"], None),
        **window_variants(),
        "import torch": ([PY, "-c", "import torch"], None),
        "predict, torch": ([*predict, str(ckpt), "--engine", "torch"], "result"),
        "predict, cached export": ([*predict, str(ckpt)], "result"),
        "predict, .onnx model": ([*predict, str(onnx_file)], "result"),
    }
    for cmd, until in variants.values():  # warm-up: file caches, the ONNX export (and index)
        timed(cmd, env, until)
    load_before = _loadavg()
    runs: dict[str, list[dict]] = {k: [] for k in variants}
    for _ in range(args.runs):
        for name, (cmd, until) in variants.items():
            runs[name].append(timed(cmd, env, until))

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name] if key in r)

    load_after = _loadavg()
    print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores), median of {args.runs}")
    print(f"  /proc/loadavg before the timed runs: {load_before}; after: {load_after}")
    print(f"  pigeonhole --help:                    {med('--help', 'exit'):6.2f} s  (goal < 0.3)")
    print(f"  pigeonhole --version:                 {med('--version', 'exit'):6.2f} s")
    print_window_rows(med, runs)
    yardstick = med("import torch", "exit")
    print(f"  python -c 'import torch' (yardstick): {yardstick:6.2f} s")
    for name in ("predict, torch", "predict, cached export", "predict, .onnx model"):
        first, done = med(name, "result"), med(name, "exit")
        goal = "goal < 3" if name.endswith("torch") else "goal: exit < import torch"
        print(f"  {name + ', first result:':<38}{first:6.2f} s  (exit {done:.2f} s, "
              f"{done / yardstick:.2f}x import torch; {goal})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
