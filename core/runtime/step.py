"""The device-side steps of a batch, in one place for inference and feature extraction: upload,
normalise, memory format, forward (with out-of-memory back-off) and softmax/top-k.

Every tensor that meets a batch is made on the batch's device. Nothing here reads a tensor's
values, so the whole step also runs on a fake CUDA device (tests/core/fake_cuda.py)."""

from __future__ import annotations

import contextlib
import copy
import logging

import torch
from torch import nn

from ..data.preprocessing import normalize_batch
from ..errors import PigeonholeError
from ..models.archs import TransformSpec
from .plan import RunPlan
from .scores import TopK

log = logging.getLogger(__name__)


def prepare_model(model: nn.Module, plan: RunPlan) -> nn.Module:
    """``model`` ready for the plan's device, dtype and memory format, in eval mode. Off the CPU
    (or in another dtype) it is a copy: the caller's model stays on the CPU in float32."""
    if plan.device.type != "cpu" or plan.model_dtype != torch.float32:
        model = copy.deepcopy(model).to(plan.device, plan.model_dtype)
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if plan.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return model.eval()


def top_k(logits: torch.Tensor, k: int) -> TopK:
    """Softmax top-k of float32 logits, on their device (every engine's last step)."""
    scores, indices = torch.softmax(logits, dim=1).topk(k, dim=1)
    return TopK(scores, indices, logits)


class DeviceStep:
    """Runs a prepared model (see :func:`prepare_model`) on batches of uint8 crops."""

    engine = "torch"

    def __init__(self, model: nn.Module, plan: RunPlan, transform: TransformSpec, note: str = ""):
        self.model = model
        self.plan = plan
        self.transform = transform
        self.note = note  # why torch runs when another engine was chosen, if it was
        self.max_batch = plan.batch_size  # lowered for good after an out-of-memory error

    def to_input(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) anywhere -> the model's input on the plan's device: normalised,
        in the model's dtype and memory format."""
        x = normalize_batch(batch.to(self.plan.device, non_blocking=True), self.transform)
        x = x.to(self.plan.model_dtype)
        if self.plan.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    @property
    def extra_outputs(self) -> tuple[str, ...]:
        """The names of the model's outputs after the logits (core.runtime.explained)."""
        return getattr(self.model, "extra_outputs", ())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model's output for an input batch, float32, on the device."""
        return self.forward_all(x)[0]

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The logits, then the extra outputs, float32, on the device; on CUDA the batch is
        split in halves on out-of-memory (and later batches stay that small)."""
        if x.shape[0] > self.max_batch:
            parts = [self.forward_all(p) for p in x.split(self.max_batch)]
            return tuple(torch.cat(outs) for outs in zip(*parts, strict=True))
        try:
            with torch.inference_mode(), self._autocast():
                out = self.model(x)
        except torch.cuda.OutOfMemoryError:
            if x.shape[0] <= 1:
                raise PigeonholeError(
                    "The GPU ran out of memory even with one image per batch: use a smaller "
                    "model, --precision fp16, or --device cpu."
                ) from None
            torch.cuda.empty_cache()
            self.max_batch = max(1, x.shape[0] // 2)
            log.warning("GPU out of memory: batch size lowered to %d", self.max_batch)
            return self.forward_all(x)
        if isinstance(out, tuple | list):
            out = tuple(out) if self.extra_outputs else (out[0],)
        elif not isinstance(out, torch.Tensor) and hasattr(out, "logits"):
            out = (out.logits,)
        else:
            out = (out,)
        return tuple(o.float() for o in out)

    def classify(self, batch: torch.Tensor, k: int) -> TopK:
        """uint8 crops -> softmax top-k on the device (the extra outputs copied to the host)."""
        logits, *extras = self.forward_all(self.to_input(batch))
        top = top_k(logits, k)
        if not extras:
            return top
        kept = {n: e.cpu().numpy() for n, e in zip(self.extra_outputs, extras, strict=True)}
        return TopK(top.scores, top.indices, top.logits, kept)

    def _autocast(self):
        if self.plan.autocast:
            return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()


def pin(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Page-locked memory for a batch about to be uploaded to a GPU (so the copy can overlap)."""
    return batch.pin_memory() if device.type == "cuda" else batch
