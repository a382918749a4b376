"""Duplicates without a model: exact copies by content, edited copies (resized, recompressed,
cropped, colour-shifted) by the perceptual hash; leaks between an evaluation and a training
folder; the `duplicates` command and `predict --evaluate --leaks`."""

from __future__ import annotations

import csv
import itertools
import random
import shutil

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import class_image, photo_like
from pigeonhole.core.insight.duplicate_options import DEFAULT_THRESHOLD
from pigeonhole.core.insight.duplicates import (
    HashFailure,
    ImageHash,
    close_pairs,
    duplicate_pairs,
    find_duplicates,
    find_leaks,
    group_duplicates,
    hash_arrays,
    hash_file,
    hash_files,
)
from pigeonhole.core.insight.pairs import TooManyPairs
from pigeonhole.core.insight.vectors import close_vectors, cosine_key, vector_pairs

KINDS = ("half", "q40", "crop", "shift")


def made_copies(img: Image.Image) -> dict[str, tuple[Image.Image, int]]:
    """The edits a copy goes through: (image, JPEG quality)."""
    w, h = img.size
    return {
        "half": (img.resize((w // 2, h // 2)), 90),
        "q40": (img, 40),
        "crop": (img.crop((w // 20, h // 20, w - w // 20, h - h // 20)), 90),
        "shift": (ImageEnhance.Color(ImageEnhance.Brightness(img).enhance(1.08)).enhance(1.15), 90),
    }


def photo(i: int) -> Image.Image:
    """A photo-like image with a class's shape pasted at a random place."""
    img = photo_like(i, (640, 480))
    rng = random.Random(i)
    shape = class_image(("red", "blue", "green")[i % 3], i, (200, 150))
    img.paste(shape, (rng.randint(0, 440), rng.randint(0, 330)))
    return img


@pytest.fixture(scope="module")
def photos_with_copies(tmp_path_factory):
    """24 photos, each with 4 edited copies, and 12 photos without any."""
    root = tmp_path_factory.mktemp("dups")
    groups = {}
    for i in range(24):
        img = photo(i)
        original = root / f"p{i:02d}.jpg"
        img.save(original, quality=92)
        members = [original]
        for kind, (copy, quality) in made_copies(img).items():
            path = root / f"p{i:02d}_{kind}.jpg"
            copy.save(path, quality=quality)
            members.append(path)
        groups[i] = members
    singles = []
    for i in range(100, 112):
        path = root / f"single{i}.jpg"
        photo(i).save(path, quality=90)
        singles.append(path)
    return root, groups, singles


def test_edited_copies_are_found_and_different_photos_are_not(photos_with_copies):
    _root, groups, singles = photos_with_copies
    files = [p for members in groups.values() for p in members] + singles
    hashes = [hash_file(p) for p in files]
    found = find_duplicates(hashes)
    same = {
        frozenset(map(str, pair)) for m in groups.values() for pair in itertools.combinations(m, 2)
    }
    reported = {
        frozenset(pair)
        for g in found
        for pair in itertools.combinations([m.path for m in g.members], 2)
    }
    recall = len(same & reported) / len(same)
    precision = len(same & reported) / len(reported)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    assert not any(str(s) in pair for s in singles for pair in reported)
    for g in found:  # the kept image is the full-size, least compressed original
        assert g.keep.endswith(tuple(f"p{i:02d}.jpg" for i in groups))


def test_exact_copies_and_unreadable_files(tmp_path):
    photo(1).save(tmp_path / "a.jpg", quality=90)
    shutil.copy(tmp_path / "a.jpg", tmp_path / "a copy.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    results = list(hash_files(sorted(tmp_path.iterdir())))
    failures = [r for r in results if isinstance(r, HashFailure)]
    assert [f.path.endswith("broken.jpg") for f in failures] == [True] and failures[0].error
    (group,) = find_duplicates([r for r in results if isinstance(r, ImageHash)], threshold=0)
    assert sorted(m.kind for m in group.members) == ["exact", "keep"]


def test_pair_search_matches_brute_force():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**63, 700, dtype=np.uint64)
    a[5] = a[600] ^ np.uint64(0b1011)  # 3 bits apart
    got = {(i, j) for i, j, _d in close_pairs(a, threshold=10)}
    want = {
        (i, j)
        for i, j in itertools.combinations(range(len(a)), 2)
        if (int(a[i]) ^ int(a[j])).bit_count() <= 10
    }
    assert got == want and (5, 600) in got


def test_leaks_between_evaluation_and_training(photos_with_copies):
    _root, groups, singles = photos_with_copies
    train = [hash_file(groups[i][0]) for i in range(6)]
    evaluated = [hash_file(groups[i][2]) for i in range(3, 9)] + [hash_file(singles[0])]
    leaks = find_leaks(evaluated, train, DEFAULT_THRESHOLD)
    assert [leak.train_path for leak in leaks] == [str(groups[i][0]) for i in (3, 4, 5)]


def test_the_duplicates_command_writes_groups(photos_with_copies, tmp_path, capsys):
    root, groups, _singles = photos_with_copies
    out = tmp_path / "groups.csv"
    assert main(["duplicates", str(root), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["group", "path", "kind", "distance"]
    assert {r["kind"] for r in rows} == {"keep", "near"}
    assert len({r["group"] for r in rows}) >= 23  # 24 photos with copies
    assert "groups of duplicates" in capsys.readouterr().err
    assert main(["duplicates", str(root), "--out", str(tmp_path)]) == 2  # a folder: refused
    assert main(["duplicates", str(tmp_path / "missing")]) == 2
    assert "No such file or folder" in capsys.readouterr().err


def test_predict_evaluate_counts_leaks_and_gives_accuracy_without_them(tmp_path, capsys):
    import torch

    from pigeonhole.core.models.archs import TransformSpec, build_model
    from pigeonhole.core.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    ck = tmp_path / "m.pth"
    save_checkpoint(
        ck, build_model("resnet18", 2), "resnet18", ["red", "blue"], TransformSpec(72, 64)
    )
    train, val = tmp_path / "train", tmp_path / "val"
    for n, label in enumerate(("red", "blue")):
        (train / label).mkdir(parents=True)
        (val / label).mkdir(parents=True)
        for i in range(3):
            img = photo(10 * n + i)
            img.save(train / label / f"t{i}.jpg", quality=92)
            img.save(val / label / f"v{i}.jpg", quality=92)  # the same photo, saved again
            photo(50 + 10 * n + i).save(val / label / f"new{i}.jpg", quality=92)
        made_copies(photo(10 * n))["crop"][0].save(val / label / "cropped.jpg", quality=90)
    assert (
        main(["predict", str(val), "--checkpoint", str(ck), "--evaluate", "--leaks", str(train)])
        == 0
    )
    err = capsys.readouterr().err
    assert "leaks: 8 of 14 evaluated images are copies of images in" in err
    lines = err.splitlines()
    leak_at = next(i for i, x in enumerate(lines) if "leaks:" in x)
    accuracy_at = next(i for i, x in enumerate(lines) if x.startswith("pigeonhole: evaluation: "))
    assert leak_at < accuracy_at  # said before the accuracy it inflates
    assert "evaluation without the leaked images: accuracy" in err and "on 6 images" in err
    assert main(["predict", str(val), "--checkpoint", str(ck), "--leaks", str(train)]) == 2
    assert "--leaks goes with --evaluate" in capsys.readouterr().err


def test_embeddings_join_pictures_the_hash_keeps_apart(photos_with_copies):
    """Two different photos whose vectors point the same way (a trained network calling them
    the same picture) form a group of kind "similar"; at distance 0 only identical vectors do."""
    _root, _groups, singles = photos_with_copies
    hashes = [hash_file(p) for p in singles[:4]]
    assert find_duplicates(hashes) == []
    vectors = np.eye(4, 8, dtype=np.float16)
    vectors[2] = vectors[0] * 3 + 0.05 * vectors[1]  # nearly photo 0's direction
    vectors[3] = 0  # no embedding: matches nothing
    (group,) = find_duplicates(hashes, embeddings=vectors, max_cosine=0.01)
    assert {m.path for m in group.members} == {str(singles[0]), str(singles[2])}
    (similar,) = group.copies
    assert similar.kind == "similar" and 0 < similar.distance <= 0.01
    assert find_duplicates(hashes, embeddings=vectors, max_cosine=0.0) == []
    with pytest.raises(ValueError, match="3 embeddings for 4 images"):
        find_duplicates(hashes, embeddings=vectors[:3])


def test_close_vectors_matches_brute_force():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 6)).astype(np.float32)  # more rows than one block
    got = {(i, j) for i, j, _d in close_vectors(x, 0.02)}
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = u @ u.T
    want = {(i, j) for i, j in zip(*np.nonzero(sim >= 0.98 - 1e-6), strict=True) if i < j}
    assert got == want and got


def made_up_copies(n_photos=120, copies=9, dim=12):
    """Hashes and vectors of photos with edited copies: each copy has 0 to 20 of its photo's
    bits flipped and its vector moved by a random amount; every 50th vector is missing."""
    rng = np.random.default_rng(7)
    hashes, vectors = [], []
    for p in range(n_photos):
        whole, inner = (int(v) for v in rng.integers(0, 2**63, 2, dtype=np.uint64))
        vec = rng.normal(size=dim)
        for c in range(copies + 1):
            flips = sum(1 << int(b) for b in rng.choice(64, rng.integers(0, 21), replace=False))
            flips *= c != 1
            i = len(hashes)
            content = f"{p}" if c <= 1 else f"{p}-{c}"  # copy 1: the photo's exact bytes
            hashes.append(ImageHash(f"img{i}", content, whole ^ flips, inner ^ flips, 9 - c, i))
            moved = vec + rng.uniform(0, 0.6) * rng.normal(size=dim)
            vectors.append(moved if i % 50 else np.zeros(dim))
    return hashes, np.array(vectors, dtype=np.float16)


def brute_force_groups(hashes, bits, vectors, cosine):
    """Groups of paths from every pair compared directly (the definition, slowly)."""
    rows = hash_arrays(hashes)
    n = len(rows)
    a, b = rows[:, None, :], rows[None, :, :]
    apart = np.bitwise_count(a[..., 0] ^ b[..., 0])
    apart = np.minimum(apart, np.bitwise_count(a[..., 0] ^ b[..., 1]))
    apart = np.minimum(apart, np.bitwise_count(a[..., 1] ^ b[..., 0]))
    u = vectors.astype(np.float32)
    norms = np.linalg.norm(u, axis=1)
    u = u / np.where(norms > 0, norms, 1)[:, None]
    near = (u @ u.T >= 1 - cosine - 1e-6) & (norms[:, None] > 0) & (norms[None, :] > 0)
    content = np.array([h.content for h in hashes])
    linked = (apart <= bits) | near | (content[:, None] == content[None, :])
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        ri, rj = root(int(i)), root(int(j))
        parent[max(ri, rj)] = min(ri, rj)
    groups = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(hashes[i].path)
    return [g for g in groups.values() if len(g) > 1]


def test_one_search_groups_like_brute_force_at_every_threshold():
    """The pairs found once for every slider position (more rows than a block of hashes) give,
    at each position, the groups that comparing every pair directly gives, and those that a
    search at that threshold alone gives."""
    hashes, vectors = made_up_copies()
    cosines = [step / 100 for step in range(31)]
    pairs = duplicate_pairs(hashes, vectors, range(33), cosines)
    assert pairs.pictures.limit == 32 and pairs.vectors.limit == cosine_key(0.3)
    kinds, sizes = set(), set()
    for bits, cosine in [(0, 0.0), (4, 0.01), (10, 0.05), (14, 0.1), (20, 0.3), (6, 0.3)]:
        got = group_duplicates(hashes, pairs, bits, cosine, vectors)
        want = brute_force_groups(hashes, bits, vectors, cosine)
        assert [sorted(m.path for m in g.members) for g in got] == [sorted(g) for g in want]
        assert got == find_duplicates(hashes, bits, vectors, cosine)
        kinds |= {m.kind for g in got for m in g.members}
        sizes.add(len(got))
    assert kinds == {"keep", "exact", "near", "similar"} and len(sizes) >= 4


def test_too_many_close_pairs_keep_the_closest_levels():
    """Past the budget of pairs the search keeps every pair of a smaller distance and says
    which; when even the smallest holds too many, it says so instead of grouping wrongly."""
    _hashes, vectors = made_up_copies()
    everything = vector_pairs(vectors, (0.05, 0.3))
    close = vector_pairs(vectors, (0.05,))
    capped = vector_pairs(vectors, (0.05, 0.3), budget=len(close) + 10)
    assert len(close) + 10 < len(everything)
    assert capped.limit == cosine_key(0.05) and len(capped) == len(close)
    assert [a.tolist() for a in capped.upto(cosine_key(0.3))] == [
        a.tolist() for a in close.upto(cosine_key(0.3))
    ]
    with pytest.raises(TooManyPairs, match="more than 5 pairs"):
        vector_pairs(np.ones((10, 4)), (0.0, 0.1), budget=5)


def test_the_duplicates_command_uses_a_models_embeddings(photos_with_copies, tmp_path):
    from pigeonhole.core.models.checkpoints import save_checkpoint
    from tests.core.train_helpers import small_base

    root, groups, _singles = photos_with_copies
    sub = tmp_path / "few"
    sub.mkdir()
    for p in [*groups[0][:2], *groups[1][:1], *groups[2][:1]]:
        shutil.copy(p, sub / p.name)
    base = small_base()
    ck = tmp_path / "base.pth"
    save_checkpoint(ck, base.model, "resnet18", base.class_names, base.transform)
    common = ["duplicates", str(sub), "--checkpoint", str(ck), "--device", "cpu", "--quiet"]
    out = tmp_path / "g.csv"
    assert main([*common, "--embedding-distance", "0", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["kind"] for r in rows} == {"keep", "near"} and len(rows) == 2
    # Every vector within distance 1 of every other (ReLU features: no negative cosines): one
    # group holding all four, the two other photos joined by their embeddings.
    assert main([*common, "--embedding-distance", "1", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and {r["group"] for r in rows} == {"1"}
    assert [r["kind"] for r in rows].count("similar") >= 2  # (relative to the kept one)
    assert main([*common, "--embedding-distance", "2"]) == 2
