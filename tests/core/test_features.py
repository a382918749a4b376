"""Frozen-backbone feature extraction: the cache is reused, invalidated by file changes and
by other weights; bad images are skipped; cancel stops within a batch; augmented views."""

from __future__ import annotations

import os

import pytest
import torch

from pigeonhole.core.data.synthetic import class_image, make_class_folders
from pigeonhole.core.errors import Cancelled
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.tasks import run_to_end
from pigeonhole.core.training.features import (
    FeatureCache,
    FeatureExtractor,
    FeatureJob,
    augment_params,
    load_view,
)
from tests.core.train_helpers import SMALL, small_base


def _extractor(arch="resnet18", seed=0, batch_size=4):
    base = small_base(arch, seed)
    return FeatureExtractor(
        base.model, arch, base.transform, RunOptions(device="cpu", batch_size=batch_size)
    )


def _jobs(root):
    paths = sorted(root.rglob("*.jpg"))
    return [FeatureJob(i, p) for i, p in enumerate(paths)]


def test_cache_reused_and_invalidated_by_a_changed_file(tmp_path):
    root = make_class_folders(tmp_path / "data", 4, ("red", "blue"), size=(80, 60))
    jobs = _jobs(root)
    ex = _extractor()
    first = run_to_end(ex.extract(jobs, cache=FeatureCache(ex.key)))
    assert (first.extracted, first.cached) == (8, 0)
    assert first.features.shape == (8, 512)

    second = run_to_end(_extractor().extract(jobs, cache=FeatureCache(ex.key)))
    assert (second.extracted, second.cached) == (0, 8)
    assert torch.equal(second.features, first.features)

    changed = jobs[3].path
    class_image("green", 99, (80, 60)).save(changed)
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = run_to_end(_extractor().extract(jobs, cache=FeatureCache(ex.key)))
    assert (third.extracted, third.cached) == (1, 7)
    assert not torch.equal(third.features[3], first.features[3])
    assert torch.equal(third.features[:3], first.features[:3])


def test_other_weights_or_transform_get_their_own_cache(tmp_path):
    a, b = _extractor(seed=0), _extractor(seed=1)
    assert a.key != b.key
    base = small_base("resnet18", 0, transform=SMALL.__class__(resize=80, crop=72))
    c = FeatureExtractor(base.model, "resnet18", base.transform, RunOptions(device="cpu"))
    assert c.key != a.key
    assert _extractor(seed=0).key == a.key


def test_bad_images_are_skipped_and_listed(tmp_path):
    root = make_class_folders(tmp_path, 3, ("red",), size=(80, 60))
    (root / "red" / "broken.jpg").write_text("this is not a JPEG")
    (root / "red" / "empty.jpg").write_bytes(b"")
    jobs = _jobs(root)
    out = run_to_end(_extractor().extract(jobs, cache=None))
    assert out.features.shape[0] == 3
    reasons = dict(out.skipped)
    assert set(reasons) == {str(root / "red" / "broken.jpg"), str(root / "red" / "empty.jpg")}
    assert "empty" in reasons[str(root / "red" / "empty.jpg")]
    assert all(j.path.name.startswith("red_") for j in out.jobs)


def test_cancel_stops_within_one_batch_and_keeps_extracted_features(tmp_path):
    root = make_class_folders(tmp_path, 12, ("red", "blue"), size=(80, 60))
    jobs = _jobs(root)
    ex = _extractor(batch_size=4)
    stop = {"now": False}
    gen = ex.extract(jobs, cache=FeatureCache(ex.key), should_stop=lambda: stop["now"])
    seen = []
    with pytest.raises(Cancelled):
        for record in gen:
            seen.append(record)
            if record.done >= 4:
                stop["now"] = True
    assert seen[-1].done == 4 and seen[-1].total == 24
    assert seen[-1].ms_per_image > 0 and seen[-1].eta_s > 0
    again = run_to_end(_extractor(batch_size=4).extract(jobs, cache=FeatureCache(ex.key)))
    assert (again.cached, again.extracted) == (4, 20)


def test_augmented_views_are_seeded_and_differ_from_the_plain_view(tmp_path):
    path = tmp_path / "x.jpg"
    class_image("red", 1, (120, 90)).save(path)
    assert augment_params(path, 1, 0, 120, 90) == augment_params(path, 1, 0, 120, 90)
    assert augment_params(path, 1, 0, 120, 90) != augment_params(path, 2, 0, 120, 90)
    top, left, h, w, _flip = augment_params(path, 3, 5, 120, 90)
    assert 0 <= top <= 90 - h and 0 <= left <= 120 - w
    plain, aug = load_view(path, 0, SMALL), load_view(path, 1, SMALL)
    assert plain.shape == aug.shape == (3, 64, 64)
    assert not torch.equal(plain, aug)
    assert torch.equal(aug, load_view(path, 1, SMALL))


def test_squeezenet_features_are_the_head_input_map(tmp_path):
    root = make_class_folders(tmp_path, 2, ("red",), size=(80, 60))
    out = run_to_end(_extractor("squeezenet1_1").extract(_jobs(root)))
    assert out.features.shape[:2] == (2, 512) and out.features.dim() == 4


def test_views_use_the_models_resize_rule(tmp_path):
    """A letterbox model's plain view is its letterboxed image (grey bars included); augmented
    views are crops of the photo at the model's input size, scaled as the model scales."""
    from pigeonhole.core.data.images import load_image
    from pigeonhole.core.data.preprocessing import crop_uint8
    from pigeonhole.core.models.transforms import TransformSpec

    spec = TransformSpec(resize=64, crop=64, resize_mode="letterbox", fill=(1, 2, 3))
    path = tmp_path / "wide.jpg"
    class_image("red", 1, (160, 80)).save(path)
    plain = load_view(path, 0, spec)
    assert torch.equal(plain, crop_uint8(load_image(path), spec))
    assert plain[:, 0, 0].tolist() == [1, 2, 3] and plain[:, 32, 32].tolist() != [1, 2, 3]
    aug = load_view(path, 2, spec)
    assert aug.shape == (3, 64, 64) and aug[:, 0, 0].tolist() != [1, 2, 3]  # no bars
