"""On a real NVIDIA GPU only (skipped elsewhere): the GPU pipeline (nvJPEG decoding, fp16)
against the CPU pipeline, and `pigeonhole bench --device cuda`. The device-correctness of every
step is checked without a GPU in test_fake_cuda.py; this checks the numbers and nvJPEG itself."""

from __future__ import annotations

import pytest
import torch

from pigeonhole.core.bench.suite import run_bench
from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.runtime.inference import classify_paths

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")

CLASSES = ("red", "green", "blue")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(300):
        label = CLASSES[i % 3]
        class_image(label, 500 + i, (500, 375)).save(folder / f"{label}_{i:03d}.jpg", quality=88)
    class_image("red", 1, (200, 150)).convert("CMYK").save(folder / "zz_cmyk.jpg")  # Pillow's
    (folder / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff" + bytes(500))
    return folder


def test_gpu_pipeline_agrees_with_the_cpu_pipeline(photos, decisive):
    cpu, _ = classify_paths(decisive, [photos], device="cpu", topk=1)
    gpu, summary = classify_paths(decisive, [photos], device="cuda", topk=1, thumbnail_size=96)
    assert summary.decode == "gpu" and summary.precision == "fp16"
    assert [p.path for p in cpu] == [p.path for p in gpu]
    assert [p.ok for p in cpu] == [p.ok for p in gpu]  # the broken file fails on both
    pairs = [(a, b) for a, b in zip(cpu, gpu, strict=True) if a.ok]
    same = sum(a.label == b.label for a, b in pairs) / len(pairs)
    assert same >= 0.99
    assert all(p.thumbnail is not None for p in gpu if p.ok)


def test_fp32_on_cuda_with_pillow_matches_the_cpu_logits(photos, decisive):
    kw = {"topk": 1, "keep_logits": True}
    cpu, _ = classify_paths(decisive, [photos], device="cpu", **kw)
    gpu, _ = classify_paths(decisive, [photos], device="cuda", precision="fp32", decode="cpu", **kw)
    diffs = [
        max(abs(x - y) for x, y in zip(a.logits, b.logits, strict=True))
        for a, b in zip(cpu, gpu, strict=True)
        if a.ok
    ]
    assert max(diffs) < 1e-2  # cuDNN vs oneDNN kernels, TF32 off by default for convolutions


def test_bench_on_cuda_reports_decoding_and_memory(photos):
    lines: list[str] = []
    res = run_bench(
        str(photos), "resnet18", device="cuda", images=256, draft=False, out=lines.append
    )
    assert res.decode["gpu_ips"] > 0 and res.decode["cpu_ips"] > 0
    gpu_row, pillow_row = res.rows[0], res.rows[-1]
    assert gpu_row["decode"] == "gpu" and pillow_row["decode"] == "cpu"
    assert gpu_row["peak_gpu_mb"] > 0 and pillow_row["gpu_vs_pillow_top1_pct"] >= 0
    assert any("decode ceiling, on the GPU" in line for line in lines)
