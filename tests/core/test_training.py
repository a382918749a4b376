"""Head training on cached features: accuracy on learnable data, reproducibility, early
stopping, cancel (keeps the best epoch), metrics, atomic save and reload."""

from __future__ import annotations

import threading

import pytest
import torch

from pigeonhole.core.data.images import load_image
from pigeonhole.core.data.preprocessing import preprocess
from pigeonhole.core.data.synthetic import class_image, make_class_folders
from pigeonhole.core.errors import Cancelled
from pigeonhole.core.models.checkpoints import ModelSource, load_model
from pigeonhole.core.tasks import run_to_end
from pigeonhole.core.training.fine_tune import (
    TrainConfig,
    TrainResult,
    TrainStage,
    train_classifier,
)
from pigeonhole.core.training.head import EpochStats, StandardisedHead, class_weights, evaluate_head
from tests.core.train_helpers import colour_folders, small_base


def _train(data, cfg=None, arch="resnet18", should_stop=None, records=None):
    gen = train_classifier(
        data, base=small_base(arch), config=cfg or TrainConfig(epochs=12), should_stop=should_stop
    )
    return run_to_end(gen, records.append if records is not None else None)


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    return colour_folders(tmp_path_factory.mktemp("colours"), per_class=10)


def test_reaches_high_accuracy_on_learnable_data(colours):
    records: list = []
    result = _train(colours, TrainConfig(epochs=15, augment=1, seed=3, patience=0), records=records)
    assert isinstance(result, TrainResult)
    assert result.val_accuracy >= 0.9 and result.eval_split == "val"
    assert result.class_names == ["blue", "green", "red"]
    stages = [r.stage for r in records if isinstance(r, TrainStage)]
    assert stages == ["prepare", "extract", "train", "evaluate"]
    epochs = [r for r in records if isinstance(r, EpochStats)]
    assert [e.epoch for e in epochs] == list(range(1, 16)) == [e.epoch for e in result.history]
    assert epochs[-1].train_acc > epochs[0].train_acc
    assert result.features_extracted == 24 * 2 + 6  # plain + 1 augmented view, val plain
    # per-class metrics and the confusion matrix describe the validation set
    assert sum(map(sum, result.confusion)) == 6
    assert [c.support for c in result.per_class] == [2, 2, 2]
    assert len(result.misclassified) == 6 - sum(result.confusion[i][i] for i in range(3))
    # the full network (backbone + folded head) predicts like the trained head
    val_paths = sorted(p for c in ("blue", "green", "red") for p in (colours / c).glob("*.jpg"))
    x = torch.stack([preprocess(load_image(p, draft_size=72), result.transform) for p in val_paths])
    with torch.no_grad():
        pred = result.model(x).argmax(1).tolist()
    truth = [result.class_names.index(p.parent.name) for p in val_paths]
    assert sum(p == t for p, t in zip(pred, truth, strict=True)) >= 0.9 * len(truth)


def test_seeded_runs_are_reproducible_and_reuse_the_cache(colours):
    a = _train(colours, TrainConfig(epochs=6, seed=7))
    b = _train(colours, TrainConfig(epochs=6, seed=7))
    assert b.features_extracted == 0 and b.features_cached == 30
    assert [(e.train_loss, e.val_loss) for e in a.history] == [
        (e.train_loss, e.val_loss) for e in b.history
    ]
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    # validation labels are swapped: the better the head learns, the worse validation gets
    for label, other in (("red", "blue"), ("blue", "red")):
        folder = tmp_path / "train" / label
        folder.mkdir(parents=True, exist_ok=True)
        vfolder = tmp_path / "val" / label
        vfolder.mkdir(parents=True, exist_ok=True)
        for i in range(8):
            class_image(label, i, (96, 72)).save(folder / f"{i}.jpg")
        for i in range(3):
            class_image(other, 50 + i, (96, 72)).save(vfolder / f"{i}.jpg")
    result = _train(tmp_path, TrainConfig(epochs=40, patience=3, lr=1e-2))
    assert result.stopped_early and not result.cancelled
    assert len(result.history) == result.best_epoch + 3 < 40
    best = result.history[result.best_epoch - 1]
    assert best.is_best and best.val_loss == min(e.val_loss for e in result.history)
    assert result.val_loss == pytest.approx(best.val_loss, rel=1e-4)


def test_cancel_during_head_training_keeps_best_so_far(colours):
    stop = threading.Event()
    gen = train_classifier(
        colours, base=small_base(), config=TrainConfig(epochs=50, patience=0), should_stop=stop
    )
    epochs = 0
    while True:
        try:
            r = next(gen)
        except StopIteration as done:
            result = done.value
            break
        if isinstance(r, EpochStats):
            epochs += 1
            if epochs == 3:
                stop.set()
    assert result.cancelled and len(result.history) == 3
    assert 1 <= result.best_epoch <= 3 and result.val_accuracy is not None


def test_cancel_before_training_raises(colours):
    with pytest.raises(Cancelled):
        run_to_end(train_classifier(colours, base=small_base(), should_stop=lambda: True))


def test_save_is_atomic_and_reloads(colours, tmp_path, monkeypatch):
    result = _train(colours, TrainConfig(epochs=3))
    out = tmp_path / "model.pth"
    out.write_bytes(b"previous")

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        result.save(out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pth"]
    monkeypatch.undo()

    assert result.save(out) == out
    loaded = load_model(ModelSource(checkpoint=str(out)))
    assert loaded.arch == "resnet18" and loaded.class_names == ["blue", "green", "red"]
    assert loaded.transform == result.transform
    assert loaded.metadata["metrics"]["best_epoch"] == result.best_epoch
    assert len(loaded.metadata["metrics"]["confusion"]) == 3
    s1, s2 = result.model.state_dict(), loaded.model.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)


def test_squeezenet_conv_head_and_no_validation_split(tmp_path):
    data = make_class_folders(tmp_path, 5, ("red", "blue"), size=(96, 72))
    result = _train(data, TrainConfig(epochs=8, val_split=0.0), arch="squeezenet1_1")
    assert result.eval_split == "train" and sum(map(sum, result.confusion)) == 10
    assert result.history[0].val_loss is None
    assert result.model.classifier[1].out_channels == 2


def test_folded_head_equals_standardised_head():
    torch.manual_seed(0)
    for kind, x in (("linear", torch.randn(6, 8) * 3 + 1), ("conv", torch.randn(6, 8, 3, 3) + 2)):
        mean = x.mean(dim=(0,) if kind == "linear" else (0, 2, 3))
        head = StandardisedHead(mean, torch.rand(8) + 0.5, 3, kind)
        w, b = head.folded()
        if kind == "linear":
            raw = x @ w.T + b
        else:
            raw = torch.nn.functional.conv2d(x, w, b).relu().mean(dim=(2, 3))
        assert torch.allclose(head(x), raw, atol=1e-5)


def test_class_weights_and_metrics():
    w = class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert w.tolist() == pytest.approx([4 / 6, 2.0, 0.0])
    head = torch.nn.Identity()
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0], [5.0, 0.0], [0.0, 5.0]])
    ev = evaluate_head(head, logits, torch.tensor([0, 0, 1, 1]), 2)
    assert ev.confusion == [[1, 1], [1, 1]] and ev.accuracy == 0.5
    assert ev.per_class[0] == (0.5, 0.5, 0.5, 2)


def test_the_kept_epoch_is_named_with_the_figure_it_was_chosen_by():
    """Issue 27: the app said it kept the epoch "best on validation" beside a table of
    accuracies, while the epoch kept is the one with the lowest validation loss."""
    from pigeonhole.core.training.head import kept_epoch_line

    history = [
        EpochStats(1, 0.9, 0.50, 0.80, 0.95, 1.0, True),
        EpochStats(2, 0.5, 0.80, 0.41, 0.93, 1.0, True),
        EpochStats(3, 0.3, 0.90, 0.60, 0.97, 1.0, False),  # more accurate, higher loss
    ]
    line = "kept epoch 2: lowest validation loss 0.41 (accuracy 93.0%)"
    assert kept_epoch_line(history, 2) == line
    no_val = [EpochStats(1, 0.7, 0.6, None, None, 1.0, True)]
    assert kept_epoch_line(no_val, 1) == "kept epoch 1: lowest training loss 0.7 (accuracy 60.0%)"


def test_a_training_result_says_why_its_epoch_was_kept(colours):
    result = _train(colours, TrainConfig(epochs=4, seed=1))
    best = result.history[result.best_epoch - 1]
    assert result.kept_line() == (
        f"kept epoch {result.best_epoch}: lowest validation loss {best.val_loss:.3g} "
        f"(accuracy {best.val_acc:.1%})"
    )
