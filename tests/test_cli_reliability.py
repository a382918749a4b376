"""Reliability of the command line (issue 14): each test reproduces a reported failure first.

A trained model or an hour of results is never lost to a bad ``--out``: refused before the
work, or written elsewhere (and said where) when the path turns bad during the run; every
number is checked where it is parsed, before torch is imported; exit 130 only on Ctrl-C; one
line per image on stdout whatever the names; no library noise on the terminal.

Paths "turning bad during the run" are real file-system changes made between two records of
the run (the folder removed and replaced by a file; the current folder deleted).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pigeonhole.cli import main
from pigeonhole.commands import train as train_command
from pigeonhole.core.data.synthetic import class_image, make_class_folders
from pigeonhole.core.fileio import data_dir
from pigeonhole.core.models.checkpoints import ModelSource, load_model
from pigeonhole.core.runtime.inference import Classifier
from pigeonhole.core.training import fine_tune
from tests.core.broken_images import dds_unimplemented, tiff_with_oversized_tag
from tests.core.train_helpers import save_base_checkpoint

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base_ckpt(tmp_path_factory) -> Path:
    return save_base_checkpoint(tmp_path_factory.mktemp("base") / "base.pth")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_class_folders(tmp_path_factory.mktemp("data") / "shapes", 4, ("red", "blue"))


def _train_args(data: Path, base: Path, *more: str) -> list[str]:
    return ["train", str(data), "--checkpoint", str(base), "--epochs", "2", *more]


def _one_error_line(err: str, *words: str) -> str:
    """The one error line (a run's first line, its preprocessing, is information, not noise)."""
    lines = [
        ln
        for ln in err.strip().splitlines()
        if ln and not ln.startswith("pigeonhole: preprocessing:")
    ]
    assert len(lines) == 1 and lines[0].startswith("pigeonhole: error:"), err
    assert all(w in lines[0] for w in words) and "Traceback" not in err, err
    return lines[0]


def _after_first_record(real, break_it):
    """A wrapper of the generator function ``real`` that runs ``break_it()`` once its first
    record is out: the run has started, the work is under way."""

    def wrapped(*args, **kwargs):
        gen = real(*args, **kwargs)
        first = next(gen)
        break_it()
        yield first
        return (yield from gen)

    return wrapped


def _folder_becomes_a_file(folder: Path):
    def break_it():
        shutil.rmtree(folder)
        folder.write_text("not a folder any more")

    return break_it


# ---------------------------------------------------------------------------------------------
# 1. Output paths


@pytest.mark.parametrize("where", ["existing folder", "under a file", "wrong suffix"])
def test_train_refuses_a_bad_out_before_any_work(tmp_path, data, base_ckpt, capsys, where):
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("x")
    out, words = {
        "existing folder": (tmp_path / "folder", "is a folder"),
        "under a file": (tmp_path / "plain" / "m.pth", "is a file, not a folder"),
        "wrong suffix": (tmp_path / "m.csv", ".pth, .pt or .safetensors"),
    }[where]
    assert main(_train_args(data, base_ckpt, "--out", str(out))) == 2
    captured = capsys.readouterr()
    _one_error_line(captured.err, "--out", words)
    assert captured.out == ""  # not even the class table: nothing ran
    assert os.listdir(tmp_path / "folder") == [] and (tmp_path / "plain").read_text() == "x"


def test_train_saves_elsewhere_when_out_turns_bad_during_the_run(
    tmp_path, data, base_ckpt, capsys, monkeypatch
):
    models, work = tmp_path / "models", tmp_path / "work"
    models.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    wrapped = _after_first_record(train_command.train_classifier, _folder_becomes_a_file(models))
    monkeypatch.setattr(train_command, "train_classifier", wrapped)
    code = main(_train_args(data, base_ckpt, "--out", str(models / "m.pth")))
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert (
        f"could not save to {models / 'm.pth'} ({models} is a file, not a folder)" in captured.err
    )
    assert f"the checkpoint was saved to {work / 'm.pth'} instead" in captured.err
    assert f"checkpoint saved to {work / 'm.pth'}" in captured.out
    assert load_model(ModelSource(checkpoint=str(work / "m.pth"))).class_names == ["blue", "red"]


def test_train_falls_back_to_the_data_folder_when_the_current_one_is_gone(
    tmp_path, data, base_ckpt, capsys, monkeypatch
):
    models, work = tmp_path / "models", tmp_path / "work"
    models.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    folder_to_file = _folder_becomes_a_file(models)

    def break_both():
        folder_to_file()
        work.rmdir()  # the current folder itself is deleted under the running command

    wrapped = _after_first_record(train_command.train_classifier, break_both)
    monkeypatch.setattr(train_command, "train_classifier", wrapped)
    code = main(_train_args(data, base_ckpt, "--out", str(models / "m.pth")))
    captured = capsys.readouterr()
    kept = data_dir() / "models" / "m.pth"
    assert code == 1 and f"the checkpoint was saved to {kept} instead" in captured.err
    assert load_model(ModelSource(checkpoint=str(kept))).arch == "resnet18"


def test_predict_refuses_a_bad_out_before_loading(tmp_path, data, capsys):
    (tmp_path / "plain").write_text("x")
    missing = tmp_path / "no-such-model.pth"  # never reached: the path is checked first
    argv = ["predict", str(data), "--checkpoint", str(missing), "--out"]
    assert main([*argv, str(tmp_path / "plain" / "r.csv")]) == 2
    _one_error_line(capsys.readouterr().err, "--out", "is a file, not a folder")
    assert main([*argv, str(tmp_path)]) == 2
    _one_error_line(capsys.readouterr().err, "--out", "is a folder")


def test_predict_writes_results_elsewhere_when_out_turns_bad(
    tmp_path, data, base_ckpt, capsys, monkeypatch
):
    results, work = tmp_path / "results", tmp_path / "work"
    results.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    wrapped = _after_first_record(Classifier.run, _folder_becomes_a_file(results))
    monkeypatch.setattr(Classifier, "run", wrapped)
    argv = ["predict", str(data), "--checkpoint", str(base_ckpt), "--batch-size", "2", "--quiet"]
    code = main([*argv, "--out", str(results / "r.csv")])
    err = capsys.readouterr().err
    assert code == 1 and f"the results went to {work / 'r.csv'} instead" in err
    rows = list(csv.DictReader((work / "r.csv").open(newline="", encoding="utf-8")))
    assert len(rows) == 8 and all(r["label"] for r in rows)


# ---------------------------------------------------------------------------------------------
# 2. Numbers checked where they are parsed; 130 only for Ctrl-C

BAD_NUMBERS = [
    ("train", "--lr", "nan"),
    ("train", "--lr", "inf"),
    ("train", "--lr", "-0.1"),
    ("train", "--lr", "0"),
    ("train", "--weight-decay", "-1"),
    ("train", "--weight-decay", "nan"),
    ("train", "--val-split", "1"),
    ("train", "--val-split", "-0.2"),
    ("train", "--val-split", "nan"),
    ("train", "--batch-size", "0"),
    ("train", "--epochs", "0"),
    ("train", "--epochs", "2.5"),
    ("train", "--patience", "-1"),
    ("train", "--augment", "-1"),
    ("train", "--seed", "-5"),
    ("predict", "--topk", "0"),
    ("predict", "--batch-size", "-1"),
    ("predict", "--batch-size", "nan"),
    ("predict", "--workers", "-1"),
    ("bench", "--images", "-1"),
    ("bench", "--workers", "-2"),
    ("bench", "--batch-size", "1e9"),
]


@pytest.mark.parametrize("command, option, value", BAD_NUMBERS)
def test_bad_numbers_are_one_line_errors_naming_the_option(capsys, command, option, value):
    first = {"train": ["DATA"], "predict": ["IMAGES"], "bench": []}[command]
    assert main([command, *first, option, value]) == 2
    line = _one_error_line(capsys.readouterr().err, f"argument {option}:", repr(value))
    assert "must be" in line


def test_a_bad_number_fails_before_torch_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from pigeonhole.cli import main\n"
        "rc = main(['train', sys.argv[1], '--arch', 'resnet18', '--lr', 'nan'])\n"
        "print(rc, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert proc.stdout.split() == ["2", "False"], proc.stderr
    _one_error_line(proc.stderr, "--lr")


def test_a_diverging_run_is_an_error_not_a_cancel(tmp_path, data, base_ckpt, capsys, monkeypatch):
    real = fine_tune.train_head

    def with_infinite_lr(*args, **kwargs):  # what `--lr inf` handed over before the check
        return real(*args[:5], replace(args[5], lr=float("inf")), *args[6:], **kwargs)

    monkeypatch.setattr(fine_tune, "train_head", with_infinite_lr)
    out = tmp_path / "m.pth"
    assert main(_train_args(data, base_ckpt, "--out", str(out))) == 2
    _one_error_line(capsys.readouterr().err, "diverged", "lower learning rate")
    assert not out.exists()


def test_divergence_after_a_good_epoch_saves_it_and_says_so(
    tmp_path, data, base_ckpt, capsys, monkeypatch
):
    real = fine_tune.train_head

    def poisoned(*args, **kwargs):
        gen = real(*args, **kwargs)
        first = next(gen)
        args[0][0, 0] = float("inf")  # the training features: the next loss is NaN
        yield first
        return (yield from gen)

    monkeypatch.setattr(fine_tune, "train_head", poisoned)
    out = tmp_path / "m.pth"
    code = main(_train_args(data, base_ckpt, "--epochs", "4", "--out", str(out)))
    captured = capsys.readouterr()
    assert code == 1 and "training diverged" in captured.err and "keeping epoch 1" in captured.err
    assert (
        out.is_file()
        and load_model(ModelSource(checkpoint=str(out))).metadata["metrics"]["best_epoch"] == 1
    )


# ---------------------------------------------------------------------------------------------
# 4. One line per image on stdout


def test_stdout_has_one_line_per_image_whatever_the_names(tmp_path, base_ckpt, capsys):
    folder = tmp_path / "odd"
    folder.mkdir()
    names = ["new\nline.png", "tab\there.png", "plain.png", "esc\x1b[31m.png"]
    for i, name in enumerate(names):
        class_image("red", i, (48, 36)).save(folder / name, "PNG")
    (folder / "broken\n.png").write_bytes(b"")
    assert main(["predict", str(folder), "--checkpoint", str(base_ckpt), "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == len(names) + 1
    assert all(len(line.split("\t")) == 3 for line in lines)
    paths = {line.split("\t")[0] for line in lines}
    assert str(folder / "new\\nline.png") in paths and str(folder / "tab\\there.png") in paths
    assert str(folder / "esc\\x1b[31m.png") in paths and "\x1b" not in captured.out
    assert any(line.endswith("error: empty file (0 bytes)") for line in lines)


# ---------------------------------------------------------------------------------------------
# 5. The terminal, as a person sees it


def test_no_warnings_or_tracebacks_on_the_terminal(tmp_path, base_ckpt):
    folder = tmp_path / "mixed"
    folder.mkdir()
    dds_unimplemented(folder / "texture.dds")
    tiff_with_oversized_tag(folder / "scan.tif")
    class_image("blue", 0, (48, 36)).save(folder / "photo.png")
    env = {**os.environ, "PYTHONWARNINGS": "default"}  # show every warning that is not filtered
    proc = subprocess.run(
        [sys.executable, "-m", "pigeonhole", "predict", str(folder), "--checkpoint",
         str(base_ckpt), "--quiet"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first, summary = proc.stderr.strip().splitlines()  # what the model is, then how it went
    assert first.startswith("pigeonhole: preprocessing:"), proc.stderr
    assert summary.startswith("Classified 2 of 3 images (1 could not be read)"), proc.stderr
    rows = dict(line.split("\t", 1) for line in proc.stdout.splitlines())
    assert "NotImplementedError" in rows[str(folder / "texture.dds")]
