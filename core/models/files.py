"""Which files are models: the one list of checkpoint suffixes Pigeonhole reads and the one list
it writes, for the command line, the file pickers, the drop zone and the save dialogs alike.
Importing it costs nothing (no torch)."""

from __future__ import annotations

#: What a checkpoint file may end in to be offered, dropped or found in the weights folder
#: (the content decides how it is read: core.models.formats).
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".pkl", ".safetensors", ".ckpt")
#: What a trained model may be saved as: ``.safetensors`` in that format, the others torch.save.
SAVE_SUFFIXES = (".pth", ".pt", ".safetensors")


def is_checkpoint_name(name: str) -> bool:
    """The file name ends in a checkpoint suffix (any case)."""
    return name.lower().endswith(CHECKPOINT_SUFFIXES)


def file_filter(suffixes: tuple[str, ...], what: str) -> str:
    """A file dialog's filter for ``suffixes``: "Checkpoints (*.pth *.pt);;All files (*)"."""
    return f"{what} ({' '.join('*' + s for s in suffixes)});;All files (*)"
