"""ONNX models as first-class models, loaded without torch: an ``.onnx`` file (Pigeonhole's own
export or anyone's classifier), or a torch checkpoint's export found in the engine cache.

Pigeonhole's exports carry their class names, preprocessing, architecture and weights hash in
the file's metadata (:func:`export_metadata` writes them, :func:`load_onnx` reads them). For
another tool's classifier the names come from the person's names file, a file beside the model
(``<stem>.txt``, ``classes.txt``, ``synset.txt``...), a ``labels`` metadata entry, the ImageNet
categories for 1000 outputs, or numbers; its preprocessing from the person's choice, else
ImageNet's recipe for its input size, said to be an assumption.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import __version__
from ..errors import ArchitectureError, CheckpointError, PreprocessingError
from .archs import get_arch, imagenet_category_names
from .export_index import CachedExport, FileFacts, content_hash
from .files import find_sidecar, read_class_file
from .loaded import LoadedModel, ModelSource, OnnxNetwork
from .onnx_graph import GraphInfo, read_graph
from .transforms import ASSUMED, TransformOrigin, TransformSpec

OWN_ONNX_NAMES = "stored in the ONNX file"  # LoadedModel.names_from: the file's own names
FOREIGN_ARCH = "onnx"  # LoadedModel.arch of an ONNX model that does not name its architecture
EXTRA_SIDECARS = ("synset.txt", "labels.txt")
_SYNSET_ID = re.compile(r"^n\d{8}\s+")  # "n01440764 tench, Tinca tinca"
ASSUMED_ONNX = TransformOrigin(
    "assumed", "the ONNX model does not say how its images were prepared; ImageNet's recipe "
    "is the usual one"
)  # fmt: skip


def export_metadata(loaded: LoadedModel) -> dict[str, str]:
    """What travels inside Pigeonhole's exported files, as strings (read back by
    :func:`load_onnx`)."""
    return {
        "class_names": json.dumps(loaded.class_names, ensure_ascii=False),
        "preprocessing": json.dumps(loaded.transform.to_dict()),
        "preprocessing_description": loaded.transform.describe(),
        "arch": loaded.arch,
        "weights": loaded.identity().weights,
        "input": "float32 (N, 3, crop, crop), preprocessed as 'preprocessing' says",
        "output": "logits (N, classes); softmax gives the probabilities",
        "exported_by": f"Pigeonhole {__version__}",
    }


def load_onnx(source: ModelSource) -> LoadedModel:
    """The ``.onnx`` file ``source`` names, with its names and preprocessing (see the module's
    notes); the person's names file and preprocessing apply on top. A file that is not an
    image classifier, or names that do not fit it, are one-line CheckpointErrors."""
    path = Path(source.checkpoint or "")
    if source.partial:
        raise CheckpointError("--allow-partial loads torch checkpoints; this is an ONNX model.")
    graph = read_graph(path)
    meta = graph.metadata
    own = "Pigeonhole" in meta.get("exported_by", "")
    arch = _arch_of(meta.get("arch")) if own else FOREIGN_ARCH
    if source.require_arch and source.arch and get_arch(source.arch).name != arch:
        raise CheckpointError(f"{path.name} is an ONNX model of {arch}, not {source.arch}.")
    notes: list[str] = [] if own else [f"an ONNX model ({graph.producer or 'unknown producer'})"]
    names, names_from, own_names = _names(path, graph, notes)
    transform, origin = _transform(path, graph, arch, notes)
    weights = meta.get("weights") or content_hash(path)
    net = OnnxNetwork(
        path.resolve(), weights, graph.input, graph.output, graph.input_size, graph.batch,
        graph.channels_last, False if own else None, graph.num_classes,
    )  # fmt: skip
    loaded = LoadedModel(net, arch, names, transform, str(path), notes, dict(meta))
    loaded.transform_origin, loaded.names_from, loaded.own_class_names = (
        origin,
        names_from,
        own_names,
    )
    apply_choices(loaded, source, names_from, _imagenet_for(arch, graph.input_size))
    _check_size(loaded, graph.input_size)
    return loaded


def _arch_of(name: str | None) -> str:
    try:
        return get_arch(name or "").name
    except ArchitectureError:
        return FOREIGN_ARCH


def _names(path: Path, graph: GraphInfo, notes: list[str]) -> tuple[list[str], str, list | None]:
    """(names, where from, the file's own names or None), in the order the module states."""
    n = graph.num_classes
    own = _metadata_names(graph.metadata, path.name)
    if own is not None:
        return _check_count(own, n, f"{path.name}'s metadata"), OWN_ONNX_NAMES, own
    sidecar = find_sidecar(path, EXTRA_SIDECARS)
    if sidecar is not None:
        names = [_SYNSET_ID.sub("", line) for line in read_class_file(sidecar)]
        notes.append(f"class names from {sidecar.name} beside the model")
        return _check_count(names, n, sidecar.name), f"{sidecar.name} beside it", None
    if n == 1000:
        notes.append("no class names with the model: using the ImageNet categories (1000 outputs)")
        return list(imagenet_category_names()), "the ImageNet categories (assumed)", None
    notes.append(f"no class names found: using class_0 .. class_{n - 1} (pick a class names file)")
    return [f"class_{i}" for i in range(n)], "numbered: no names found", None


def _metadata_names(meta: dict[str, str], name: str) -> list[str] | None:
    """Names from ``class_names`` (Pigeonhole's) or ``labels`` metadata: a JSON list, a JSON
    {index: name} map, or lines / commas."""
    for key in ("class_names", "labels"):
        text = meta.get(key)
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            sep = "\n" if "\n" in text else ","
            value = [part.strip() for part in text.split(sep) if part.strip()]
        if isinstance(value, dict):
            try:
                value = [v for _, v in sorted(value.items(), key=lambda kv: int(kv[0]))]
            except ValueError:
                raise CheckpointError(
                    f"{name}: the '{key}' metadata is not a list of names."
                ) from None
        if not isinstance(value, list) or not value:
            raise CheckpointError(f"{name}: the '{key}' metadata is not a list of names.")
        return [str(v) for v in value]
    return None


def _check_count(names: list[str], n: int, source: str) -> list[str]:
    if len(names) != n:
        raise CheckpointError(
            f"{source} lists {len(names)} class names but the network has {n} outputs."
        )
    return names


def _imagenet_for(arch: str, size: int | None) -> TransformSpec:
    """ImageNet's recipe for the model: its architecture's, else torchvision's classic one at
    its input size (crop S, resize S / 0.875)."""
    if arch != FOREIGN_ARCH:
        return get_arch(arch).transform
    if size is None or size == 224:
        return TransformSpec(label="ImageNet")
    return TransformSpec(resize=max(size, round(size / 0.875)), crop=size, label="ImageNet")


def _transform(
    path: Path, graph: GraphInfo, arch: str, notes: list[str]
) -> tuple[TransformSpec, TransformOrigin]:
    text = graph.metadata.get("preprocessing")
    if text:
        try:
            return TransformSpec.from_dict(json.loads(text)), TransformOrigin(
                "checkpoint", "saved in the ONNX file"
            )
        except (ValueError, TypeError, AttributeError, PreprocessingError) as e:
            notes.append(f"the preprocessing saved in {path.name} cannot be used ({e}); ignored")
    origin = ASSUMED_ONNX if arch == FOREIGN_ARCH else ASSUMED
    return _imagenet_for(arch, graph.input_size), origin


def apply_choices(
    loaded: LoadedModel, source: ModelSource, names_from: str, imagenet: TransformSpec
) -> None:
    """The person's names file and preprocessing (``source``'s), over what the model has;
    ``imagenet``: what the "imagenet" preset means for it."""
    if source.classes_file:
        name = Path(source.classes_file).name
        names = _check_count(read_class_file(source.classes_file), loaded.num_classes, name)
        loaded.override_names(names, name, f"the names {names_from}")
    loaded.choose_preprocessing(source.preprocessing, imagenet)


def _check_size(loaded: LoadedModel, size: int | None) -> None:
    if size is not None and loaded.transform.crop != size:
        raise PreprocessingError(
            f"{Path(loaded.source).name} takes {size}x{size} images, but the preprocessing "
            f"crops {loaded.transform.crop}x{loaded.transform.crop}: use --crop {size}."
        )


# ---------------------------------------------------------------------------------------------
# A torch checkpoint's export, found in the engine cache (core.models.export_index)


def file_facts(
    loaded: LoadedModel, weights_version: tuple, *, needs_trust: bool, names_set_preprocessing: bool
) -> FileFacts:
    """What loading a checkpoint file gave, before the person's choices, to be kept with its
    export: ``names_set_preprocessing``: a names file's name can change the preprocessing
    (classification-pytorch's convention), so a run given one takes torch's path."""
    facts = {
        "arch": loaded.arch,
        "class_names": list(loaded.class_names),
        "names_from": loaded.names_from,
        "own_class_names": loaded.own_class_names,
        "transform": loaded.transform.to_dict(),
        "origin": [loaded.transform_origin.kind, loaded.transform_origin.reason],
        "notes": list(loaded.notes),
        "warnings": list(loaded.warnings),
        "metadata": json.loads(json.dumps(loaded.metadata, default=str)),
        "needs_trust": bool(needs_trust),
        "names_set_preprocessing": bool(names_set_preprocessing),
    }
    return FileFacts(facts, weights_version)


def cached_export_fits(source: ModelSource, facts: dict) -> bool:
    """Whether the person's choices leave the checkpoint's facts as they were (when in doubt,
    no: torch loads the file)."""
    if source.partial or (facts.get("needs_trust") and not source.trust):
        return False
    if source.classes_file and facts.get("names_set_preprocessing"):
        return False
    if source.arch:
        try:
            if get_arch(source.arch).name != facts.get("arch"):
                return False
        except ArchitectureError:
            return False
    return bool(facts.get("weights")) and bool(facts.get("class_names"))


def load_cached_export(source: ModelSource, cached: CachedExport) -> LoadedModel | None:
    """The checkpoint ``source`` names as its cached export: the names and preprocessing it
    had when loaded with torch, then the person's names file and preprocessing (whose errors
    are theirs: raised as torch's path raises them). Returns None when the entry cannot stand
    in for the file (unreadable, or another input size): the caller loads it with torch."""
    f = cached.facts
    try:
        names = [str(n) for n in f["class_names"]]
        transform = TransformSpec.from_dict(f["transform"])
        origin = TransformOrigin(*f["origin"])
        crop = int(f["crop"])
    except (KeyError, TypeError, ValueError, PreprocessingError):
        return None
    net = OnnxNetwork(
        cached.folder / "fp32.onnx", str(f["weights"]), "input", "output", crop, None, False,
        False, len(names), cached.folder,
    )  # fmt: skip
    loaded = LoadedModel(
        net, str(f["arch"]), names, transform, str(source.checkpoint),
        list(f.get("notes") or []), dict(f.get("metadata") or {}),
    )  # fmt: skip
    loaded.transform_origin, loaded.names_from = origin, str(f.get("names_from", ""))
    loaded.own_class_names = f.get("own_class_names")
    loaded.warnings = list(f.get("warnings") or [])
    apply_choices(loaded, source, loaded.names_from, get_arch(loaded.arch).transform)
    return loaded if loaded.transform.crop == crop else None
