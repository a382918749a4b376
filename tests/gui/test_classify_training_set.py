"""Corrections that feed training (issue 12): "Add corrections to a training set…" copies (never
moves) each relabelled image into ``<folder>/<its label>/`` without overwriting anything,
refuses the folder the images already lie in, then offers to train on that folder, and the
Train tab opens on it and starts in one step."""

from __future__ import annotations

import hashlib
from pathlib import Path

from classify_helpers import CLASSES, load, run_and_wait, select

from pigeonhole.core.data.synthetic import class_image, make_class_folders
from tests.core.train_helpers import save_base_checkpoint


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_under(folder: Path) -> dict[Path, str]:
    return {p: digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_corrections_are_copied_into_a_training_set_and_trained_on(
    qtbot, window, checkpoint_file, image_folder, tmp_path, monkeypatch
):
    tab, train = window.classify_tab, window.train_tab
    controller = tab.trust.training_set
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    assert not controller.act_add.isEnabled()  # nothing corrected yet
    ok = [i for i in range(tab.view_model.rowCount()) if tab.view_model.row(i).ok][:4]
    corrected = {}
    for i in ok:
        row = tab.view_model.row(i)
        new = next(c for c in CLASSES if c != row.pred.label)
        select(tab, [i])
        assert tab.relabel_selected(new) == 1
        corrected[row.path] = new
    assert controller.act_add.isEnabled()
    originals = files_under(image_folder)

    # An existing training set, with a file of the same name as a corrected image already in
    # that image's class folder.
    dest = make_class_folders(tmp_path / "training", 4, CLASSES, size=(48, 36))
    first = next(iter(corrected))
    clash = dest / corrected[first] / Path(first).name
    class_image(corrected[first], 4242, (48, 36)).save(clash)
    before = files_under(dest)

    # The folder the images are in (or one above it) is refused: nothing is copied.
    for wrong in (image_folder, tmp_path):
        assert not controller.add_corrections(str(wrong))
        assert tab.ui.banner.property("error") and "already holds" in tab.ui.banner.text()
    assert files_under(image_folder) == originals
    assert not any(p.is_dir() for p in image_folder.iterdir())

    train.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    train.options.patience.setValue(0)
    asked = []
    monkeypatch.setattr(controller, "ask_retrain", lambda text: asked.append(text) or True)
    with qtbot.waitSignal(train.training.started, timeout=60_000):
        assert controller.add_corrections(str(dest))

    # Copied, never moved; nothing overwritten; one new file per corrected image.
    assert files_under(image_folder) == originals
    after = files_under(dest)
    assert {p: d for p, d in after.items() if p in before} == before
    new_files = {p: d for p, d in after.items() if p not in before}
    assert len(new_files) == len(corrected)
    for path, label in corrected.items():
        assert [p.parent for p, d in new_files.items() if d == originals[Path(path)]] == [
            dest / label
        ]
    assert asked and f"{len(corrected)} corrected images copied into {dest}" in asked[0]

    # The Train tab opened on the folder and is training on it, the copies included.
    assert window.tabs.currentWidget() is train
    assert train.data.folder() == str(dest)
    assert train.busy
    assert len(train.plan.train) + len(train.plan.val) == len(after)
    with qtbot.waitSignal(train.training_done, timeout=60_000):
        train.cancel()
    train.shutdown()
