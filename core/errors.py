"""Error types raised by core, with messages written for the person using the app.

The GUI shows ``str(error)``; the CLI prints it on one line and exits non-zero.
"""


class PigeonholeError(Exception):
    """Base class: anything core expects to go wrong with user input."""


class ArchitectureError(PigeonholeError):
    """Unknown architecture name, or a model that cannot be built."""


class CheckpointError(PigeonholeError):
    """A checkpoint file that cannot be loaded (corrupt, unsafe, wrong architecture...)."""


class UntrustedCheckpointError(CheckpointError):
    """The file needs arbitrary pickle globals; it loads only if the user trusts it."""


class WeightsUnavailableError(CheckpointError):
    """Pretrained weights are not cached and cannot be downloaded (offline)."""


class PreprocessingError(PigeonholeError):
    """Preprocessing settings that cannot work (a crop larger than the resize, a zero std...)."""


class ImageLoadError(PigeonholeError):
    """One image could not be read or decoded; becomes a failed result row, never a crash."""


class DataError(PigeonholeError):
    """A dataset folder that cannot be used (no images, fewer than two classes...)."""


class OutputPathError(PigeonholeError):
    """An output file or folder that cannot be written (checked before the work starts)."""


class TrainingDiverged(PigeonholeError):
    """The training loss became NaN or infinite: nothing worth keeping was learned."""


class Cancelled(PigeonholeError):
    """Long work stopped because the user asked."""


class EngineError(PigeonholeError):
    """An engine cannot run this model (it does not export to ONNX, ONNX Runtime refuses it):
    the run falls back to torch and says why."""


def first_line(error: BaseException, limit: int = 200, *, typed: bool = False) -> str:
    """The first line of ``error``'s message, at most ``limit`` characters, or its type's name
    when the message is empty: one reason for a row, a log line or a wrapping error's text.

    ``typed`` puts the type's name in front (``RuntimeError: boom``), for errors nobody expected.
    """
    lines = str(error).strip().splitlines()
    name = type(error).__name__
    if not lines:
        return name
    text = lines[0][:limit]
    return f"{name}: {text}" if typed else text


class ClusterError(PigeonholeError):
    """A run on a Ray cluster could not start or go on: Ray missing, no cluster to join, the
    cluster refused us (its token), a source it cannot read."""
