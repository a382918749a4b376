"""Reliability of core (issue 14): each test reproduces a reported failure first, then guards it.

Output paths checked before the work and written where they can be when they turn bad; files
that respect the umask and keep an overwritten file's mode; temp files of killed writes cleaned;
names with newlines and tabs kept exact in CSV/JSON; a diverging training is not "cancelled";
library noise off the terminal; huge images refused or decoded small, never copied at full size.

Tests run as root here, and root may write anywhere: an unwritable folder is simulated by
making ``os.open``/``os.mkdir`` refuse paths under it, as the kernel would for another user.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageStat

from pigeonhole.core import errors, fileio
from pigeonhole.core.data import images, preprocessing
from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.errors import (
    Cancelled,
    ImageLoadError,
    PigeonholeError,
    UntrustedCheckpointError,
)
from pigeonhole.core.models.formats import read_checkpoint
from pigeonhole.core.results import sorting, writing
from pigeonhole.core.results.predictions import Prediction
from pigeonhole.core.runtime.inference import classify_paths
from pigeonhole.core.training.fine_tune import TrainConfig
from pigeonhole.core.training.head import train_head
from tests.core.broken_images import dds_unimplemented, tiff_with_oversized_tag
from tests.core.train_helpers import small_base

ROOT = Path(__file__).resolve().parent.parent.parent


# ---------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def deny_writes(monkeypatch):
    """``deny_writes(folder)``: creating files or folders under ``folder`` fails with EACCES."""
    real_open, real_mkdir = os.open, os.mkdir
    denied: list[Path] = []

    def under(path) -> bool:
        p = Path(os.path.abspath(os.fspath(path)))
        return any(p == d or d in p.parents for d in denied)

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and under(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if under(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    return lambda folder: denied.append(Path(os.path.abspath(folder)))


@pytest.fixture
def umask():
    """``umask(value)`` for the rest of the test; restored after."""
    before = os.umask(0o022)
    os.umask(before)
    yield lambda value: os.umask(value)
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


# ---------------------------------------------------------------------------------------------
# 1. Output paths checked before any work


def test_output_file_refusals_name_the_option(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("a file")
    cases = {
        tmp_path / "folder": "is a folder",
        f"{tmp_path / 'new'}{os.sep}": "is a folder",
        tmp_path / "plain" / "model.pth": "plain is a file, not a folder",
        tmp_path / "plain" / "deeper" / "model.pth": "plain is a file, not a folder",
        tmp_path / "model.txt": "must end in .pth, .pt or .safetensors",
        "": "no file name",
    }
    for path, words in cases.items():
        with pytest.raises(errors.OutputPathError, match="^--out: ") as info:
            fileio.check_output_file(path, "--out", (".pth", ".pt", ".safetensors"))
        assert words in str(info.value) and "\n" not in str(info.value), path
    # fine: missing folders are fine (created when writing), and nothing is created by the check
    fine = tmp_path / "a" / "b" / "model.pth"
    assert fileio.check_output_file(fine, "--out", (".pth",)) == fine
    assert not (tmp_path / "a").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "plain"]


def test_output_file_unwritable_folder_and_read_only_file(tmp_path, deny_writes, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    deny_writes(locked)
    with pytest.raises(errors.OutputPathError, match="--out: .*locked is not writable"):
        fileio.check_output_file(locked / "res.csv", "--out", (".csv",))
    with pytest.raises(errors.OutputPathError, match="not writable"):  # the nearest existing folder
        fileio.check_output_file(locked / "new" / "res.csv", "--out")
    with pytest.raises(errors.OutputPathError, match="not writable"):
        fileio.check_output_folder(locked / "sorted", "Sort destination")
    keep = tmp_path / "keep.csv"
    keep.write_text("precious")
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m, **k: False if Path(p) == keep else real_access(p, m, **k)
    )
    with pytest.raises(errors.OutputPathError, match="read-only"):
        fileio.check_output_file(keep, "--out")
    assert keep.read_text() == "precious"


def test_output_folder_checks(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(
        errors.OutputPathError, match="^Sort destination: .*is a file, not a folder"
    ):
        fileio.check_output_folder(tmp_path / "plain", "Sort destination")
    with pytest.raises(errors.OutputPathError, match="plain is a file, not a folder"):
        fileio.check_output_folder(tmp_path / "plain" / "sorted", "Sort destination")
    assert fileio.check_output_folder(tmp_path / "new" / "sorted", "x") == tmp_path / "new/sorted"


def test_sort_destination_checked_before_touching_a_file(tmp_path):
    src = tmp_path / "in" / "a.jpg"
    src.parent.mkdir()
    class_image("red", 0, (24, 18)).save(src)
    (tmp_path / "plain").write_text("x")
    items = [sorting.SortItem(str(src), "cat", 0.9)]
    for dest in (tmp_path / "plain", tmp_path / "plain" / "out"):
        with pytest.raises(errors.OutputPathError, match="^Sort destination: .*not a folder"):
            sorting.sort_into_folders(items, dest, mode="move")
    assert src.is_file() and (tmp_path / "plain").read_text() == "x"


def test_write_with_fallback_keeps_the_work(tmp_path, deny_writes):
    wanted = tmp_path / "out" / "model.pth"
    wanted.parent.mkdir()
    # the folder turned into a file during the run
    wanted.parent.rmdir()
    wanted.parent.write_text("now a file")
    first, second = tmp_path / "cwd", tmp_path / "data"
    first.mkdir()
    (first / "model.pth").write_text("older model")  # never replaced
    saved = fileio.write_with_fallback(
        wanted, lambda p: fileio.write_text_atomic(p, "weights"), [first, second]
    )
    assert saved.fell_back and saved.path == first / "model-2.pth" and saved.wanted == wanted
    assert saved.problem == f"{wanted.parent} is a file, not a folder"
    assert (
        saved.path.read_text() == "weights" and (first / "model.pth").read_text() == "older model"
    )
    # the first fallback is not writable either: the second one gets it
    deny_writes(first)
    saved = fileio.write_with_fallback(
        wanted, lambda p: fileio.write_text_atomic(p, "weights"), [first, lambda: second]
    )
    assert saved.path == second / "model.pth" and saved.path.read_text() == "weights"
    deny_writes(second)
    with pytest.raises(errors.OutputPathError, match="Could not write .*model.pth"):
        fileio.write_with_fallback(wanted, lambda p: fileio.write_text_atomic(p, "w"), [first])
    # written where asked: no fallback
    ok = tmp_path / "fine.txt"
    saved = fileio.write_with_fallback(ok, lambda p: fileio.write_text_atomic(p, "w"), [first])
    assert not saved.fell_back and saved.path == ok


# ---------------------------------------------------------------------------------------------
# 3. Permissions and temp files


def test_new_files_follow_the_umask(tmp_path, umask):
    umask(0o022)
    fileio.write_text_atomic(tmp_path / "shared.csv", "a,b\n")
    assert _mode(tmp_path / "shared.csv") == 0o644
    umask(0o077)
    fileio.write_bytes_atomic(tmp_path / "private.pth", b"x")
    assert _mode(tmp_path / "private.pth") == 0o600
    umask(0o002)
    writing.write_results(tmp_path / "group.json", [], None)
    assert _mode(tmp_path / "group.json") == 0o664


def test_overwritten_file_keeps_its_mode_and_links_stay_links(tmp_path, umask):
    umask(0o022)
    for mode in (0o640, 0o666, 0o604):
        path = tmp_path / f"res-{mode:o}.csv"
        path.write_text("old")
        path.chmod(mode)
        fileio.write_text_atomic(path, "new")
        assert path.read_text() == "new" and _mode(path) == mode
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    fileio.write_text_atomic(link, "through the link")
    assert link.is_symlink() and target.read_text() == "through the link"


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("previous")
    with pytest.raises(RuntimeError), fileio.atomic_write(path) as fh:
        fh.write("half")
        raise RuntimeError("disk gone")
    assert path.read_text() == "previous" and os.listdir(tmp_path) == ["r.csv"]


def test_temp_file_of_a_killed_write_is_cleaned_next_time(tmp_path):
    """A real ``kill -9`` in the middle of a write, then the next write to that folder."""
    out = tmp_path / "res.csv"
    code = (
        "import os, signal, sys\n"
        "from pigeonhole.core.fileio import atomic_write\n"
        "with atomic_write(sys.argv[1]) as fh:\n"
        "    fh.write('half a file'); fh.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in tmp_path.iterdir()]
    assert not out.exists() and len(left) == 1 and fileio.TEMP_NAME.match(left[0].name)
    # young: maybe another process is writing it right now -> kept
    fileio.write_text_atomic(tmp_path / "other.csv", "x")
    assert left[0].exists()
    # stale: removed by the next write to the folder, and only ours
    foreign = [tmp_path / ".notes.txt.abcd1234.tmp", tmp_path / "data.tmp", tmp_path / ".x.part"]
    for p in [*foreign, left[0]]:
        p.touch()
        _age(p, fileio.STALE_TEMP_AGE_S + 60)
    fileio.write_text_atomic(tmp_path / "other.csv", "y")
    assert not left[0].exists() and all(p.exists() for p in foreign)
    assert not out.exists() and (tmp_path / "other.csv").read_text() == "y"


def test_sort_cleans_its_stale_partial_copies(tmp_path):
    src = tmp_path / "in" / "a.jpg"
    src.parent.mkdir()
    class_image("red", 0, (24, 18)).save(src)
    cat = tmp_path / "out" / "cat"
    cat.mkdir(parents=True)
    stale = fileio.temp_path_for(cat / "b.jpg", "part")
    stale.write_bytes(b"half a copy")
    _age(stale, fileio.STALE_TEMP_AGE_S + 60)
    report = sorting.sort_into_folders([sorting.SortItem(str(src), "cat", 0.9)], tmp_path / "out")
    assert not report.errors and sorted(os.listdir(cat)) == ["a.jpg"]


# ---------------------------------------------------------------------------------------------
# 4. Names with newlines and tabs stay one record in the exports


def test_exports_keep_odd_names_exact(tmp_path):
    names = ["/p/new\nline.jpg", "/p/tab\there.jpg", '/p/quote"d.jpg', "/p/cr\rlf.jpg"]
    preds = [
        Prediction(i, n, "a\tlabel", 0.5, (("a\tlabel", 0.5),), 1.0, 1.0, None)
        for i, n in enumerate(names)
    ]
    writing.write_results(tmp_path / "r.csv", preds, None, topk=1)
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"] for r in rows] == names and rows[0]["label"] == "a\tlabel"
    writing.write_results(tmp_path / "r.json", preds, None, topk=1)
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in doc["predictions"]] == names


# ---------------------------------------------------------------------------------------------
# 2. Training that diverges is not "cancelled"


def _features(n: int = 24, dim: int = 8):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.randn(n, dim, generator=g) + y[:, None] * 2.0
    return x, y


def test_divergence_at_once_is_its_own_error_not_cancelled():
    x, y = _features()
    cfg = TrainConfig(epochs=3, lr=float("inf"), patience=0)  # what `--lr inf` handed over
    gen = train_head(x, y, x[:4], y[:4], 2, cfg)
    with pytest.raises(PigeonholeError, match="diverged.*lower learning rate") as info:
        list(gen)
    assert not isinstance(info.value, Cancelled)


def test_divergence_after_a_good_epoch_keeps_that_epoch():
    x, y = _features()
    gen = train_head(x, y, x[:4], y[:4], 2, TrainConfig(epochs=5, patience=0))
    first = next(gen)
    x[0, 0] = float("inf")  # the loss turns NaN from the next epoch on
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        outcome = stop.value
    assert first.epoch == 1 and outcome.best_epoch == 1 and len(outcome.history) == 1
    assert "diverged" in outcome.diverged and "epoch 2" in outcome.diverged
    assert not outcome.cancelled
    assert all(torch.isfinite(t).all() for t in outcome.folded)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"lr": float("nan")}, "learning rate"),
        ({"lr": float("inf")}, "learning rate"),
        ({"lr": 0.0}, "learning rate"),
        ({"weight_decay": -1.0}, "weight decay"),
        ({"weight_decay": float("nan")}, "weight decay"),
        ({"val_split": 1.0}, "validation share"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch size"),
        ({"patience": -1}, "patience"),
        ({"optimizer": "adam"}, "optimizer"),
    ],
)
def test_train_config_refuses_impossible_settings(change, words):
    with pytest.raises(PigeonholeError, match=words):
        replace(TrainConfig(), **change).validate()


# ---------------------------------------------------------------------------------------------
# 5. Library noise: warnings and decoder exceptions


def test_protocol_4_pickle_refused_without_a_warning(tmp_path):
    path = tmp_path / "p4.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": {"w": [1.0, 2.0]}}, fh, protocol=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UntrustedCheckpointError, match="plain Python pickle"):
            read_checkpoint(path)
    assert [str(w.message) for w in caught] == []


def test_decoder_exception_is_a_one_line_reason(tmp_path, caplog):
    path = dds_unimplemented(tmp_path / "odd.dds")
    with caplog.at_level(logging.DEBUG), pytest.raises(ImageLoadError) as info:
        images.load_image(path)
    reason = str(info.value)
    assert "NotImplementedError" in reason and "\n" not in reason and len(reason) < 250
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(r.exc_info and r.levelno == logging.DEBUG for r in caplog.records)


def test_pipeline_failures_become_rows_without_stack_traces(tmp_path, caplog, monkeypatch):
    dds_unimplemented(tmp_path / "a.dds")
    class_image("red", 0, (40, 30)).save(tmp_path / "b.png")
    class_image("red", 1, (40, 30)).save(tmp_path / "c.png")
    base = small_base()
    real_crop = preprocessing.crop_array

    def crop_fails_once(img, spec):  # a bug deeper in the decode step, for one image
        if img.size == (40, 30) and not getattr(crop_fails_once, "done", False):
            crop_fails_once.done = True
            raise RuntimeError("resampler exploded\nsecond line")
        return real_crop(img, spec)

    monkeypatch.setattr("pigeonhole.core.runtime.inference.crop_array", crop_fails_once)
    with caplog.at_level(logging.DEBUG):
        preds, summary = classify_paths(base, [tmp_path], batch_size=2, workers=1)
    by_name = {Path(p.path).name: p for p in preds}
    assert "NotImplementedError" in by_name["a.dds"].error
    assert by_name["b.png"].error == "cannot decode (RuntimeError: resampler exploded)"
    assert by_name["c.png"].ok and summary.skipped == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]


def test_pillow_warnings_do_not_reach_the_terminal(tmp_path):
    path = tiff_with_oversized_tag(tmp_path / "tags.tif")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        from pigeonhole.core.data.pillow_setup import quiet_pillow

        quiet_pillow()  # what importing core.data.images does once per process
        img = images.load_image(path)
    assert img.size == (8, 8)
    assert [str(w.message) for w in caught] == []


# ---------------------------------------------------------------------------------------------
# 6. Huge images


def test_pixel_limit_makes_a_failed_row_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100_000)
    big = tmp_path / "big.png"
    Image.new("RGB", (400, 300), (10, 200, 10)).save(big)
    with pytest.raises(ImageLoadError, match=r"too large .*400 x 300 = 120,000 pixels"):
        images.load_image(big)
    jpeg = tmp_path / "big.jpg"
    Image.new("RGB", (400, 300), (10, 200, 10)).save(jpeg, quality=90)
    img = images.load_image(jpeg, draft_size=64)  # decoded at 1/2 or 1/4: under the limit
    assert img.size[0] < 400
    long = tmp_path / "long.png"
    Image.new("L", (3000, 3), 128).save(long)
    with pytest.raises(ImageLoadError, match="too elongated"):
        images.load_image(long, draft_size=64)  # 64 x 64,000 once resized


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "I;16"])
def test_big_images_are_reduced_right_after_decoding(tmp_path, mode):
    path = tmp_path / f"big-{mode.replace(';', '')}.png"
    src = Image.new("RGB", (1300, 1000), (200, 40, 40))
    if mode == "RGBA":
        src = src.convert("RGBA")
        src.putalpha(255)
    elif mode in ("P", "L", "I;16"):
        src = src.convert("L").convert(mode) if mode != "P" else src.convert("P")
    src.save(path)
    img = images.load_image(path, draft_size=100)
    assert img.mode == "RGB" and img.size == (1300 // 5, 1000 // 5)  # shorter side >= 200
    full = images.load_image(path)  # no draft size: full size, as before
    assert full.size == (1300, 1000)
    small_mean, full_mean = ImageStat.Stat(img).mean, ImageStat.Stat(full).mean  # P is dithered
    assert all(abs(a - b) <= 1 for a, b in zip(small_mean, full_mean, strict=True))


def test_an_upright_image_is_not_copied_after_decoding(tmp_path, monkeypatch):
    path = tmp_path / "upright.png"
    Image.new("RGB", (300, 200), (1, 2, 3)).save(path)
    copies = []
    real_copy = Image.Image.copy
    monkeypatch.setattr(
        Image.Image, "copy", lambda self: copies.append(self.size) or real_copy(self)
    )
    images.load_image(path)
    assert copies == []
