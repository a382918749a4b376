"""Each image's embedding (the vector the classification layer sees) when a run did not keep
it: extracted once through the feature cache that training uses, so a second audit or
duplicate search over the same folder with the same network reads them back in seconds."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

from ..models.loaded import LoadedModel
from ..runtime.options import RunOptions
from ..tasks import StopFlag
from ..training.feature_cache import FeatureCache
from ..training.features import ExtractionOutput, FeatureExtractor, FeatureJob


def extract_embeddings(
    base: LoadedModel,
    files: Sequence[str | Path],
    options: RunOptions | None = None,
    *,
    use_cache: bool = True,
    should_stop: StopFlag = None,
    progress=None,
) -> Generator[object, None, ExtractionOutput]:
    """Generator: yields ExtractionProgress; returns the features of the readable files
    (``output.jobs[k].index`` is the position in ``files`` of row k; unreadable ones are in
    ``output.skipped``). ``base``'s own head is left in place afterwards."""
    extractor = FeatureExtractor(base.model, base.arch, base.transform, options)
    try:
        cache = FeatureCache(extractor.key) if use_cache else None
        jobs = [FeatureJob(i, Path(f), 0) for i, f in enumerate(files)]
        return (
            yield from extractor.extract(
                jobs, cache=cache, should_stop=should_stop, progress=progress
            )
        )
    finally:
        extractor.restore_head()
