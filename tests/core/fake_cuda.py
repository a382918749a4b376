"""A fake CUDA device on a CPU-only machine, for tests of the device half of every pipeline.

Inside :func:`fake_cuda`, tensors made with ``mode.from_tensor(t).to("cuda")`` live on a fake
``cuda`` device: they carry a device, shape and dtype but no data, and any operation mixing them
with a CPU tensor raises ``FakeTensorDeviceMismatchError`` (the bug class "a constant made on the
CPU meets a batch on the GPU"). Values cannot be read, so tests assert devices, shapes and dtypes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch._subclasses.fake_tensor import (
    FakeTensorDeviceMismatchError,
    FakeTensorMode,
    unset_fake_temporarily,
)

__all__ = ["FakeTensorDeviceMismatchError", "fake_cuda", "to_fake_cuda"]


@contextlib.contextmanager
def fake_cuda() -> Iterator[FakeTensorMode]:
    """A FakeTensorMode that refuses real (non-fake) tensors as inputs."""
    with FakeTensorMode(allow_non_fake_inputs=False) as mode:
        yield mode


def to_fake_cuda(
    mode: FakeTensorMode, model: nn.Module, dtype: torch.dtype | None = None
) -> nn.Module:
    """Move ``model`` (in place) to the fake CUDA device: its state is converted and assigned,
    because ``module.to("cuda")`` fails inside the mode. ``dtype`` casts floating tensors."""
    with unset_fake_temporarily():  # the real tensors are read outside the mode
        real = {k: v.detach() for k, v in model.state_dict().items()}
    state = {}
    for key, value in real.items():
        fake = mode.from_tensor(value)
        if dtype is not None and value.is_floating_point():
            state[key] = fake.to("cuda", dtype)
        else:
            state[key] = fake.to("cuda")
    model.load_state_dict(state, assign=True)
    return model
