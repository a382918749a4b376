"""Architecture identification from key names and shapes (meta tensors: no memory, no init)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torchvision

from pigeonhole.core.errors import CheckpointError
from pigeonhole.core.fileio import cache_dir
from pigeonhole.core.models import identify
from pigeonhole.core.models.archs import (
    IdentityHint,
    arch_names,
    build_meta_model,
    get_arch,
    head_info,
    list_archs,
)
from pigeonhole.core.models.identify import (
    closest_arch,
    hint_of,
    identify_arch,
    mismatch,
    signature,
)


def meta_state(arch: str, num_classes: int = 5) -> dict[str, torch.Tensor]:
    return dict(build_meta_model(arch, num_classes).state_dict())


@pytest.mark.parametrize(
    "arch",
    [
        "resnet18",
        "resnet34",
        "resnet50",
        "resnext50_32x4d",
        "wide_resnet50_2",
        "vgg16",
        "vgg16_bn",
        "mobilenet_v2",
        "squeezenet1_1",
        "vit_b_32",
        "regnet_y_1_6gf",
        "efficientnet_b1",
    ],
)
def test_identifies_close_relatives(arch):
    assert identify_arch(meta_state(arch, 7)) == arch


def test_wrappers_aux_heads_and_missing_batchnorm_counters():
    with torch.device("meta"):
        full = torchvision.models.inception_v3(num_classes=4, aux_logits=True, init_weights=False)
    state = {f"module.{k}": v for k, v in full.state_dict().items()}
    assert any("AuxLogits" in k for k in state)
    assert identify_arch(state) == "inception_v3"
    old_style = {k: v for k, v in meta_state("resnet50").items() if "num_batches_tracked" not in k}
    assert identify_arch(old_style) == "resnet50"


def test_unknown_weights_are_refused_with_a_description():
    with pytest.raises(CheckpointError, match="No known architecture"):
        identify_arch({"encoder.weight": torch.zeros(3, 3), "decoder.weight": torch.zeros(3, 3)})
    with pytest.raises(CheckpointError, match="no weight tensors"):
        identify_arch({})


def test_mismatch_names_first_difference():
    state = meta_state("resnet50")
    assert mismatch(state, "resnet50") is None
    problem = mismatch(state, "resnext50_32x4d")
    assert problem == (
        "layer1.0.conv1.weight has shape [64, 64, 1, 1] in the file but [128, 64, 1, 1] "
        "in resnext50_32x4d"
    )
    assert mismatch(meta_state("vgg16"), "vgg16_bn").startswith("features.1.weight is in vgg16_bn")
    assert closest_arch(state | {"layer1.0.conv2.weight": torch.zeros(1, 1)}) in ("resnet50",)


def test_candidate_table_matches_this_torchvision():
    """Every architecture up to 30M parameters (the big ones cost seconds of meta building
    and follow the same code paths) identifies as itself, and its table row is right."""
    names = arch_names()
    assert all(get_arch(n).identity_hint is not None for n in names)  # shipped for this one
    small = [s.name for s in list_archs() if (s.params or 0) < 30_000_000]
    assert len(small) > 35
    for name in small:
        keys = [k for k, _ in signature(name)]
        assert get_arch(name).identity_hint == hint_of(keys), name
        state = {k: torch.empty(shape, device="meta") for k, shape in signature(name)}
        for key in (f"{head_info(name).path}.weight", f"{head_info(name).path}.bias"):
            if key in state:  # a 3-class head
                state[key] = torch.empty((3, *state[key].shape[1:]), device="meta")
        assert identify_arch(state) == name, name


def test_hints_are_computed_and_cached_for_another_torchvision(monkeypatch):
    """Records without a shipped hint (another torchvision) get one computed, kept on disk."""
    unhinted = [dataclasses.replace(s, identity_hint=None) for s in list_archs()]
    monkeypatch.setattr(identify, "list_archs", lambda: unhinted)
    monkeypatch.setattr(
        identify, "signature", lambda name: (("a.weight", (1,)), (f"{name}.b", (2,)))
    )
    identify._computed_hints.cache_clear()
    try:
        table = identify.identity_hints()
        assert table["resnet18"] == IdentityHint(2, "a.weight", "resnet18.b")
        stored = list(cache_dir().glob("arch-hints-torchvision-*.json"))
        assert len(stored) == 1
        identify._computed_hints.cache_clear()
        monkeypatch.setattr(identify, "signature", None)  # now read back from the cache file
        assert identify.identity_hints() == table
    finally:
        identify._computed_hints.cache_clear()
