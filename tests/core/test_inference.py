"""core.runtime.inference: the batched pipeline against the naive loop, bad files, order, streaming,
cancellation."""

from __future__ import annotations

import copy
import threading

import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from pigeonhole.core.data.synthetic import class_image, make_class_folders, photo_like
from pigeonhole.core.errors import DataError, PigeonholeError
from pigeonhole.core.models.archs import TransformSpec, build_model
from pigeonhole.core.models.checkpoints import LoadedModel
from pigeonhole.core.runtime import inference
from pigeonhole.core.runtime.fusion import fuse_for_inference
from pigeonhole.core.runtime.inference import BatchResult, Classifier, RunSummary, classify_paths
from pigeonhole.core.runtime.options import RunOptions
from pigeonhole.core.tasks import run_to_end
from tests.core.broken_images import write_corpus

SMALL = TransformSpec(resize=72, crop=64)  # small crops keep the forward passes cheap
CLASSES = ["cat", "dog", "bird"]


_MODELS: dict = {}


def _loaded(arch: str = "resnet18", spec: TransformSpec = SMALL) -> LoadedModel:
    """One seeded model per module (Classifier never modifies it: it runs a fused copy)."""
    if arch not in _MODELS:
        torch.manual_seed(0)
        _MODELS[arch] = build_model(arch, len(CLASSES))
    return LoadedModel(_MODELS[arch], arch, list(CLASSES), spec, "test")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def _run(clf: Classifier, paths, **kw) -> tuple[list[BatchResult], RunSummary]:
    batches = []
    summary = run_to_end(clf.run(paths, **kw), batches.append)
    return batches, summary


@pytest.mark.parametrize("spec", [SMALL, TransformSpec()], ids=["small", "imagenet"])
def test_pipeline_matches_naive_loop_exactly(tmp_path, spec):
    n = 7 if spec is SMALL else 3
    for i in range(n):
        photo_like(i, (250 + 10 * i, 240)).save(tmp_path / f"p{i}.jpg", quality=90)
    loaded = _loaded(spec=spec)
    naive_model = copy.deepcopy(loaded.model)
    tf = T.Compose(
        [
            T.Resize(spec.resize),
            T.CenterCrop(spec.crop),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
    )
    files = sorted(tmp_path.glob("*.jpg"))
    with torch.no_grad():
        naive = torch.stack([naive_model(tf(Image.open(f).convert("RGB"))[None])[0] for f in files])
    # Draft decoding (JPEGs >= 3x the resize) changes pixels: off for the small crops; the
    # ImageNet-sized case keeps the default (these photos are < 3x 256, so never drafted).
    draft = spec is not SMALL
    preds, summary = classify_paths(
        loaded, [tmp_path], batch_size=3, keep_logits=True, topk=3, draft=draft
    )
    ours = torch.tensor([p.logits for p in preds])
    assert [p.path for p in preds] == [str(f) for f in files]
    assert torch.allclose(ours, naive, atol=1e-4, rtol=1e-4)
    assert torch.equal(ours.argmax(1), naive.argmax(1))
    probs = torch.softmax(naive, 1)
    for p, row in zip(preds, probs, strict=True):
        assert p.label == CLASSES[int(row.argmax())]
        assert p.confidence == pytest.approx(float(row.max()), abs=1e-5)
        assert [s for _, s in p.topk] == sorted((s for _, s in p.topk), reverse=True)
        assert p.infer_ms > 0 and p.decode_ms > 0
    assert (summary.processed, summary.skipped, summary.images) == (n, 0, n)
    assert summary.precision == "fp32" and summary.device == "cpu"


def test_bad_files_become_rows_and_run_goes_on(corpus):
    clf = Classifier(_loaded(), RunOptions(batch_size=4), topk=2)
    batches, summary = _run(clf, [corpus.root])
    preds = [p for b in batches for p in b.predictions]
    assert [p.index for p in preds] == list(range(len(corpus.expected)))
    assert [p.path.rsplit("/", 1)[-1] for p in preds] == sorted(corpus.expected)
    for p in preds:
        words = corpus.expected[p.path.rsplit("/", 1)[-1]]
        if words is None:
            assert p.ok and p.label in CLASSES and 0 < p.confidence <= 1 and len(p.topk) == 2
        else:
            assert not p.ok and words in p.error and p.label is None and p.topk == ()
    assert summary.processed == len(corpus.good) and summary.skipped == len(corpus.bad)
    assert summary.processed + summary.skipped == summary.images == len(corpus.expected)
    assert summary.ignored == len(corpus.ignored) and not summary.cancelled
    assert batches[-1].total == len(corpus.expected) and batches[-1].done == len(preds)
    line = summary.line()
    assert f"Classified {summary.processed} of {summary.images}" in line and "skipped" in line


def test_vanished_since_listing(tmp_path, monkeypatch):
    make_class_folders(tmp_path, 3, ("red",), size=(40, 30))
    victim = tmp_path / "red" / "red_001.jpg"
    real = inference.decode_image

    def delete_first(path, draft_size=None):
        if str(path) == str(victim):
            victim.unlink()
        return real(path, draft_size)

    monkeypatch.setattr(inference, "decode_image", delete_first)
    preds, summary = classify_paths(_loaded(), [tmp_path], batch_size=2)
    errors = {p.path: p.error for p in preds if not p.ok}
    assert list(errors) == [str(victim)] and "not found" in errors[str(victim)]
    assert (summary.processed, summary.skipped) == (2, 1)


def test_results_stream_before_listing_finishes(tmp_path):
    make_class_folders(tmp_path / "a", 6, ("red",), size=(40, 30))
    make_class_folders(tmp_path / "b", 3, ("blue",), size=(40, 30))
    release = threading.Event()

    def paths():
        yield tmp_path / "a"
        release.wait(timeout=60)  # the listing is stuck here until the first batch arrives
        yield tmp_path / "b"

    clf = Classifier(_loaded(), RunOptions(batch_size=2))
    gen = clf.run(paths())
    first = next(gen)
    assert first.total is None and first.done == 2
    release.set()
    rest = list(gen)
    assert rest[-1].total == 9 and rest[-1].done == 9
    assert clf.summary.processed == 9


def test_cancel_within_one_batch(tmp_path):
    make_class_folders(tmp_path, 12, ("red",), size=(40, 30))
    stop = threading.Event()
    clf = Classifier(_loaded(), RunOptions(batch_size=3))
    seen = []
    for batch in clf.run([tmp_path], should_stop=stop):
        seen.append(batch)
        stop.set()
    assert len(seen) == 1
    assert clf.summary.cancelled and clf.summary.processed == 3
    assert "Cancelled" in clf.summary.line()


def test_progress_thumbnails_and_no_images(tmp_path):
    make_class_folders(tmp_path / "imgs", 3, ("red",), size=(90, 60))
    calls = []
    preds, summary = classify_paths(
        _loaded(), [tmp_path / "imgs"], batch_size=2, thumbnail_size=32,
        progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    assert calls[-1] == (3, 3) and [d for d, _ in calls] == [2, 3]
    assert all(p.thumbnail.width == 32 and p.thumbnail.height == 21 for p in preds)
    assert summary.to_dict()["processed"] == 3
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="No images found.*1 document \\(.TXT\\) skipped"):
        classify_paths(_loaded(), [tmp_path / "empty"])


def test_bf16_and_bad_settings(tmp_path):
    for i in range(4):
        class_image("red", i, (60, 40)).save(tmp_path / f"{i}.png")
    fp32, _ = classify_paths(_loaded(), [tmp_path], keep_logits=True)
    bf16, summary = classify_paths(_loaded(), [tmp_path], precision="bf16", keep_logits=True)
    assert summary.precision == "bf16"
    a, b = torch.tensor([p.logits for p in fp32]), torch.tensor([p.logits for p in bf16])
    assert torch.allclose(a, b, atol=0.1 * float(a.abs().max()) + 0.05)  # close, not equal
    with pytest.raises(PigeonholeError, match="fp16"):
        Classifier(_loaded(), RunOptions(precision="fp16", device="cpu"))
    with pytest.raises(PigeonholeError):
        Classifier(_loaded(), RunOptions(batch_size=-1))


def test_fused_copy_travels_on_the_loaded_model_and_follows_weight_changes():
    torch.manual_seed(1)
    model = build_model("resnet18", 3)
    loaded = LoadedModel(model, "resnet18", list(CLASSES), SMALL, "test")
    fused = fuse_for_inference(loaded)
    assert loaded.fused is fused and fuse_for_inference(loaded) is fused  # made once
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # caller's intact
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    with torch.no_grad():
        model.fc.weight.add_(0.5)  # e.g. a head trained in place
    refreshed = fuse_for_inference(loaded)
    assert refreshed is not fused
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model(x), refreshed(x), atol=1e-4)
