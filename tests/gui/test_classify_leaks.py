"""Leaks in the Evaluation pane (issue 25): evaluated images that are copies (resized,
recompressed) of training images are counted and shown above the accuracy, with the accuracy
without them — the figures `pigeonhole predict --evaluate --leaks` prints for the same folders —
and a button shows them in the grid. The training folder comes from the Train tab."""

from __future__ import annotations

import re
from pathlib import Path

from classify_helpers import CLASSES, load, run_and_wait

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import class_image, photo_like


def picture(i: int, label: str):
    """A photo-like picture with the class's shape on it (distinct pictures hash apart)."""
    img = photo_like(i, (160, 120))
    img.paste(class_image(label, i, (64, 48)), (10 + 7 * (i % 9), 10 + 5 * (i % 7)))
    return img


def train_and_val(root: Path) -> tuple[Path, Path, set[str]]:
    """``root/train`` and ``root/val``, class-named; three val images are edited copies of
    training images (half size, JPEG quality 40, a small crop). Returns the copies' paths."""
    copies = set()
    for k, label in enumerate(CLASSES):
        (root / "train" / label).mkdir(parents=True)
        (root / "val" / label).mkdir(parents=True)
        for i in range(4):
            picture(100 * k + i, label).save(root / "train" / label / f"t{i}.jpg", quality=92)
            picture(100 * k + 50 + i, label).save(root / "val" / label / f"v{i}.jpg", quality=92)
        original = picture(100 * k + k, label)  # training image t{k}
        w, h = original.size
        edited = [original.resize((w // 2, h // 2)), original, original.crop((4, 3, w - 4, h - 3))]
        copy = root / "val" / label / f"copy_of_t{k}.jpg"
        edited[k].save(copy, quality=40 if k == 1 else 90)
        copies.add(str(copy))
    return root / "train", root / "val", copies


def cli_without(checkpoint: Path, val: Path, train: Path, capsys) -> str:
    capsys.readouterr()
    argv = ["predict", str(val), "--checkpoint", str(checkpoint), "--evaluate", "--quiet"]
    assert main([*argv, "--leaks", str(train)]) == 0
    err = capsys.readouterr().err
    assert "leaks: 3 of 15 evaluated images" in err, err
    return re.search(r"without the leaked images: accuracy ([\d.]+%) on (\d+)", err).groups()


def test_leaks_against_the_train_tabs_folder_are_counted_before_the_accuracy(
    qtbot, window, checkpoint_file, tmp_path, capsys
):
    train, val, copies = train_and_val(tmp_path)
    want_accuracy, want_images = cli_without(checkpoint_file, val, train, capsys)
    tab = window.classify_tab
    window.train_tab.set_data_folder(str(train))  # handed over once it scans
    leaks = tab.trust.leaks
    qtbot.waitUntil(lambda: leaks.training_folder == str(train), timeout=20_000)

    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [val])
    panel = tab.ui.evaluation
    qtbot.waitUntil(lambda: leaks.report is not None, timeout=30_000)
    assert {leak.path for leak in leaks.report.leaks} == copies
    text = panel.leak_line.text()
    assert "3 leaked" in text and "copies of training images" in text
    assert f"accuracy without them <b>{want_accuracy}</b> on {want_images} images" in text
    lay = panel.layout()
    assert lay.indexOf(panel.leak_line) < lay.indexOf(panel.summary)  # above the accuracy
    assert not panel.leak_line.isHidden() and not panel.leaks_button.isHidden()

    panel.leaks_button.click()  # the leaked images, alone in the grid
    shown = {tab.view_model.row(i).path for i in range(tab.view_model.rowCount())}
    assert shown == copies
    assert "Leaked" in tab.view_model.pinned_title


def test_leaks_against_a_chosen_folder_and_none_found(qtbot, tab, checkpoint_file, tmp_path):
    """Without a training folder nothing is checked; "Check for leaks against a folder…" asks
    for one; a folder without copies says so, with no button."""
    train, val, _copies = train_and_val(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    for i in range(3):
        picture(900 + i, "red").save(other / f"o{i}.jpg")
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [val])
    leaks, panel = tab.trust.leaks, tab.ui.evaluation
    assert leaks.report is None and panel.leak_line.isHidden()
    leaks.ask_folder = lambda: str(other)
    assert leaks.action.isEnabled()
    leaks.action.trigger()
    qtbot.waitUntil(lambda: leaks.report is not None, timeout=30_000)
    assert leaks.report.leaks == () and "No copies of training images" in panel.leak_line.text()
    assert panel.leaks_button.isHidden()
    leaks.ask_folder = lambda: str(train)
    leaks.action.trigger()
    qtbot.waitUntil(lambda: bool(leaks.report and leaks.report.leaks), timeout=30_000)
    assert len(leaks.report.leaks) == 3
