"""What a loaded model is: weights, class names and preprocessing travelling together, where
each came from, and an identity that results can carry (so a result always knows its model).
Also :class:`ModelSource`, the one description of what to load.

The weights are a torch module, or an :class:`OnnxNetwork` (an ONNX file ONNX Runtime runs):
importing this module, and a model of the second kind, never import torch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArchitectureError, CheckpointError
from .archs import get_arch
from .transforms import (
    ASSUMED,
    PreprocessingOverride,
    TransformOrigin,
    TransformSpec,
    preprocessing_line,
)

if TYPE_CHECKING:
    from torch import nn

OWN_NAMES = "stored in the checkpoint"  # LoadedModel.names_from when the file's own names are used


def weights_hash(model: nn.Module) -> str:
    """Hash of every parameter and buffer (names, shapes, values): the same weights, the same
    hash, wherever the file lies."""
    import torch

    h = hashlib.blake2b(digest_size=16)
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def weights_version(model: nn.Module) -> tuple:
    """Changes when any parameter or buffer is replaced or modified in place (cheap: no values
    are read), so what was computed from the weights knows when it is stale."""
    return tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))


@dataclass(frozen=True, slots=True)
class OnnxNetwork:
    """An ONNX classifier graph, the weights of a model that runs without torch (see
    core.models.onnx_models): the file, how it is fed and read, and the hash results know it
    by (the torch weights' :func:`weights_hash` when the file states it, else its content's).
    ``export_folder``: a checkpoint's export folder in the engine cache, when it is one (its
    int8 version is kept there)."""

    path: Path
    weights: str
    input: str
    output: str
    input_size: int | None  # the fixed height and width of its input; None: any
    batch: int | None  # its fixed batch size; None: any
    channels_last: bool  # (N, H, W, 3) input instead of (N, 3, H, W)
    probabilities: bool | None  # its output is softmaxed already (None: told per batch)
    num_classes: int
    export_folder: Path | None = None


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """Which model made a result: architecture, file, weights, class names, preprocessing."""

    arch: str
    source: str
    weights: str  # weights_hash
    class_names: tuple[str, ...]
    preprocessing: str  # its description

    @property
    def key(self) -> str:
        """Equal exactly when two results come from the same model (weights, names and
        preprocessing all the same)."""
        rest = hashlib.blake2b(
            "\n".join([*self.class_names, self.preprocessing]).encode(), digest_size=4
        ).hexdigest()
        return f"{self.arch}:{self.weights[:12]}:{rest}"

    def short(self) -> str:
        """A few words for a person: "resnet18 · colours.pth (3f2a9c1b)"."""
        name = Path(self.source).name if "/" in self.source or "\\" in self.source else self.source
        return f"{self.arch} · {name} ({self.weights[:8]})"

    def to_dict(self) -> dict:
        return {"arch": self.arch, "source": self.source, "weights": self.weights,
                "class_names": list(self.class_names), "preprocessing": self.preprocessing,
                "key": self.key}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelSource:
    """What to load, described once for the CLI and the app alike: a checkpoint file (with an
    optional architecture hint), or an architecture's ImageNet weights (no file).

    With a file, ``arch`` is a lower-priority hint: the architecture the file names comes first,
    then the hint, then what the weights show (see :func:`load_checkpoint`). ``preprocessing``
    is the user's choice, which wins over what the file states or a convention suggests."""

    checkpoint: str | None = None
    arch: str | None = None
    classes_file: str | None = None
    trust: bool = False  # allow a file that needs arbitrary pickle code (the user said so)
    # ``arch`` is a demand, not a hint (the CLI's --arch with --checkpoint): weights that do not
    # fit it are an error, unless ``partial`` loads the tensors that fit and says what did not.
    require_arch: bool = False
    partial: bool = False
    preprocessing: PreprocessingOverride | None = None

    @classmethod
    def imagenet(cls, arch: str) -> ModelSource:
        return cls(arch=arch)

    @classmethod
    def chosen(
        cls,
        checkpoint: str | None = None,
        arch: str | None = None,
        *,
        classes: str | None = None,
        trust: bool = False,
        preprocessing: PreprocessingOverride | str | None = None,
        arch_is_demand: bool = False,
        partial: bool = False,
    ) -> ModelSource:
        """What a person chose, made into a source the same way by the command line, the Model
        panel and the Train tab: ``preprocessing`` is a preset's name or an override (checked
        now, before anything loads); ``arch_is_demand`` makes ``arch`` a demand on the
        checkpoint's weights rather than a hint (the CLI's --arch with --checkpoint)."""
        if isinstance(preprocessing, str):
            preprocessing = PreprocessingOverride(preset=preprocessing)
        checkpoint = str(checkpoint) if checkpoint else None
        return cls(
            checkpoint=checkpoint,
            arch=arch or None,
            classes_file=classes or None,
            trust=bool(trust),
            require_arch=bool(arch_is_demand and checkpoint and arch),
            partial=bool(partial),
            preprocessing=preprocessing,
        )

    @property
    def is_file(self) -> bool:
        return bool(self.checkpoint)

    def describe(self) -> str:
        """A few words for a status line: the file's name, or "resnet18 ImageNet weights"."""
        if self.checkpoint:
            return Path(self.checkpoint).name
        try:
            return f"{get_arch(self.arch or '').display_name} ImageNet weights"
        except ArchitectureError:
            return f"{self.arch} ImageNet weights"


@dataclass(slots=True)
class LoadedModel:
    """Weights, class names and preprocessing, travelling together."""

    model: nn.Module | OnnxNetwork  # torch: eval mode, CPU, float32, head sized for class_names
    arch: str
    class_names: list[str]
    transform: TransformSpec
    source: str  # the file path, or "ImageNet weights (ResNet18_Weights.IMAGENET1K_V1)"
    notes: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    # A copy prepared for inference (conv+BN folded), made once by core.runtime.fusion's
    # fuse_for_inference and carried here so every run of this model reuses it (None until then),
    # with the weights' version it was made from (a head trained in place makes it stale).
    fused: nn.Module | None = None
    fused_from: tuple = ()
    transform_origin: TransformOrigin = ASSUMED  # where ``transform`` came from, and why
    names_from: str = ""  # where ``class_names`` came from, in words
    own_class_names: list[str] | None = None  # the names the checkpoint itself stores, if any
    warnings: list[str] = field(default_factory=list)  # what the person must see, not just notes
    weights_digest: tuple[tuple, str] | None = (
        None  # (weights_version, weights_hash), by identity()
    )
    # What the checkpoint file alone gave (arch, names, preprocessing, notes...) before the
    # person's own choices, with the weights' version then (core.models.export_index keeps
    # it beside the file's ONNX export, so the next run needs no torch); None: not from a file.
    file_facts: dict | None = None

    @property
    def is_onnx(self) -> bool:
        """The weights are an ONNX graph: the model runs on ONNX Runtime, without torch."""
        return isinstance(self.model, OnnxNetwork)

    def require_torch(self, what: str) -> LoadedModel:
        """This model, when its weights are a torch module; else a one-line error saying that
        ``what`` ("Training", "Exporting"...) needs a torch checkpoint."""
        if not self.is_onnx:
            return self
        name = Path(self.source).name
        if not name.lower().endswith(".onnx"):  # a checkpoint, loaded as its cached export
            raise CheckpointError(
                f"{what} needs the torch model: {name} was loaded as its cached ONNX export "
                "(load it again with core.models.checkpoints.load_model)."
            )
        raise CheckpointError(
            f"{what} needs a torch checkpoint (.pth, .pt, .safetensors...): {name} is an ONNX "
            "model, which can only classify."
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def overrides_own_names(self) -> bool:
        """Names from elsewhere replace the ones the checkpoint stores (the app asks first)."""
        return self.own_class_names is not None and self.own_class_names != self.class_names

    def use_own_class_names(self) -> None:
        """Back to the names the checkpoint stores (the person declined the names file)."""
        if self.own_class_names is not None:
            self.class_names = list(self.own_class_names)
            self.names_from = OWN_NAMES
            self.warnings = [w for w in self.warnings if not w.startswith("class names from")]

    def names_line(self, shown: int = 4) -> str:
        """The class names in use and where they came from, for a summary:
        "2 classes: ants, bees (stored in the checkpoint)"."""
        first = ", ".join(self.class_names[:shown])
        more = ", …" if self.num_classes > shown else ""
        where = f" ({self.names_from})" if self.names_from else ""
        return f"{self.num_classes:,} classes: {first}{more}{where}"

    def identity(self) -> ModelIdentity:
        """This model's identity (hashing the weights once, the first time it is asked for)."""
        if isinstance(self.model, OnnxNetwork):
            weights = self.model.weights
        else:
            version = weights_version(self.model)
            if self.weights_digest is None or self.weights_digest[0] != version:
                self.weights_digest = (version, weights_hash(self.model))
            weights = self.weights_digest[1]
        return ModelIdentity(
            self.arch, self.source, weights, tuple(self.class_names), self.transform.describe()
        )

    def override_names(self, names: list[str], file: str, replaced: str) -> None:
        """The person's names file ``file`` replaces the model's names (``replaced`` says
        which, in words): loud when they differ (a stale file silently relabelling a model is
        the worst mistake a labelling tool can make)."""
        before = self.class_names
        self.class_names = names
        self.names_from = f"{file}, chosen by you"
        if names == before:
            self.notes.append(f"class names from {file} (the same as {replaced})")
            return
        shown = lambda xs: ", ".join(xs[:4]) + (", …" if len(xs) > 4 else "")  # noqa: E731
        where = Path(self.source).name if Path(self.source).suffix else "the model"
        self.warnings.append(
            f"class names from {file} ({shown(names)}) replace {replaced} in {where} "
            f"({shown(before)})"
        )

    def choose_preprocessing(
        self, choice: PreprocessingOverride | None, imagenet: TransformSpec | None = None
    ) -> None:
        """Give the model the person's preprocessing ``choice`` (nothing when None);
        ``imagenet``: what the "imagenet" preset means for it (default: its architecture's
        torchvision recipe)."""
        if choice is None:
            return
        if imagenet is None:
            imagenet = get_arch(self.arch).transform
        self.transform, self.transform_origin = choice.choose(
            self.transform, self.transform_origin, imagenet
        )

    def preprocessing_line(self) -> str:
        """The preprocessing and where it came from, in one line for a summary:
        ``preprocessing: classification-pytorch: 224 → crop 224, [-1, 1] (recognised: ...)``."""
        return preprocessing_line(self.transform, self.transform_origin)
