"""`pigeonhole --self-test`: the real pipeline on generated data, the report, the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pigeonhole import selftest

ROOT = Path(__file__).resolve().parent.parent


def test_self_test_passes_offscreen_and_leaves_user_folders_alone(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    report = tmp_path / "out" / "report.json"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIGEONHOLE_", "XDG_")) and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(HOME=str(home), QT_QPA_PLATFORM="offscreen", TORCH_HOME=str(tmp_path / "torch"))
    proc = subprocess.run(
        [sys.executable, "-m", "pigeonhole", "--self-test", "--report", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Self-test passed: 10/10 steps" in proc.stdout

    data = json.loads(report.read_text())
    assert data["passed"] is True
    assert data["frozen"] is False and data["bundle"] == "full"
    steps = {s["name"]: s for s in data["steps"]}
    assert list(steps) == [name for name, _ in selftest.STEPS]
    assert {s["status"] for s in steps.values()} == {"passed"}
    assert all(s["seconds"] >= 0 for s in steps.values())

    qt = steps["qt"]["details"]
    assert qt["platform"] == "offscreen"
    assert {"jpeg", "png"} <= set(qt["image_formats"])
    assert qt["window_size"][0] > 100 and qt["launch_to_window_s"] > 0
    classify = steps["classify"]["details"]
    assert classify["processed"] == 10 and classify["images_per_s"] > 0
    formats = steps["formats"]["details"]  # ".[dev]" brings RAW and JPEG XL too
    assert set(formats.values()) == {"ok"} and {"heic", "avif", "dng", "jxl"} <= set(formats)
    train = steps["train"]["details"]
    assert train["epochs"] == 2 and 0.0 <= train["val_accuracy"] <= 1.0
    assert steps["imports"]["details"]["modules"] > 10
    assert qt["torch_imported"] is False  # the window opens without torch
    onnx = steps["onnx"]["details"]
    assert onnx["images"] == 10 and onnx["model"].endswith("selftest.onnx")

    # settings, caches, logs and weights all went to the self-test's temp folder (other
    # libraries may keep caches in HOME, such as fontconfig's; nothing of the app's may be there)
    assert [p for p in home.rglob("*") if "pigeonhole" in str(p).lower()] == []
    torch_home = tmp_path / "torch"
    assert not torch_home.exists() or not any(torch_home.iterdir())
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.json"]


def test_a_failing_step_fails_the_run_and_skips_what_depends_on_it(tmp_path, capsys):
    seen_workdirs = []

    def fine(ctx):
        seen_workdirs.append(ctx.workdir)
        ctx.state["number"] = 42
        return "fine", {"number": ctx.state["number"]}

    def broken(ctx):
        raise RuntimeError("operator torchvision::nms does not exist")

    def needs_model(ctx):
        ctx.need("model")
        return "unreachable", {}

    def false_check(ctx):
        selftest.check(1 + 1 == 3, "arithmetic is off")
        return "unreachable", {}

    report = tmp_path / "r.json"
    code = selftest.run(
        str(report),
        steps=[
            ("fine", fine),
            ("broken", broken),
            ("dependent", needs_model),
            ("check", false_check),
        ],
    )
    assert code == 1
    data = json.loads(report.read_text())
    assert data["passed"] is False
    status = {s["name"]: s for s in data["steps"]}
    assert status["fine"]["status"] == "passed" and status["fine"]["details"] == {"number": 42}
    assert status["broken"]["status"] == "failed"
    assert "torchvision::nms" in status["broken"]["message"]
    assert "RuntimeError" in status["broken"]["details"]["traceback"]
    assert status["dependent"]["status"] == "skipped"
    assert "model" in status["dependent"]["message"]
    assert status["check"] == {
        **status["check"],
        "status": "failed",
        "message": "arithmetic is off",
    }

    out = capsys.readouterr().out
    assert "Self-test FAILED: 1/4 steps" in out
    assert "FAIL  broken" in out
    # the temporary folder is gone afterwards
    assert seen_workdirs and not seen_workdirs[0].exists()


def test_process_age_is_positive_on_linux():
    age = selftest.process_age_s()
    if sys.platform.startswith("linux"):
        assert age is not None and 0 < age < 24 * 3600
    else:
        assert age is None


def test_self_test_runs_without_console_streams(tmp_path, monkeypatch):
    """A windowed frozen app has sys.stdout/sys.stderr = None: printing must not crash it."""
    from pigeonhole import cli

    def tiny(ctx):
        return "ran", {"workdir_exists": ctx.workdir.is_dir()}

    monkeypatch.setattr(selftest, "STEPS", [("tiny", tiny)])
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    report = tmp_path / "windowed.json"
    assert cli.main(["--self-test", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["passed"] is True
    assert data["steps"][0]["details"] == {"workdir_exists": True}


def test_the_lite_build_reports_torch_steps_unavailable_and_classifies_with_onnx(
    tmp_path, monkeypatch, capsys
):
    """The lite bundle has no PyTorch: the steps that prove it are "unavailable" (not failed,
    so the run passes), and the ONNX step classifies with the model shipped in the bundle."""
    from pigeonhole import selftest_steps
    from pigeonhole.core import fileio

    resources = tmp_path / "resources"
    selftest_steps.make_onnx_model(resources / selftest_steps.SHIPPED_MODEL)
    monkeypatch.setattr(selftest_steps, "bundle_kind", lambda: selftest_steps.LITE)
    monkeypatch.setattr(fileio, "resources_dir", lambda: resources)
    report = tmp_path / "lite.json"
    steps = [(name, fn) for name, fn in selftest.STEPS if name not in ("qt", "imports")]
    assert selftest.run(str(report), steps=steps) == 0
    data = json.loads(report.read_text())
    status = {s["name"]: s["status"] for s in data["steps"]}
    assert status.pop("onnx") == status.pop("formats") == "passed"  # neither needs torch
    assert set(status.values()) == {"unavailable"}
    assert all("full install" in s["message"] for s in data["steps"] if s["name"] in status)
    onnx = next(s for s in data["steps"] if s["name"] == "onnx")["details"]
    assert onnx["images"] == 10 and onnx["model"] == str(resources / "selftest" / "selftest.onnx")
    out = capsys.readouterr().out
    assert "Self-test passed: 2/8 steps in" in out and "(6 need the full install)" in out


def test_unavailable_steps_alone_do_not_pass(tmp_path):
    """A run where nothing could be checked is no pass."""

    def absent(ctx):
        raise selftest.StepUnavailable("needs the full install")

    assert selftest.run(str(tmp_path / "r.json"), steps=[("absent", absent)]) == 1
