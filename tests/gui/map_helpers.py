"""Results with embeddings for the "Find similar" and map tests, without a run: generated
images whose embedding is their own 4x4 colour thumbnail (so images alike by eye are alike by
embedding, as with a trained network), fed to the Classify tab's results model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from classify_helpers import CLASSES
from PIL import Image

from pigeonhole.core.data.synthetic import class_image
from pigeonhole.core.results.predictions import Prediction


def pixel_embedding(img: Image.Image) -> np.ndarray:
    """A 48-value float16 vector of ``img``: its 4x4 RGB thumbnail, centred."""
    v = np.asarray(img.convert("RGB").resize((4, 4), Image.Resampling.BOX), np.float32).ravel()
    return (v - v.mean()).astype(np.float16)


def embedded_predictions(
    folder: Path, n: int, write: bool = True, embeddings: bool = True, wrong_every: int = 7
) -> tuple[list[Prediction], list[str]]:
    """``n`` predictions of generated colour images (written to ``folder`` when ``write``;
    else only named there) and each image's true class; every ``wrong_every``-th prediction
    is another class than the image's."""
    folder.mkdir(parents=True, exist_ok=True)
    preds, truths = [], []
    for i in range(n):
        truth = CLASSES[i % len(CLASSES)]
        img = class_image(truth, i, (48, 36))
        path = folder / f"img_{i:05d}.png"
        if write:
            img.save(path)
        said = CLASSES[(i + 1) % len(CLASSES)] if i % wrong_every == 3 else truth
        topk = ((said, 0.8), ("other", 0.2))
        emb = pixel_embedding(img) if embeddings else None
        preds.append(Prediction(i, str(path), said, 0.8, topk, 1.0, 1.0, None, embedding=emb))
        truths.append(truth)
    return preds, truths


def add_results(tab, preds, truths=None) -> None:
    """Give the tab these results, as a run of a model of CLASSES would."""
    tab.results.set_class_names(CLASSES)
    tab.ui.drop_zone.show_content()  # (a run's start shows the grid)
    for start in range(0, len(preds), 64):  # batch by batch
        part = truths[start : start + 64] if truths is not None else None
        tab.results.add_predictions(preds[start : start + 64], part)
