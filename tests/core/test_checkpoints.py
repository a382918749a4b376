"""Loading every accepted checkpoint format, refusing unsafe or broken files, saving atomically."""

from __future__ import annotations

import argparse
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from pigeonhole.core.errors import (
    CheckpointError,
    UntrustedCheckpointError,
    WeightsUnavailableError,
)
from pigeonhole.core.models import imagenet
from pigeonhole.core.models.archs import TransformSpec
from pigeonhole.core.models.checkpoints import (
    LoadedModel,
    ModelSource,
    imagenet_weights_cached,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from tests.core.conftest import tiny_model

ARCH = "mobilenet_v3_small"  # small and quick to save; resnet18 where its key names matter
X = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def same_outputs(loaded: LoadedModel, arch: str = ARCH, n: int = 2) -> bool:
    with torch.no_grad():
        return torch.allclose(loaded.model(X), tiny_model(arch, n).eval()(X), atol=1e-5)


@pytest.mark.parametrize(
    "kind", ["pigeonhole", "model_state_dict", "state_dict", "model", "net", "safetensors"]
)
def test_formats_with_class_names(make_checkpoint, tmp_path, kind):
    path = make_checkpoint(kind, tmp_path / "ckpt.pth", arch=ARCH, classes=("cat", "dog"))
    loaded = load_checkpoint(path)
    assert loaded.arch == ARCH
    assert loaded.class_names == ["cat", "dog"]
    assert loaded.num_classes == 2
    assert loaded.source == str(path)
    assert not loaded.model.training
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert same_outputs(loaded)


@pytest.mark.parametrize("sidecar", ["classes.txt", "cls_classes.txt", "weights.txt"])
def test_raw_state_dict_with_sidecar(make_checkpoint, tmp_path, sidecar):
    path = make_checkpoint("raw", tmp_path / "weights.pkl", arch=ARCH, classes=("a", "b"))
    (tmp_path / sidecar).write_text("  rose\n\ntulip  \n", encoding="utf-8")
    loaded = load_checkpoint(path)
    assert loaded.class_names == ["rose", "tulip"]
    assert any(sidecar in note for note in loaded.notes)
    assert any(f"identified as {ARCH}" in note for note in loaded.notes)
    assert same_outputs(loaded)


@pytest.mark.parametrize("kind", ["module_prefix", "compiled_prefix"])
def test_wrapper_prefixes_are_stripped(make_checkpoint, tmp_path, kind):
    loaded = load_checkpoint(make_checkpoint(kind, tmp_path / "w.pth", arch=ARCH), arch=ARCH)
    assert loaded.arch == ARCH and loaded.notes[-1].startswith("no class names")
    assert loaded.class_names == ["class_0", "class_1"]
    assert same_outputs(loaded)


def test_user_classes_file_wins_and_count_is_checked(make_checkpoint, tmp_path):
    path = make_checkpoint("model_state_dict", tmp_path / "m.pth", arch=ARCH)
    picked = tmp_path / "elsewhere" / "names.txt"
    picked.parent.mkdir()
    picked.write_text("left\nright\n")
    assert load_checkpoint(path, classes_file=picked).class_names == ["left", "right"]
    picked.write_text("one\ntwo\nthree\n")
    with pytest.raises(CheckpointError, match="3 class names but the network has 2 outputs"):
        load_checkpoint(path, classes_file=picked)
    (tmp_path / "classes.txt").write_text("x\n")
    raw = make_checkpoint("raw", tmp_path / "raw.pth", arch=ARCH)
    with pytest.raises(CheckpointError, match="classes.txt lists 1 class names"):
        load_checkpoint(raw)


def test_pigeonhole_round_trip_and_classic_readers(tmp_path):
    model = tiny_model("mobilenet_v3_small", 3)
    transform = TransformSpec(resize=160, crop=128, interpolation="bicubic")
    path = tmp_path / "out" / "mine.pth"
    save_checkpoint(
        path, model, "mobilenet_v3_small", ["a", "b", "c"], transform, {"acc": np.float64(0.75)}
    )
    raw = torch.load(path, map_location="cpu", weights_only=True)  # what a classic script does
    assert raw["format"] == "pigeonhole-checkpoint" and raw["format_version"] == 1
    assert raw["arch"] == "mobilenet_v3_small" and raw["class_names"] == ["a", "b", "c"]
    plain = torchvision.models.mobilenet_v3_small(num_classes=3)
    plain.load_state_dict(raw["model_state_dict"])
    loaded = load_checkpoint(path)
    assert loaded.transform == transform
    assert loaded.metadata["metrics"] == {"acc": 0.75}
    assert loaded.metadata["app_version"]
    assert loaded.notes == []
    assert same_outputs(loaded, "mobilenet_v3_small", 3)
    st = tmp_path / "mine.safetensors"
    save_checkpoint(st, model, "mobilenet_v3_small", ["a", "b", "c"], transform)
    again = load_checkpoint(st)
    assert (again.arch, again.class_names, again.transform) == (
        "mobilenet_v3_small",
        ["a", "b", "c"],
        transform,
    )


def test_save_checks_class_count(tmp_path):
    with pytest.raises(CheckpointError, match="1 class names"):
        save_checkpoint(tmp_path / "x.pth", tiny_model(ARCH), ARCH, ["only"], TransformSpec())
    assert not (tmp_path / "x.pth").exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    path.write_bytes(b"old content")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pigeonhole.core.fileio.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, tiny_model(ARCH), ARCH, ["a", "b"], TransformSpec())
    assert path.read_bytes() == b"old content"
    monkeypatch.undo()

    def half_then_crash(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 half a checkpoint")
        raise RuntimeError("killed")

    monkeypatch.setattr(torch, "save", half_then_crash)
    fresh = tmp_path / "fresh.pth"
    with pytest.raises(RuntimeError):
        save_checkpoint(fresh, tiny_model(ARCH), ARCH, ["a", "b"], TransformSpec())
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]  # no temp files left


def test_reference_script_checkpoint_with_namespace_and_numpy(tmp_path):
    state = tiny_model().state_dict()
    path = tmp_path / "checkpoint.pth"
    torch.save(
        {
            "model": state,
            "optimizer": {"state": {}, "param_groups": []},
            "args": argparse.Namespace(model="resnet18", lr=0.1),
            "epoch": 9,
            "best_acc": np.float64(0.91),
            "class_to_idx": {"dog": 1, "cat": 0},
        },
        path,
    )
    loaded = load_checkpoint(path)
    assert loaded.arch == "resnet18" and loaded.class_names == ["cat", "dog"]
    assert not any("identified" in n for n in loaded.notes)  # the file named its architecture


def test_idx_to_class_and_half_precision(tmp_path):
    state = {
        k: v.half() if v.is_floating_point() else v for k, v in tiny_model().state_dict().items()
    }
    path = tmp_path / "half.pt"
    torch.save({"state_dict": state, "idx_to_class": {"0": "zero", "1": "one"}}, path)
    loaded = load_checkpoint(path)
    assert loaded.class_names == ["zero", "one"]
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())


def test_googlenet_aux_heads_are_dropped(tmp_path):
    torch.manual_seed(0)
    full = torchvision.models.googlenet(num_classes=3, aux_logits=True, init_weights=False)
    assert any(k.startswith("aux1.") for k in full.state_dict())
    path = tmp_path / "g.pth"
    torch.save({f"module.{k}": v for k, v in full.state_dict().items()}, path)
    loaded = load_checkpoint(path, arch="googlenet")
    assert loaded.arch == "googlenet" and loaded.num_classes == 3
    assert not any(k.startswith(("aux1", "aux2")) for k in loaded.model.state_dict())
    with torch.no_grad():
        assert loaded.model(X).shape == (2, 3)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty (0 bytes)"),
        ("truncated", "truncated or damaged"),
        ("random", "not a readable PyTorch checkpoint"),
        ("torchscript", "TorchScript"),
    ],
)
def test_bad_files_give_one_line_reason(make_checkpoint, tmp_path, kind, reason):
    good = load_checkpoint(make_checkpoint("pigeonhole", tmp_path / "good.pth", arch=ARCH))
    bad = make_checkpoint(kind, tmp_path / "bad.pth", arch=ARCH)
    with pytest.raises(CheckpointError) as info:
        load_model(ModelSource(checkpoint=str(bad), arch=ARCH, trust=True))
    message = str(info.value)
    assert reason in message and "bad.pth" in message and "\n" not in message
    assert same_outputs(good)  # the previously loaded model is untouched


def test_other_bad_inputs(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pth")
    text = tmp_path / "notes.pth"
    text.write_text("just some text\n" * 20)
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(text)
    no_weights = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "lr": 0.1}, no_weights)
    with pytest.raises(CheckpointError, match="without weights"):
        load_checkpoint(no_weights)


def test_wrong_architecture_names_key_and_shapes(tmp_path):
    state = dict(tiny_model().state_dict())
    state["layer1.0.conv1.weight"] = torch.zeros(32, 64, 3, 3)
    path = tmp_path / "odd.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, arch="resnet18")
    message = str(info.value)
    assert "layer1.0.conv1.weight" in message
    assert "[32, 64, 3, 3]" in message and "[64, 64, 3, 3]" in message
    assert "\n" not in message
    with pytest.raises(CheckpointError, match=r"closest is resnet18.*layer1\.0\.conv1\.weight"):
        load_checkpoint(path)


def test_given_arch_that_does_not_fit_is_corrected(make_checkpoint, tmp_path):
    loaded = load_checkpoint(make_checkpoint("raw", tmp_path / "r.pth", arch=ARCH), arch="resnet34")
    assert loaded.arch == ARCH
    assert f"the weights are {ARCH}, not resnet34" in loaded.notes


def test_hostile_pickle_never_runs(make_checkpoint, tmp_path):
    path = make_checkpoint("hostile", tmp_path / "evil.pth", arch=ARCH)
    marker = Path(f"{path}.marker")
    with pytest.raises(UntrustedCheckpointError) as info:
        load_checkpoint(path)
    assert "builtins" in str(info.value) or "open" in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_whole_pickled_model_needs_trust(make_checkpoint, tmp_path):
    path = make_checkpoint("whole_model", tmp_path / "whole.pth", arch=ARCH)
    with pytest.raises(UntrustedCheckpointError, match="trust"):
        load_checkpoint(path)
    loaded = load_checkpoint(path, trust=True)
    assert loaded.arch == ARCH and loaded.num_classes == 2
    assert any("trusted" in n for n in loaded.notes)
    assert same_outputs(loaded)


def test_imagenet_weights_from_torch_cache(imagenet_cache):
    assert not imagenet_weights_cached(ARCH)
    target = imagenet_cache(ARCH)
    assert target.parent == Path(torch.hub.get_dir()) / "checkpoints"
    assert imagenet_weights_cached(ARCH)
    loaded = load_model(ModelSource.imagenet(ARCH))
    assert loaded.num_classes == 1000 and loaded.class_names[0] == "tench"
    assert loaded.source == "ImageNet weights (MobileNet_V3_Small_Weights.IMAGENET1K_V1)"
    assert same_outputs(loaded, ARCH, 1000)


def test_offline_without_cache_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(imagenet.urllib.request, "urlopen", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        load_model(ModelSource.imagenet("resnet18"))
    message = str(info.value)
    assert message.startswith(
        "Could not download the ImageNet weights for resnet18: no internet connection?"
    )
    assert "Errno" not in message and "name resolution" not in message  # the log has those
    assert "checkpoint" in message and "resnet18-f37072fd.pth" in message  # what to do instead
    assert str(Path(torch.hub.get_dir()) / "checkpoints") in message and "\n" not in message
    assert not imagenet_weights_cached("resnet18")


def test_download_reports_progress_and_writes_atomically(tmp_path, monkeypatch):
    payload = b"x" * (3 * (1 << 20) + 17)

    class Response:
        headers = {"Content-Length": str(len(payload))}

        def __init__(self):
            self.pos = 0

        def read(self, n):
            chunk = payload[self.pos : self.pos + n]
            self.pos += len(chunk)
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(imagenet.urllib.request, "urlopen", lambda url, timeout: Response())
    seen = []
    target = tmp_path / "hub" / "w.pth"
    imagenet.download("https://example.org/w.pth", target, lambda d, t: seen.append((d, t)), 3.0)
    assert target.read_bytes() == payload
    assert seen[-1] == (len(payload), len(payload)) and len(seen) == 4
    bad = tmp_path / "hub" / "resnet-0123abcd.pth"  # hash prefix in the name does not match
    with pytest.raises(CheckpointError, match="corrupted"):
        imagenet.download("https://example.org/resnet-0123abcd.pth", bad, None, None)
    assert not bad.exists()


def test_safetensors_without_module_versions(make_checkpoint, tmp_path):
    """MNASNet reads its layout version from the state_dict's metadata, absent in .safetensors."""
    path = make_checkpoint("safetensors", tmp_path / "m.safetensors", arch="mnasnet0_5")
    loaded = load_checkpoint(path)
    assert loaded.arch == "mnasnet0_5" and loaded.class_names == ["red", "blue"]
    assert same_outputs(loaded, "mnasnet0_5", 2)


def test_lightning_style_prefix_is_unwrapped(tmp_path):
    state = tiny_model(ARCH).state_dict()
    path = tmp_path / "epoch=3.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    loaded = load_checkpoint(path)
    assert loaded.arch == ARCH and "the weights are stored under 'model.'" in loaded.notes
    assert same_outputs(loaded)


def test_thousand_outputs_without_names_use_imagenet_categories(tmp_path):
    path = tmp_path / "finetuned.pt"
    torch.save(tiny_model(ARCH, 1000).state_dict(), path)
    loaded = load_checkpoint(path)
    assert loaded.num_classes == 1000 and loaded.class_names[:2] == ["tench", "goldfish"]
    assert any("ImageNet categories" in note for note in loaded.notes)


def test_save_refuses_a_mislabelled_architecture(tmp_path):
    with pytest.raises(CheckpointError, match="not a resnet18"):
        save_checkpoint(
            tmp_path / "x.pth", tiny_model(ARCH), "resnet18", ["a", "b"], TransformSpec()
        )
    assert not (tmp_path / "x.pth").exists()


def test_a_required_arch_that_does_not_fit_is_refused_or_loaded_partially(
    make_checkpoint, tmp_path
):
    path = make_checkpoint("raw", tmp_path / "r.pth", arch=ARCH)  # mobilenet_v3_small weights
    with pytest.raises(CheckpointError) as info:
        load_model(ModelSource(checkpoint=str(path), arch="mobilenet_v3_large", require_arch=True))
    message = str(info.value)
    assert "does not fit mobilenet_v3_large" in message and f"are {ARCH}" in message
    assert "--allow-partial" in message and "\n" not in message
    source = ModelSource(
        checkpoint=str(path), arch="mobilenet_v3_large", require_arch=True, partial=True
    )
    loaded = load_model(source)
    assert loaded.arch == "mobilenet_v3_large" and loaded.num_classes == 2
    (note,) = [n for n in loaded.notes if n.startswith("partial load")]
    assert "not loaded (random)" in note
    assert not any(n.startswith("the weights are") for n in loaded.notes)
    # a required arch that fits loads normally, with no note about it
    ok = load_model(ModelSource(checkpoint=str(path), arch=ARCH, require_arch=True))
    assert ok.arch == ARCH and not any("partial" in n for n in ok.notes)


def test_a_checkpoints_own_class_names_win_and_an_override_is_loud(make_checkpoint, tmp_path):
    """Reported: a names file from an earlier model silently relabelled the next one (a reversed
    bees/ants file swapped every label, with only a grey line to show for it)."""
    path = make_checkpoint(
        "pigeonhole", tmp_path / "trained.pth", arch=ARCH, classes=("ants", "bees")
    )
    (tmp_path / "classes.txt").write_text("wasps\nflies\n")  # a stale sidecar: never wins
    loaded = load_model(ModelSource(checkpoint=str(path)))
    assert (
        loaded.class_names == ["ants", "bees"] and loaded.names_from == "stored in the checkpoint"
    )
    assert loaded.names_line() == "2 classes: ants, bees (stored in the checkpoint)"
    assert not loaded.overrides_own_names and loaded.warnings == []

    reversed_file = tmp_path / "reversed.txt"
    reversed_file.write_text("bees\nants\n")
    overridden = load_model(ModelSource(checkpoint=str(path), classes_file=str(reversed_file)))
    assert overridden.class_names == ["bees", "ants"] and overridden.overrides_own_names
    (warning,) = overridden.warnings
    assert "reversed.txt (bees, ants)" in warning and "trained.pth (ants, bees)" in warning
    assert "chosen by you" in overridden.names_from
    overridden.use_own_class_names()  # the app's "no" to its question
    assert overridden.class_names == ["ants", "bees"] and overridden.warnings == []


def test_names_beside_a_raw_state_dict_and_the_identity_of_a_model(make_checkpoint, tmp_path):
    path = make_checkpoint("raw", tmp_path / "raw.pth", arch=ARCH)
    (tmp_path / "cls_classes.txt").write_text("left\nright\n")
    loaded = load_model(ModelSource(checkpoint=str(path)))
    assert loaded.class_names == ["left", "right"] and loaded.own_class_names is None
    assert loaded.names_from == "cls_classes.txt beside it"
    one, again = loaded.identity(), loaded.identity()
    assert one == again and one.weights and one.key.startswith(f"{ARCH}:")
    other = load_model(ModelSource(checkpoint=str(path)))
    assert other.identity().key == one.key  # same weights, names, preprocessing: same model
    other.class_names = ["right", "left"]
    assert other.identity().key != one.key  # other names: another model for its results
    with torch.no_grad():
        next(loaded.model.parameters()).add_(1.0)  # weights changed in place
    assert loaded.identity().weights != one.weights
