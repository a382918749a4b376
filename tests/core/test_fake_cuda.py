"""The device half of the pipelines on a fake CUDA device (no GPU needed): every tensor that
meets a batch must be made on the batch's device."""

from __future__ import annotations

import torch

from pigeonhole.core.images import normalize_batch
from pigeonhole.core.models.archs import TransformSpec
from tests.core.fake_cuda import fake_cuda

SPEC = TransformSpec(resize=72, crop=64)


def test_normalize_batch_keeps_the_batch_on_its_device():
    with fake_cuda() as mode:
        batch = mode.from_tensor(torch.zeros(4, 3, 64, 64, dtype=torch.uint8)).to("cuda")
        x = normalize_batch(batch, SPEC)
        assert x.device.type == "cuda"
        assert x.dtype == torch.float32 and tuple(x.shape) == (4, 3, 64, 64)
