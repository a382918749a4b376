"""The model for a classify run, loaded without torch whenever the run would not need it: the
one call the command line's predict and the window's Classify tab make.

* an ``.onnx`` file is loaded by ONNX Runtime (core.models.onnx_models);
* a torch checkpoint whose ONNX export is in the engine cache (core.models.export_index), when
  the run would use ONNX Runtime on the CPU anyway, runs that export, with the names and the
  preprocessing loading it with torch gave;
* anything else is loaded with torch (core.models.checkpoints), and when its run exports it to
  ONNX, :func:`remember_export` notes the file beside the export for the next run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import PigeonholeError
from ..models import export_index
from ..models.cam_targets import maps_from_forward
from ..models.files import is_onnx_name
from ..models.loaded import LoadedModel, ModelSource, weights_version
from ..models.onnx_models import cached_export_fits, load_cached_export, load_onnx
from .kept import CAM_OUTPUT, CLASSMAP_OUTPUT, EMBEDDING_OUTPUT, Keep
from .options import RunOptions
from .plan import onnx_export_would_run

log = logging.getLogger(__name__)


def load_for_run(
    source: ModelSource,
    options: RunOptions | None = None,
    *,
    progress=None,
    keep: Keep | None = None,
) -> LoadedModel:
    """The model ``source`` describes, for a run as ``options`` ask (None: every choice
    automatic): torch-free where it can be (see the module's notes), else loaded with torch.
    ``progress(done, total)`` follows a weights download. ``keep``: the run keeps maps or
    embeddings (core.runtime.kept), so a cached export stands in only if its graph has them.
    Errors are one-line PigeonholeErrors, as :func:`core.models.checkpoints.load_model`'s."""
    if source.is_file and is_onnx_name(source.checkpoint or ""):
        return load_onnx(source)
    if source.is_file:
        loaded = _from_cached_export(source, options or RunOptions(), keep)
        if loaded is not None:
            return loaded
    from ..models.checkpoints import load_model

    return load_model(source, progress=progress)


def _from_cached_export(
    source: ModelSource, options: RunOptions, keep: Keep | None
) -> LoadedModel | None:
    """The checkpoint's cached export when it can stand in for the checkpoint in this run."""
    try:
        cached = export_index.find_export(source.checkpoint or "")
    except OSError:
        return None
    if cached is None or not cached_export_fits(source, cached.facts):
        return None
    if keep and not _has_outputs(cached.facts, keep):
        return None
    if not onnx_export_would_run(str(cached.facts.get("arch", "")), options):
        return None
    loaded = load_cached_export(source, cached)
    if loaded is None:
        log.info("the cached export of %s does not fit this run", source.checkpoint)
        return None
    log.info("%s: running its cached ONNX export %s (no torch)", source.checkpoint, cached.folder)
    return loaded


def _has_outputs(facts: dict, keep: Keep) -> bool:
    """The cached graph outputs what the run keeps (a plain export has the logits only)."""
    outputs = set(facts.get("outputs") or ())
    if keep.embeddings and EMBEDDING_OUTPUT not in outputs:
        return False
    arch = str(facts.get("arch", ""))
    try:
        wants_maps = keep.maps and maps_from_forward(arch)
    except PigeonholeError:
        return False
    return not wants_maps or bool(outputs & {CAM_OUTPUT, CLASSMAP_OUTPUT})


def remember_export(
    loaded: LoadedModel, folder: Path, crop: int, outputs: tuple[str, ...] = ()
) -> None:
    """Note, for the next run, that ``loaded`` (a checkpoint loaded with torch, its weights as
    they came from the file) runs as the export in ``folder``; nothing when it is not from a
    file or its weights changed since (a head trained in place)."""
    facts = loaded.file_facts
    if facts is None or loaded.is_onnx or weights_version(loaded.model) != facts.weights_version:
        return
    entry = {**facts.facts, "weights": loaded.identity().weights, "crop": int(crop),
             "outputs": list(outputs)}  # fmt: skip
    try:
        known = export_index.find_export(loaded.source)
    except OSError:
        known = None
    if known is not None and known.folder == folder and known.facts == entry:
        return
    export_index.remember_export(loaded.source, entry, folder)
