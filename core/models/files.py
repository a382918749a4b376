"""Which files are models: the one list of model suffixes Pigeonhole reads and the one list it
writes, for the command line, the file pickers, the drop zone and the save dialogs alike; and
the class-names files found beside a model. Importing it costs nothing (no torch).

A model file is a torch checkpoint (its content decides how it is read: core.models.formats) or
an ONNX model (core.models.onnx_models), which runs without torch."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError, first_line

#: What a torch checkpoint file may end in.
TORCH_SUFFIXES = (".pth", ".pt", ".pkl", ".safetensors", ".ckpt")
ONNX_SUFFIXES = (".onnx",)
#: What a model file may end in to be offered, dropped or found in the weights folder.
CHECKPOINT_SUFFIXES = TORCH_SUFFIXES + ONNX_SUFFIXES
#: What a trained model may be saved as: ``.safetensors`` in that format, the others torch.save.
SAVE_SUFFIXES = (".pth", ".pt", ".safetensors")


#: Class-name files looked for beside a model (after ``<stem>.txt`` and ``<name>.txt``).
SIDECAR_NAMES = ("classes.txt", "cls_classes.txt")


def is_checkpoint_name(name: str) -> bool:
    """The file name ends in a model suffix, torch checkpoint or ONNX (any case)."""
    return name.lower().endswith(CHECKPOINT_SUFFIXES)


def is_onnx_name(name: str) -> bool:
    """The file name ends in ``.onnx`` (any case): a model that runs without torch."""
    return name.lower().endswith(ONNX_SUFFIXES)


def file_filter(suffixes: tuple[str, ...], what: str) -> str:
    """A file dialog's filter for ``suffixes``: "Checkpoints (*.pth *.pt);;All files (*)"."""
    return f"{what} ({' '.join('*' + s for s in suffixes)});;All files (*)"


def read_class_file(path: str | os.PathLike) -> list[str]:
    """Class names, one per line (blank lines and surrounding spaces ignored)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"Could not read the class names file {path.name}: {first_line(e)}"
        ) from e
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise CheckpointError(f"The class names file {path.name} is empty.")
    return names


def find_sidecar(model: str | os.PathLike, extra: tuple[str, ...] = ()) -> Path | None:
    """``<stem>.txt``, ``<name>.txt``, ``classes.txt`` or ``cls_classes.txt`` (then ``extra``
    names) beside the model file."""
    model = Path(model)
    for name in (f"{model.stem}.txt", f"{model.name}.txt", *SIDECAR_NAMES, *extra):
        candidate = model.with_name(name)
        if candidate.is_file():
            return candidate
    return None
