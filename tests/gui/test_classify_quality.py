"""Issue 25 in the window: "Near duplicates" (groups of made copies shown together, a threshold
that regroups on a worker, K keeps one and marks the rest, Ctrl+Z undoes; groups by embedding
when the results carry them), "Review uncertain" never shows a near copy right after its
original, and "Review likely mislabelled" walks the images put in the wrong class folder with
the triage keys."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from classify_helpers import CLASSES, load, run_and_wait
from PIL import Image
from PySide6.QtCore import Qt

from pigeonhole.core.data.synthetic import class_image, photo_like
from pigeonhole.core.results.predictions import Prediction
from pigeonhole.gui.classify.duplicates_view import MARK

CTRL = Qt.KeyboardModifier.ControlModifier


def photo(folder, name: str, seed: int, edit=None, quality: int = 92) -> str:
    img = photo_like(seed, (320, 240))
    img = edit(img) if edit is not None else img
    path = folder / name
    img.save(path, quality=quality)
    return str(path)


def half(img: Image.Image) -> Image.Image:
    return img.resize((img.width // 2, img.height // 2))


def crop(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.crop((w // 20, h // 20, w - w // 20, h - h // 20))


@pytest.fixture
def copies(tmp_path):
    """Photo a with a half-size copy, a quality-40 copy and a byte-for-byte copy; photos b,
    c and d with none."""
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = {
        "a": photo(folder, "a.jpg", 1),
        "a_half": photo(folder, "a_half.jpg", 1, half),
        "a_q40": photo(folder, "a_q40.jpg", 1, quality=40),
        "b": photo(folder, "b.jpg", 2),
        "c": photo(folder, "c.jpg", 3),
        "d": photo(folder, "d.jpg", 4),
    }
    paths["a_same"] = str(folder / "a_same.jpg")
    shutil.copy(paths["a"], paths["a_same"])
    return paths


def add_results(tab, items) -> None:
    """Results as a run would give them: (path, label, confidence, truth, embedding)."""
    tab.results.set_class_names(CLASSES)
    preds, truths = [], []
    for i, (path, label, conf, truth, vector) in enumerate(items):
        preds.append(
            Prediction(i, path, label, conf, ((label, conf),), 1.0, 1.0, None, embedding=vector)
        )
        truths.append(truth)
    tab.results.add_predictions(preds, truths)
    tab._sync_buttons()


def groups_of(dialog) -> list[set[str]]:
    return [{m.path for m in g.members} for g in dialog.groups]


def test_near_duplicates_shows_groups_keeps_one_marks_the_rest_and_undo(qtbot, tab, copies):
    add_results(tab, [(p, "red", 0.9, None, None) for p in copies.values()])
    assert tab.quality.act_duplicates.isEnabled()
    dialog = tab.quality.open_duplicates()
    qtbot.waitUntil(lambda: bool(dialog.groups), timeout=20_000)
    family = {copies[k] for k in ("a", "a_half", "a_q40", "a_same")}
    assert groups_of(dialog) == [family]
    assert dialog.members.count() == 4 and not dialog.cosine.isVisible()
    kinds = {m.path: m.kind for m in dialog.groups[0].members}
    assert kinds[copies["a_same"]] in ("exact", "keep") and kinds[copies["a_half"]] == "near"

    keep = dialog.groups[0].keep
    qtbot.keyClick(dialog, Qt.Key.Key_K)
    marked = {r.path for r in tab.results.rows if r.label == MARK}
    assert marked == family - {keep}
    assert keep in dialog.members.item(0).toolTip() and MARK in dialog.members.item(1).text()
    qtbot.keyClick(dialog, Qt.Key.Key_Z, CTRL)  # one step, undone in the dialog
    assert not tab.results.corrections()

    before = dialog.groups
    dialog.bits.setValue(0)  # regrouped on a worker at 0 bits
    qtbot.waitUntil(lambda: dialog.groups is not before, timeout=20_000)
    assert all(m.distance == 0 for g in dialog.groups for m in g.members)
    assert any({copies["a"], copies["a_same"]} <= g for g in groups_of(dialog))
    dialog.close()


def test_near_duplicates_by_embedding_when_the_results_carry_them(qtbot, tab, copies):
    """b and c are different pictures to the hash; their embeddings (a trained network's, as
    the run keeps them) say they are the same."""
    vectors = {k: np.eye(8, dtype=np.float16)[i] for i, k in enumerate(copies)}
    vectors["c"] = (vectors["b"] * 2 + np.eye(8, dtype=np.float16)[7] * 0.1).astype(np.float16)
    add_results(tab, [(p, "red", 0.9, None, vectors[k]) for k, p in copies.items()])
    dialog = tab.quality.open_duplicates()
    qtbot.waitUntil(lambda: len(dialog.groups) == 2, timeout=20_000)
    assert not dialog.cosine.isHidden()
    assert {copies["b"], copies["c"]} in groups_of(dialog)
    similar = next(g for g in dialog.groups if copies["b"] in {m.path for m in g.members})
    assert [m.kind for m in similar.copies] == ["similar"]
    dialog.cosine.setValue(0)  # the embedding threshold moves: b and c part
    qtbot.waitUntil(lambda: len(dialog.groups) == 1, timeout=20_000)
    dialog.close()


def test_review_uncertain_skips_near_copies_of_the_image_shown(qtbot, tab, copies):
    """Lowest confidence first would show a, then its copies one after another."""
    order = [("a", 0.30), ("a_half", 0.31), ("a_q40", 0.32), ("b", 0.40), ("c", 0.5)]
    add_results(tab, [(copies[k], "red", conf, None, None) for k, conf in order])
    preview = tab.triage.review_uncertain()
    qtbot.waitUntil(lambda: len(tab.quality.hashes) == len(order), timeout=20_000)
    shown = [preview.path]
    for _ in range(2):
        qtbot.keyClick(preview, Qt.Key.Key_Right)
        shown.append(preview.path)
    assert shown == [copies["a"], copies["b"], copies["c"]]
    assert "Skipped 2 near copies" in tab.ui.banner.text()
    qtbot.keyClick(preview, Qt.Key.Key_Left)
    qtbot.keyClick(preview, Qt.Key.Key_Left)  # back past the skipped copies, to a
    assert preview.path == copies["a"]
    qtbot.keyClick(preview, Qt.Key.Key_2)  # a label key moves on past them too
    assert tab.results.row_at(0).label == CLASSES[1] and preview.path == copies["b"]
    preview.close()
    preview = tab.open_preview(tab.ui.grid.model().index(0, 0))  # a plain preview: every image
    qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert preview.path == copies["a_half"]
    preview.close()


def test_review_likely_mislabelled_from_kept_embeddings(qtbot, tab, tmp_path):
    """Results from class folders whose embeddings cluster by class; three images sit in the
    wrong folder: the walk shows them first, K keeps, a label key relabels, Ctrl+Z undoes."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 6
    items, flipped = [], set()
    for i in range(60):
        k = i % 3
        folder = CLASSES[(k + 1) % 3] if i in (4, 20, 41) else CLASSES[k]
        path = str(tmp_path / folder / f"img{i}.jpg")
        flipped.update([path] if folder != CLASSES[k] else [])
        vector = (centres[k] + rng.normal(size=16)).astype(np.float16)
        items.append((path, CLASSES[k], 0.8, folder, vector))
    add_results(tab, items)
    assert tab.quality.act_mislabelled.isEnabled()
    assert tab.quality.review_mislabelled()
    qtbot.waitUntil(lambda: tab.quality.walk is not None, timeout=60_000)
    walk = tab.quality.walk
    preview = walk.preview
    assert {s.path for s in walk.suspects[:3]} == flipped, walk.suspects
    first = walk.suspect
    assert (
        "Likely mislabelled" in preview.details.text()
        and first.given_label in preview.details.text()
    )
    qtbot.keyClick(preview, Qt.Key.Key_K)  # the folder was right after all
    row = next(r for r in tab.results.rows if r.path == first.path)
    assert row.label == first.given_label and walk.position == 1
    second = walk.suspect.path
    qtbot.keyClick(preview, Qt.Key.Key_3)
    assert next(r for r in tab.results.rows if r.path == second).label == CLASSES[2]
    qtbot.keyClick(preview, Qt.Key.Key_Z, CTRL)
    assert next(r for r in tab.results.rows if r.path == second).corrected is None
    preview.close()
    qtbot.waitUntil(lambda: tab.quality.walk is None)


def test_a_real_run_keeps_what_duplicates_and_the_audit_need(
    qtbot, tab, checkpoint_file, tmp_path, monkeypatch
):
    """A real run on class folders with made copies keeps each image's embedding: the Near
    duplicates window offers the embedding slider, its pairs are searched once (a moved
    slider reuses them), the copies group together, and "Review likely mislabelled" ranks on
    the kept embeddings (no second pass over the files) with the stray images first."""
    from pigeonhole.core.insight import audit

    load(qtbot, tab, checkpoint_file)
    val = tmp_path / "val"
    for k, label in enumerate(CLASSES):
        (val / label).mkdir(parents=True)
        for i in range(15):
            class_image(label, 1000 * k + i, (48, 36)).save(val / label / f"{label}_{i}.jpg")
        original = class_image(label, 1000 * k, (48, 36))
        original.resize((24, 18)).save(val / label / f"{label}_0_half.jpg")
        original.save(val / label / f"{label}_0_q40.jpg", quality=40)
        stray = CLASSES[(k + 1) % 3]
        class_image(stray, 700 + k, (48, 36)).save(val / label / f"stray_{stray}.jpg")
    run_and_wait(qtbot, tab, [val])
    assert all(r.pred.embedding is not None for r in tab.results.rows)

    quality = tab.quality
    dialog = quality.open_duplicates()
    qtbot.waitUntil(lambda: quality.grouping is not None, timeout=60_000)
    assert not dialog.cosine.isHidden() and quality.grouping.pairs.vectors is not None
    groups = groups_of(dialog)
    for label in CLASSES:
        copies = {str(val / label / f"{label}_0{end}.jpg") for end in ("", "_half", "_q40")}
        assert any(copies <= g for g in groups), groups
    searched = quality.grouping.pairs
    before = len(quality.grouping.groups)
    dialog.cosine.setValue(0)
    dialog.bits.setValue(0)
    qtbot.waitUntil(lambda: len(quality.grouping.groups) != before, timeout=20_000)
    assert quality.grouping.pairs is searched  # filtered, not searched again
    dialog.close()

    second_pass = []
    monkeypatch.setattr(audit, "audit_files", lambda *a, **k: second_pass.append(a))
    assert quality.review_mislabelled()
    qtbot.waitUntil(lambda: quality.walk is not None, timeout=120_000)
    assert not second_pass
    assert "stray_" in quality.walk.suspect.path
    quality.walk.close()


def test_review_likely_mislabelled_needs_class_folders(tab, copies):
    add_results(tab, [(p, "red", 0.9, None, None) for p in copies.values()])
    assert not tab.quality.act_mislabelled.isEnabled()
    assert not tab.quality.review_mislabelled()
    assert "class-named folders" in tab.ui.banner.full_text()
