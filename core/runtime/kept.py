"""What a run keeps of each image besides its label, from the same forward pass (no torch
here: ONNX Runtime runs keep them too): the embedding (the vector the classification layer
sees, float16) and class-activation maps (uint8 on the last feature map's grid, each scaled to
its own peak; see core.results.predictions.KeptMaps).

Memory: every class's map is kept when the model has at most ``ALL_MAPS_UP_TO`` classes (a
person's own model: "why not this class" for any class), else the image's top classes'
(ImageNet's 1000: another class's map is computed on demand). Per image, ResNet-18 (7x7 grid):
a 10-class model keeps 10x49 B of maps + 512x2 B of embedding = 1.5 KB, 75 MB for 50,000
images; ImageNet's top 5: 1.3 KB. A run stops keeping once ``Keep.budget_bytes`` is spent and
says so (:attr:`Keeper.dropped`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..results.predictions import KeptMaps

CAM_OUTPUT, CLASSMAP_OUTPUT, EMBEDDING_OUTPUT = "cam", "classmap", "embedding"
#: With more than ALL_MAPS_UP_TO classes the graph makes only its TOP_MAPS best classes' maps
#: (best first) and says which in this output: 1000 maps per image cost ResNet-50 ~5 % of its
#: throughput, 5 cost nothing measurable.
CAM_CLASSES_OUTPUT = "cam_classes"
EXTRA_OUTPUTS = (CAM_OUTPUT, CLASSMAP_OUTPUT, CAM_CLASSES_OUTPUT, EMBEDDING_OUTPUT)
MAP_METHODS = {CAM_OUTPUT: "CAM", CLASSMAP_OUTPUT: "class map"}
ALL_MAPS_UP_TO = 32
TOP_MAPS = 5
DEFAULT_BUDGET = 1 << 30  # 1 GiB: ~700,000 images of a 10-class ResNet-18


@dataclass(frozen=True, slots=True)
class Keep:
    """What a run keeps: ``maps``, ``embeddings``, within ``budget_bytes`` in all."""

    maps: bool = True
    embeddings: bool = True
    budget_bytes: int = DEFAULT_BUDGET

    def __bool__(self) -> bool:
        return self.maps or self.embeddings


#: What the window keeps of every run (its preview and grid draw maps, "Find similar" and the
#: map of the folder read embeddings): both, within the default budget.
APP_KEEP = Keep()


def normalised_maps(maps: np.ndarray) -> np.ndarray:
    """Maps (..., h, w) as the person sees them, in [0, 1]: ReLU, then each divided by its
    peak. A map with no positive evidence at all (Grad-CAM on an untrained transformer does
    it) is spread from its minimum to its maximum instead, so it still shows where the score
    is least negative."""
    m = np.asarray(maps, dtype=np.float32)
    flat = m.reshape(*m.shape[:-2], -1)
    peak = flat.max(-1)[..., None, None]
    low = flat.min(-1)[..., None, None]
    positive = np.clip(m, 0, None) / np.maximum(peak, 1e-12)
    spread = (m - low) / np.maximum(peak - low, 1e-12)
    return np.where(peak > 0, positive, spread).astype(np.float32)


def quantised(maps: np.ndarray) -> np.ndarray:
    """Maps in [0, 1] as uint8 (255 = peak): a map is drawn, never computed with, again."""
    return np.rint(normalised_maps(maps) * 255).astype(np.uint8)


class Keeper:
    """Turns a batch's extra outputs into each image's (embedding, KeptMaps), counting the bytes
    kept against the budget. Used by the forward threads: one batch at a time each, and the
    count is only a budget (a race costs a few images' worth)."""

    def __init__(self, keep: Keep, classes: int):
        self.keep = keep
        self.all_classes = classes <= ALL_MAPS_UP_TO
        self.used = 0
        self.images = 0  # images whose extras were kept: ``used / images`` is one's cost
        self.dropped = 0  # images whose extras were not kept: the budget was spent

    def rows(self, extras: dict[str, np.ndarray], top: np.ndarray) -> list[tuple]:
        """(embedding or None, KeptMaps or None) per row; ``top``: (N, k) class indices. The
        whole batch is converted at once (a Python loop per image cost more than the maps)."""
        n = len(top)
        if self.used >= self.keep.budget_bytes:
            self.dropped += n
            return [(None, None)] * n
        emb = extras.get(EMBEDDING_OUTPUT) if self.keep.embeddings else None
        emb = np.asarray(emb, dtype=np.float16) if emb is not None else None
        name = next((k for k in (CAM_OUTPUT, CLASSMAP_OUTPUT) if k in extras), None)
        maps: list = [None] * n
        if self.keep.maps and name is not None:
            values, classes = self._picked(extras, name, np.asarray(top))
            maps = [
                KeptMaps(v, tuple(c), MAP_METHODS[name])
                for v, c in zip(values, classes, strict=True)
            ]
        out = [(emb[r] if emb is not None else None, maps[r]) for r in range(n)]
        self.used += (emb.nbytes if emb is not None else 0) + sum(m.nbytes for m in maps if m)
        self.images += n
        return out

    def _picked(self, extras: dict, name: str, top: np.ndarray) -> tuple[list, list]:
        """Per row, the maps kept (quantised, (k, h, w)) and their classes: every class's up to
        ALL_MAPS_UP_TO; else the run's top-k's, taken from those the graph made
        (:data:`CAM_CLASSES_OUTPUT`; a class it did not make, beyond its TOP_MAPS or by a tie
        of two scores, is left out) or from a graph that made every class's map."""
        maps = np.asarray(extras[name])
        made = extras.get(CAM_CLASSES_OUTPUT)
        if made is None and self.all_classes:
            return list(quantised(maps)), [range(maps.shape[1])] * len(maps)
        if made is None:
            return list(quantised(np.take_along_axis(maps, top[:, :, None, None], 1))), top.tolist()
        match = top[:, :, None] == np.asarray(made).astype(int)[:, None, :]  # (N, k, made)
        slots, found = match.argmax(2), match.any(2)
        values = quantised(np.take_along_axis(maps, slots[:, :, None, None], 1))
        return [v[f] for v, f in zip(values, found, strict=True)], [
            t[f].tolist() for t, f in zip(top, found, strict=True)
        ]
