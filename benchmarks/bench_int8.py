"""int8 on the CPU, two ways, measured side by side: ONNX Runtime static QDQ (what
`--precision int8` runs: core.runtime.quantize) against torch's FX static quantisation (x86
backend, per-channel weights). Same model, same calibration crops, same held-out crops:
model-only images/s (the pipeline's forward threads and torch threads) and top-1 agreement with
fp32 on the held-out crops. Timings interleaved, median of --repeats.

With --checkpoint (e.g. the fine-tuned ResNet-18 bench_whole_process.py leaves in its workdir)
the agreement means something; with seeded random weights (the default) only speed does.

    python benchmarks/bench_int8.py [--checkpoint FILE] [--images 64]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from pigeonhole.core.bench.suite import load_bench_model  # noqa: E402
from pigeonhole.core.data.preprocessing import normalize_batch  # noqa: E402
from pigeonhole.core.data.synthetic import make_photo_folder  # noqa: E402
from pigeonhole.core.runtime.inference import Classifier  # noqa: E402
from pigeonhole.core.runtime.options import RunOptions  # noqa: E402
from pigeonhole.core.runtime.quantize import calibration_set  # noqa: E402


def torch_fx_int8(model: torch.nn.Module, calibrate: torch.Tensor, spec) -> torch.nn.Module:
    """torch's FX graph-mode static quantisation, x86 backend (fbgemm + oneDNN)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of torch.ao
        example = (normalize_batch(calibrate[:1], spec),)
        prepared = prepare_fx(
            copy.deepcopy(model).eval(), get_default_qconfig_mapping("x86"), example
        )
        with torch.inference_mode():
            for batch in calibrate.split(8):
                prepared(normalize_batch(batch, spec))
        return convert_fx(prepared)


def throughput(fn, batches: list[torch.Tensor], streams: int, per_stream: int) -> float:
    """Images/s of fn over the batches on ``streams`` threads of ``per_stream`` torch threads
    (as core.bench.measure.model_only runs the engines)."""
    from concurrent.futures import ThreadPoolExecutor

    prev = torch.get_num_threads()
    with ThreadPoolExecutor(streams, initializer=lambda: torch.set_num_threads(per_stream)) as p:
        list(p.map(fn, batches[:streams]))
        t0 = time.perf_counter()
        list(p.map(fn, batches))
        seconds = time.perf_counter() - t0
    torch.set_num_threads(prev)
    return sum(len(b) for b in batches) / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--folder", help="images to calibrate and measure on (default: generated)")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    loaded = load_bench_model("resnet18", args.checkpoint)
    spec = loaded.transform
    tmp = None
    folder = args.folder
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="pigeonhole-int8-")
        folder = make_photo_folder(Path(tmp.name), args.images)
    cal = calibration_set([folder], spec)  # numpy uint8 crops: torch's own int8 takes tensors
    calibrate, holdout = torch.from_numpy(cal.calibrate), torch.from_numpy(cal.holdout)
    ort = Classifier(loaded, RunOptions("cpu", precision="int8"), calibration=[folder])
    plan = ort.plan
    fp32 = Classifier(loaded, RunOptions("cpu", "torch", "fp32"))
    tq = torch_fx_int8(loaded.model, calibrate, spec)
    held = holdout if len(holdout) else calibrate

    def torch_int8(crops: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return tq(normalize_batch(crops, spec))

    batches = list(held.split(plan.batch_size))
    runs = {"torch fp32": fp32.forward_crops, "ONNX Runtime int8": ort.forward_crops,
            "torch FX int8": torch_int8}  # fmt: skip
    speed: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            speed[name].append(throughput(fn, batches, plan.forward_streams,
                                          plan.threads_per_stream or 1))  # fmt: skip
    ref = fp32.forward_crops(held).argmax(1)
    base = statistics.median(speed["torch fp32"])
    print(f"resnet18 ({loaded.source}), {len(held)} held-out crops, calibrated on "
          f"{len(cal.calibrate)}; load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")  # fmt: skip
    print(f"{'':<20} {'img/s':>7} {'vs fp32':>8} {'top-1 = fp32':>13}")
    for name, fn in runs.items():
        ips = statistics.median(speed[name])
        agree = (fn(held).argmax(1) == ref).float().mean().item() * 100
        print(f"{name:<20} {ips:7.1f} {ips / base:7.2f}x {agree:12.1f}%")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
