"""The device half of every pipeline on a fake CUDA device (no GPU needed): every tensor that
meets a batch must be made on the batch's device. FakeTensorMode raises
FakeTensorDeviceMismatchError when a CPU tensor meets a CUDA one, which is the bug that crashed
every NVIDIA user's first batch (normalize_batch made its mean/std on the CPU)."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.vision_transformer import VisionTransformer

from pigeonhole.core.data.preprocessing import normalize_batch
from pigeonhole.core.models.archs import TransformSpec, build_model, head_info
from pigeonhole.core.models.transforms import CP_LETTERBOX
from pigeonhole.core.runtime.fusion import fuse_conv_bn
from pigeonhole.core.runtime.gpu_decode import crop_on_device, upright
from pigeonhole.core.runtime.plan import RunPlan
from pigeonhole.core.runtime.step import DeviceStep
from pigeonhole.core.training.features import _FeatureNet, _HeadInput
from tests.core.fake_cuda import FakeTensorDeviceMismatchError, fake_cuda, to_fake_cuda

SPEC = TransformSpec(resize=72, crop=64)


def cuda_plan(precision: str = "fp16", channels_last: bool = True) -> RunPlan:
    return RunPlan(
        device=torch.device("cuda", 0),
        precision=precision,
        batch_size=4,
        decode_workers=2,
        channels_last=channels_last,
        gpu_decode=True,
        forward_streams=2,
        threads_per_stream=0,
    )


def small_vit(num_classes: int = 3) -> torch.nn.Module:
    """torchvision's VisionTransformer, small enough for a test (64 px, two layers)."""
    torch.manual_seed(0)
    return VisionTransformer(64, 16, 2, 2, 64, 128, num_classes=num_classes).eval()


def cnn(num_classes: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return fuse_conv_bn(build_model("resnet18", num_classes))  # as inference runs it


def fake_batch(mode, n: int = 4) -> torch.Tensor:
    """uint8 crops in (fake) CPU memory, as the decode threads hand them over."""
    return mode.from_tensor(torch.zeros(n, 3, SPEC.crop, SPEC.crop, dtype=torch.uint8))


def test_the_fake_device_catches_a_cpu_constant_meeting_a_cuda_batch():
    with fake_cuda() as mode:
        batch = fake_batch(mode).to("cuda").float()
        with pytest.raises(FakeTensorDeviceMismatchError):
            batch - torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1)  # made on the CPU


def test_normalize_batch_keeps_the_batch_on_its_device():
    with fake_cuda() as mode:
        x = normalize_batch(fake_batch(mode).to("cuda"), SPEC)
        assert x.device.type == "cuda"
        assert x.dtype == torch.float32 and tuple(x.shape) == (4, 3, 64, 64)


@pytest.mark.parametrize("net", ["cnn", "transformer"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_inference_step_runs_on_the_device(net, precision):
    """Upload, normalise, memory format, forward, softmax and top-k: all on the device."""
    model = cnn() if net == "cnn" else small_vit()
    plan = cuda_plan(precision, channels_last=net == "cnn")
    if plan.channels_last:
        model = model.to(memory_format=torch.channels_last)
    with fake_cuda() as mode:
        step = DeviceStep(to_fake_cuda(mode, model, plan.model_dtype), plan, SPEC)
        top = step.classify(fake_batch(mode), k=2)
        x = step.to_input(fake_batch(mode))
    assert x.device.type == "cuda" and x.dtype == plan.model_dtype
    assert x.is_contiguous(memory_format=torch.channels_last) == plan.channels_last
    for t in (top.scores, top.indices, top.logits):
        assert t.device.type == "cuda"
    assert tuple(top.scores.shape) == (4, 2) and top.scores.dtype == torch.float32
    assert tuple(top.logits.shape) == (4, 3) and top.indices.dtype == torch.int64


@pytest.mark.parametrize("net", ["cnn", "transformer"])
def test_feature_step_runs_on_the_device(net):
    """Feature extraction's device half: the same step, a network whose head hands its input
    out (512 features for ResNet-18, the class token's 64 for the small ViT)."""
    model = cnn() if net == "cnn" else small_vit()
    path = head_info("resnet18").path if net == "cnn" else "heads.head"
    model.set_submodule(path, _HeadInput())
    plan = cuda_plan("fp16", channels_last=net == "cnn")
    with fake_cuda() as mode:
        step = DeviceStep(to_fake_cuda(mode, _FeatureNet(model), plan.model_dtype), plan, SPEC)
        feats = step.forward(step.to_input(fake_batch(mode)))
    assert feats.device.type == "cuda" and feats.dtype == torch.float32
    assert tuple(feats.shape) == ((4, 512) if net == "cnn" else (4, 64))


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_gpu_decoding_resize_and_crop_run_on_the_device(orientation):
    """After nvJPEG (which needs a real GPU), everything happens on the device: EXIF
    orientation, antialiased resize, centre crop, then the same step."""
    with fake_cuda() as mode:
        decoded = mode.from_tensor(torch.zeros(3, 90, 120, dtype=torch.uint8)).to("cuda")
        crop = crop_on_device(upright(decoded, orientation), SPEC)
        x = normalize_batch(torch.stack([crop, crop]), SPEC)
    assert crop.device.type == "cuda" and crop.dtype == torch.uint8
    assert tuple(crop.shape) == (3, 64, 64) and x.device.type == "cuda"


@pytest.mark.parametrize(
    "spec",
    [CP_LETTERBOX, TransformSpec(resize=72, crop=64, resize_mode="letterbox", fill=(0, 0, 255)),
     TransformSpec(resize=72, crop=64, resize_mode="exact")],
    ids=["letterbox", "letterbox-crop", "exact"],
)  # fmt: skip
def test_every_resize_rule_runs_on_the_device(spec):
    """The letterbox canvas (and its fill colour) is made on the image's device: a canvas made
    on the CPU would meet the CUDA image here."""
    with fake_cuda() as mode:
        decoded = mode.from_tensor(torch.zeros(3, 90, 160, dtype=torch.uint8)).to("cuda")
        crop = crop_on_device(decoded, spec)
    assert crop.device.type == "cuda" and crop.dtype == torch.uint8
    assert tuple(crop.shape) == (3, spec.crop, spec.crop)


@pytest.mark.parametrize("channels", ["RGB", "BGR"])
def test_range_scaling_and_channel_order_stay_on_the_device(channels):
    spec = TransformSpec.scaled_to(-1, 1, resize=72, crop=64, channels=channels)
    plan, model = cuda_plan("fp16"), cnn().to(memory_format=torch.channels_last)
    with fake_cuda() as mode:
        step = DeviceStep(to_fake_cuda(mode, model, plan.model_dtype), plan, spec)
        top = step.classify(fake_batch(mode), k=2)
    assert top.scores.device.type == "cuda" and tuple(top.scores.shape) == (4, 2)


@pytest.mark.parametrize("net", ["cnn", "transformer"])
def test_the_maps_and_embedding_a_run_keeps_are_made_on_the_device(net):
    """The network with its extra outputs (core.runtime.explained): the CAM of every class
    (the head's weights, a buffer of the wrapper, meet the feature map on the device) and the
    head's input; a transformer (Grad-CAM family) keeps only its embedding."""
    from pigeonhole.core.runtime.explained import Explained

    model = cnn() if net == "cnn" else small_vit()
    arch = "resnet18" if net == "cnn" else "vit_b_16"
    plan = cuda_plan("fp16", channels_last=net == "cnn")
    wrapped = Explained(model, arch)
    with fake_cuda() as mode:
        step = DeviceStep(to_fake_cuda(mode, wrapped, plan.model_dtype), plan, SPEC)
        outs = step.forward_all(step.to_input(fake_batch(mode)))
    assert all(o.device.type == "cuda" and o.dtype == torch.float32 for o in outs)
    if net == "cnn":
        assert step.extra_outputs == ("cam", "embedding")
        assert tuple(outs[1].shape) == (4, 3, 2, 2) and tuple(outs[2].shape) == (4, 512)
    else:
        assert step.extra_outputs == ("embedding",) and tuple(outs[1].shape) == (4, 64)
