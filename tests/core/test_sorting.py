"""Sorting into label folders: copy leaves sources intact, never overwrite, move + undo."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.results import sorting
from pigeonhole.core.results.sorting import SortItem, safe_folder_name, sort_into_folders, undo_sort


def make_images(folder: Path, names: list[str]) -> dict[str, bytes]:
    """Small real JPEGs; returns path -> bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(names):
        path = folder / name
        class_image("red" if i % 2 else "blue", i, size=(24, 18)).save(path, "JPEG")
        out[str(path)] = path.read_bytes()
    return out


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".pigeonhole-moves-")
    }


def test_copy_places_files_and_leaves_sources_untouched(tmp_path):
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    items = [
        SortItem(str(tmp_path / "in/a.jpg"), "cat", 0.9),
        SortItem(str(tmp_path / "in/b.jpg"), "dog", 0.8),
        SortItem(str(tmp_path / "in/c.jpg"), "cat", 0.95),
    ]
    seen = []
    report = sort_into_folders(items, tmp_path / "out", progress=lambda d, t: seen.append((d, t)))
    assert report.mode == "copy" and not report.errors and report.manifest.is_file()
    assert files_under(tmp_path / "out") == {
        "cat/a.jpg": src[str(tmp_path / "in/a.jpg")],
        "cat/c.jpg": src[str(tmp_path / "in/c.jpg")],
        "dog/b.jpg": src[str(tmp_path / "in/b.jpg")],
    }
    assert {p: Path(p).read_bytes() for p in src} == src  # same bytes, still there
    assert seen[-1] == (3, 3) and len(report.placed) == 3


def test_unsure_threshold(tmp_path):
    make_images(tmp_path / "in", ["sure.jpg", "maybe.jpg", "nothing.jpg"])
    items = [
        SortItem(str(tmp_path / "in/sure.jpg"), "cat", 0.9),
        SortItem(str(tmp_path / "in/maybe.jpg"), "cat", 0.4),
        SortItem(str(tmp_path / "in/nothing.jpg"), "dog", None),
    ]
    sort_into_folders(items, tmp_path / "out", unsure_threshold=0.5, unsure_name="check me")
    assert set(files_under(tmp_path / "out")) == {
        "cat/sure.jpg",
        "check me/maybe.jpg",
        "dog/nothing.jpg",
    }


def test_collisions_get_suffixes_never_overwrite(tmp_path):
    # three different photos of the same name (an identical one would be "already there")
    one = make_images(tmp_path / "trip1", ["IMG_1.jpg"])
    two = {
        k: v
        for k, v in make_images(tmp_path / "trip2", ["x.jpg", "IMG_1.jpg"]).items()
        if "IMG" in k
    }
    three = {
        k: v
        for k, v in make_images(tmp_path / "trip3", ["x", "y", "img_1.JPG"]).items()
        if "img" in k
    }
    existing = tmp_path / "out" / "beach" / "IMG_1.jpg"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"already here")
    items = [SortItem(p, "beach", 0.9) for p in [*one, *two, *three]]
    report = sort_into_folders(items, tmp_path / "out")
    assert not report.errors and len(report.renamed) == 3  # each clash is said
    assert "3 renamed" in report.line()
    got = files_under(tmp_path / "out")
    assert got["beach/IMG_1.jpg"] == b"already here"
    assert got["beach/IMG_1_1.jpg"] == next(iter(one.values()))
    assert got["beach/IMG_1_2.jpg"] == next(iter(two.values()))
    assert got["beach/img_1_3.JPG"] == next(iter(three.values()))  # case-blind, for macOS/Windows


def test_move_writes_manifest_first_and_undo_restores(tmp_path, monkeypatch):
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    nested = make_images(tmp_path / "in" / "sub", ["a.jpg"])
    src |= nested
    dest = tmp_path / "out"
    real_link = os.link
    checked = []

    def link_checking_manifest(a, b, *args, **kwargs):
        manifests = list(dest.glob(".pigeonhole-moves-*.json"))
        assert len(manifests) == 1
        planned = json.loads(manifests[0].read_text())["moves"]
        assert len(planned) == 4 and {m["src"] for m in planned} == set(src)
        checked.append(b)
        return real_link(a, b, *args, **kwargs)

    monkeypatch.setattr(sorting.os, "link", link_checking_manifest)
    labels = ["blue", "red", "red", "blue"]  # in/a, in/b, in/c, in/sub/a
    items = [SortItem(p, label, 0.9) for p, label in zip(src, labels, strict=True)]
    report = sort_into_folders(items, dest, mode="move")
    monkeypatch.undo()
    assert len(checked) == 4 and not report.errors
    assert not any(Path(p).exists() for p in src)
    assert sorted(files_under(dest)) == ["blue/a.jpg", "blue/a_1.jpg", "red/b.jpg", "red/c.jpg"]
    data = json.loads(report.manifest.read_text())
    assert all(m["done"] for m in data["moves"])

    back = undo_sort(report.manifest)
    assert not back.errors and len(back.placed) == 4
    assert {p: Path(p).read_bytes() for p in src} == src
    assert files_under(dest) == {}
    assert not (dest / "red").exists()  # folders the move created are removed when empty
    assert undo_sort(report.manifest).placed == []  # a second undo does nothing


def test_undo_never_overwrites_a_new_file(tmp_path):
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg"])
    items = [SortItem(p, "x", 0.9) for p in src]
    report = sort_into_folders(items, tmp_path / "out", mode="move")
    newcomer = tmp_path / "in" / "a.jpg"
    newcomer.write_bytes(b"new file with the old name")
    back = undo_sort(report.manifest)
    assert len(back.placed) == 1 and len(back.errors) == 1 and "a.jpg" in back.errors[0]
    assert newcomer.read_bytes() == b"new file with the old name"
    assert (tmp_path / "out" / "x" / "a.jpg").read_bytes() == src[str(newcomer)]
    assert (tmp_path / "in" / "b.jpg").read_bytes() == src[str(tmp_path / "in" / "b.jpg")]


def test_copy_never_leaves_half_files(tmp_path, monkeypatch):
    make_images(tmp_path / "in", ["a.jpg"])

    def broken_copy(a, b, *args, **kwargs):
        Path(b).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sorting.shutil, "copy2", broken_copy)
    report = sort_into_folders([SortItem(str(tmp_path / "in/a.jpg"), "x", 1.0)], tmp_path / "out")
    assert report.placed == [] and "No space left" in report.errors[0]
    assert list((tmp_path / "out").rglob("*")) == [tmp_path / "out" / "x"]  # (no manifest)


def test_unknown_paths_are_errors_and_cancel_stops(tmp_path):
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    items = [SortItem(str(tmp_path / "gone.jpg"), "x", 0.9)] + [SortItem(p, "x", 0.9) for p in src]
    stop = threading.Event()
    report = sort_into_folders(
        items, tmp_path / "out", progress=lambda d, t: d == 2 and stop.set(), should_stop=stop
    )
    assert report.errors == [f"{tmp_path / 'gone.jpg'}: not found"]
    assert report.cancelled and len(report.placed) == 2


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("cat", "cat"),
        ("../../etc", "____etc"),
        ("..", "unlabelled"),
        ("a/b\\c", "a_b_c"),
        ('what?*:"<>|', "what_______"),
        (".hidden", "_hidden"),
        ("CON", "CON_"),
        ("trailing. ", "trailing"),
        ("", "unlabelled"),
        ("golden retriever", "golden retriever"),
    ],
)
def test_label_names_are_sanitised(label, expected):
    assert safe_folder_name(label) == expected


def test_dangerous_labels_stay_inside_destination(tmp_path):
    make_images(tmp_path / "in", ["a.jpg", "b.jpg"])
    items = [
        SortItem(str(tmp_path / "in/a.jpg"), "../../escape", 0.9),
        SortItem(str(tmp_path / "in/b.jpg"), "/abs/path", 0.9),
    ]
    report = sort_into_folders(items, tmp_path / "out" / "dest")
    assert not report.errors
    for _, dst in report.placed:
        assert Path(dst).resolve().parent.parent == (tmp_path / "out" / "dest").resolve()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dest"]


def test_move_across_file_systems_and_cancelled_move_undo(tmp_path, monkeypatch):
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])

    def no_links(a, b, *args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(sorting.os, "link", no_links)
    stop = threading.Event()
    items = [SortItem(p, "x", 0.9) for p in src]
    report = sort_into_folders(
        items, tmp_path / "out", mode="move", should_stop=stop, progress=lambda d, t: stop.set()
    )
    assert report.cancelled and len(report.placed) == 1 and not report.errors
    moved_src, moved_dst = report.placed[0]
    assert not Path(moved_src).exists() and Path(moved_dst).read_bytes() == src[moved_src]
    done = [m["done"] for m in json.loads(report.manifest.read_text())["moves"]]
    assert done == [True, False, False]
    back = undo_sort(report.manifest)
    assert not back.errors and back.placed == [(moved_dst, moved_src)]
    assert {p: Path(p).read_bytes() for p in src} == src


def test_move_that_cannot_remove_the_source_leaves_no_duplicate(tmp_path, monkeypatch):
    src = make_images(tmp_path / "in", ["a.jpg"])
    real_unlink = os.unlink

    def refuse_source(path, *args, **kwargs):
        if str(path) in src:
            raise PermissionError(13, "Permission denied")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(sorting.os, "unlink", refuse_source)
    report = sort_into_folders([SortItem(p, "x", 0.9) for p in src], tmp_path / "out", mode="move")
    assert report.placed == [] and "Permission denied" in report.errors[0]
    assert files_under(tmp_path / "out") == {}
    assert {p: Path(p).read_bytes() for p in src} == src
    assert undo_sort(report.manifest).placed == []


def test_copying_twice_skips_what_is_already_there_and_says_so(tmp_path):
    """Issue 27: copying into the same folder twice made "_1" duplicates of every image (128
    files from 64) while the message said "64 images copied"."""
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    items = [SortItem(p, "cat", 0.9) for p in src]
    first = sort_into_folders(items, tmp_path / "out")
    assert len(first.placed) == 3 and first.line() == "3 images copied"
    again = sort_into_folders(items, tmp_path / "out")
    assert again.placed == [] and len(again.already) == 3 and not again.errors
    assert again.line() == "0 images copied, 3 already there"
    assert sorted(files_under(tmp_path / "out")) == ["cat/a.jpg", "cat/b.jpg", "cat/c.jpg"]

    # another photo of the same name: copied beside it under a new name, and said; a third
    # copy finds that one already there too
    other = make_images(tmp_path / "other", ["x.jpg", "a.jpg"])
    clash = [SortItem(str(tmp_path / "other" / "a.jpg"), "cat", 0.9)]
    report = sort_into_folders(clash, tmp_path / "out")
    assert report.renamed == [
        (str(tmp_path / "other" / "a.jpg"), str(tmp_path / "out/cat/a_1.jpg"))
    ]
    assert "1 renamed" in report.line()
    assert (tmp_path / "out/cat/a_1.jpg").read_bytes() == other[str(tmp_path / "other/a.jpg")]
    report = sort_into_folders(clash, tmp_path / "out")
    assert report.placed == [] and len(report.already) == 1

    # the same photo twice in one run: copied once
    twice = [SortItem(p, "dog", 0.9) for p in (str(tmp_path / "in/a.jpg"),) * 2]
    report = sort_into_folders(twice, tmp_path / "out")
    assert len(report.placed) == 1 and len(report.already) == 1
    assert sorted(files_under(tmp_path / "out" / "dog")) == ["a.jpg"]


def test_a_copy_can_be_undone_removing_exactly_its_copies(tmp_path):
    src = make_images(tmp_path / "in", ["a.jpg", "b.jpg", "c.jpg"])
    mine = tmp_path / "out" / "cat" / "mine.jpg"  # the person's own file, there before
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"mine")
    labels = ["cat", "dog", "dog"]
    items = [SortItem(p, label, 0.9) for p, label in zip(src, labels, strict=True)]
    report = sort_into_folders(items, tmp_path / "out")
    assert report.manifest is not None and report.manifest.is_file()
    edited = tmp_path / "out" / "dog" / "c.jpg"  # changed since the copy: not ours any more
    edited.write_bytes(b"edited by hand")

    back = sorting.undo_sort(report.manifest)
    assert back.mode == "undo-copy" and len(back.placed) == 2
    assert len(back.errors) == 1 and "c.jpg" in back.errors[0] and "changed" in back.errors[0]
    assert back.line().startswith("2 copies removed")
    assert files_under(tmp_path / "out") == {
        "cat/mine.jpg": b"mine",
        "dog/c.jpg": b"edited by hand",
    }
    assert {p: Path(p).read_bytes() for p in src} == src  # the originals untouched
    assert sorting.undo_sort(report.manifest).placed == []  # a second undo does nothing


def test_undoing_a_copy_never_removes_a_file_put_in_a_copy_s_place(tmp_path):
    src = make_images(tmp_path / "in", ["a.jpg"])
    report = sort_into_folders([SortItem(p, "cat", 0.9) for p in src], tmp_path / "out")
    copy = tmp_path / "out" / "cat" / "a.jpg"
    copy.unlink()
    copy.write_bytes(next(iter(src.values())))  # the same size, another file (a new mtime)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    back = sorting.undo_sort(report.manifest)
    assert back.placed == [] and len(back.errors) == 1 and copy.is_file()
    missing = sort_into_folders([SortItem(p, "dog", 0.9) for p in src], tmp_path / "out")
    (tmp_path / "out" / "dog" / "a.jpg").unlink()  # removed by the person meanwhile
    back = sorting.undo_sort(missing.manifest)
    assert back.placed == [] and not back.errors  # nothing left to remove: nothing to say
