"""What `pigeonhole predict` writes besides the labels, from the same forward pass
(core.runtime.kept): ``--explain DIR`` (each image's heat map, as `pigeonhole explain` writes
them) and ``--features FILE`` (each image's embedding with its path).

A network whose maps need gradients (Grad-CAM: ViT, VGG, MobileNetV3...) has no map in the
pass: its maps are computed per batch on torch, as `explain` does; an ONNX model of such a
network has none, and the run says so once."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pigeonhole.core.errors import ImageLoadError
from pigeonhole.core.fileio import check_output_folder
from pigeonhole.core.runtime.kept import Keep

from .map_files import write_map_files
from .output import printable


def kept_request(args) -> Keep | None:
    """What the run keeps for --explain / --features (None: neither asked). The CLI hands
    every batch's maps on as it comes, so it sets no memory budget beyond what --out holds."""
    if not (args.explain or args.features):
        return None
    return Keep(maps=bool(args.explain), embeddings=bool(args.features), budget_bytes=2**62)


def check_kept_outputs(args) -> tuple[Path | None, Path | None]:
    """--explain's folder and --features' file, refused before the model loads."""
    from pigeonhole.core.results.features_file import check_features_file

    folder = check_output_folder(args.explain, "--explain") if args.explain else None
    features = check_features_file(args.features) if args.features else None
    return folder, features


class KeptWriter:
    """Writes each batch's maps as it comes; gathers the embeddings for one file at the end."""

    def __init__(self, loaded, explain_dir: Path | None, features: Path | None):
        self.loaded, self.explain_dir, self.features = loaded, explain_dir, features
        self.paths: list[str] = []
        self.vectors: list[np.ndarray] = []
        self.taken: set[str] = set()
        self.explained = self.without_map = self.missing_embedding = 0
        if explain_dir is not None:
            explain_dir.mkdir(parents=True, exist_ok=True)

    def take(self, predictions) -> None:
        ok = [p for p in predictions if p.ok]
        if self.features is not None:
            for p in ok:
                if p.embedding is None:
                    self.missing_embedding += 1
                else:
                    self.paths.append(p.path)
                    self.vectors.append(p.embedding)
        if self.explain_dir is not None:
            self._explain(ok)

    def _explain(self, predictions) -> None:
        from pigeonhole.core.data.images import load_image
        from pigeonhole.core.insight.heatmap_pixels import kept_explanation

        later = []
        for p in predictions:
            if p.maps is None:
                later.append(p.path)
                continue
            try:
                image = load_image(p.path)
            except ImageLoadError:
                continue  # it was read a moment ago: gone or changed since; its row says so
            e = kept_explanation(p, image, self.loaded.transform, self.loaded.class_names)
            self._write(e)
        if later:
            self._on_demand(later)

    def _on_demand(self, paths: list[str]) -> None:
        """Grad-CAM families: their maps need gradients, so torch computes them here."""
        if self.loaded.is_onnx:
            self.without_map += len(paths)
            return
        from pigeonhole.core.insight.heatmaps import explain_files

        for e in explain_files(self.loaded, paths):
            if e.values is not None:
                self._write(e)

    def _write(self, e) -> None:
        write_map_files(self.explain_dir, e, self.taken)
        self.explained += 1

    def finish(self, stream=None) -> None:
        """Write the features file; say what was written and what could not be."""
        stream = stream or sys.stderr
        if self.explain_dir is not None:
            print(
                f"pigeonhole: wrote {self.explained} heat maps to "
                f"{printable(str(self.explain_dir))}",
                file=stream,
            )
            if self.without_map:
                print(
                    f"pigeonhole: warning: {self.without_map} images have no heat map: "
                    f"{self.loaded.arch}'s maps need gradients (Grad-CAM), which an ONNX model "
                    "cannot give; run the torch checkpoint, or `pigeonhole explain`",
                    file=stream,
                )
        if self.features is not None:
            from pigeonhole.core.results.features_file import write_features

            vectors = np.stack(self.vectors) if self.vectors else np.zeros((0, 0), np.float32)
            write_features(self.features, self.paths, vectors)
            print(
                f"pigeonhole: wrote {len(self.paths)} embeddings "
                f"({vectors.shape[1] if vectors.ndim == 2 else 0} values each) to "
                f"{printable(str(self.features))}",
                file=stream,
            )
            if self.missing_embedding:
                print(
                    f"pigeonhole: warning: {self.missing_embedding} images have no embedding "
                    "(an ONNX model file that Pigeonhole did not export has none)",
                    file=stream,
                )
