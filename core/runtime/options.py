"""A run request: how the person asked a run to go (device, engine, precision, JPEG decoding,
batch size, decode threads, forward streams, torch threads), as one typed value made once by
the command line, the Classify tab or the Train tab and planned once (core.runtime.plan).

It holds the one copy of each choice list, with the words a person reads for each choice, so
`pigeonhole predict --help`, the Model panel's lists and the planner never disagree. Importing
it costs nothing: no torch (the torch-free classify path and argument errors use it)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..errors import PigeonholeError

AUTO = "auto"
INT8 = "int8"  # opt-in, CPU only: ONNX Runtime's static int8, calibrated on the user's images


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of a choice list: what a run is given (``spec``) and what a person reads."""

    spec: str
    label: str


#: Floating-point precisions (training takes these); runs may also ask for int8.
PRECISIONS = (
    Choice(AUTO, "Automatic"),
    Choice("fp32", "fp32"),
    Choice("fp16", "fp16"),
    Choice("bf16", "bf16"),
)
RUN_PRECISIONS = (*PRECISIONS, Choice(INT8, "Fast (int8)"))
ENGINES = (
    Choice(AUTO, "Automatic"),
    Choice("torch", "PyTorch"),
    Choice("onnxruntime", "ONNX Runtime"),
)
DECODES = (Choice(AUTO, "Automatic"), Choice("cpu", "CPU (Pillow)"), Choice("gpu", "GPU (nvJPEG)"))

DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps"
PRECISION_HELP = (
    "auto (fp16 on CUDA, fp32 on the CPU), fp32, fp16, bf16, or int8: CPU only, calibrated once "
    "on your images, its agreement with fp32 shown first"
)
ENGINE_HELP = (
    "what runs the network on the CPU: auto (ONNX Runtime where it is faster, exported once "
    "per model), torch or onnxruntime; GPUs always use torch"
)
DECODE_HELP = "where JPEGs are decoded: auto (the GPU on CUDA), cpu (Pillow) or gpu (nvJPEG)"

#: Upper bounds of the numeric choices (0 = automatic): wide enough for any real use, narrow
#: enough that no value can exhaust memory before a check deeper down would catch it.
MAX_BATCH = 4096
MAX_WORKERS = 256


def specs(choices: tuple[Choice, ...]) -> tuple[str, ...]:
    """The specs of a choice list, in order (argparse's ``choices=``)."""
    return tuple(c.spec for c in choices)


def _check_choice(name: str, value: str, choices: tuple[Choice, ...]) -> str:
    value = (value or AUTO).strip().lower()
    if value not in specs(choices):
        raise PigeonholeError(f"Unknown {name} '{value}': use {', '.join(specs(choices))}.")
    return value


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run was asked to go; "auto" and 0 mean "choose for this machine". Made valid on
    construction (a bad choice is a PigeonholeError naming it), so every holder of one can
    trust it; :func:`core.runtime.plan.plan_run` turns it into the run's plan."""

    device: str = AUTO  # auto, cpu, cuda, cuda:N, mps (checked against the machine when planned)
    engine: str = AUTO
    precision: str = AUTO
    decode: str = AUTO
    batch_size: int = 0
    workers: int = 0  # decode threads
    streams: int = 0  # batches in the forward pass at once
    threads: int = 0  # torch's intra-op threads for the run (0 = the process's setting)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise the spellings once, here
        set_(self, "device", (self.device or AUTO).strip().lower())
        set_(self, "engine", _check_choice("engine", self.engine, ENGINES))
        set_(self, "precision", _check_choice("precision", self.precision, RUN_PRECISIONS))
        set_(self, "decode", _check_choice("decode", self.decode, DECODES))
        limits = {"batch_size": MAX_BATCH, "workers": MAX_WORKERS, "streams": 64, "threads": 1024}
        for name, high in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
                raise PigeonholeError(
                    f"{name.replace('_', ' ').capitalize()} must be a whole number from 0 "
                    f"(automatic) to {high}, not {value!r}."
                )

    def as_dict(self) -> dict[str, object]:
        """The choices by name (what the app remembers in its settings)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: dict) -> RunOptions:
        """From remembered settings: unknown keys are ignored, a bad value is the default."""
        known = {f.name for f in fields(cls)}
        out = cls()
        for key, value in values.items():
            if key in known:
                try:
                    out = replace(out, **{key: value})
                except PigeonholeError:
                    continue  # a setting from another version or machine: keep the default
        return out
