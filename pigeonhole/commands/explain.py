"""`pigeonhole explain IMAGES|FOLDERS --checkpoint CK --out DIR`: why each image got its label.

For each image, ``DIR/<stem>.cam.png`` (the heat map over the photo) and ``DIR/<stem>.cam.npy``
(float32, the image's height x width, values in [0, 1]; 0 where the network saw nothing, such as
pixels the centre crop left out). The method follows the network (core.insight.heatmaps: CAM
for global-average-pooling networks, Grad-CAM for the rest). stdout gets one tab-separated line
per image: path, class, confidence, method, the .png written (or the error)."""

from __future__ import annotations

import sys

from pigeonhole.core.errors import PigeonholeError
from pigeonhole.core.fileio import check_output_folder

from . import model_source, print_preprocessing
from .map_files import write_map_files
from .output import printable, tsv_line
from .predict import check_sources


def run(args) -> int:
    from pigeonhole.core.data.listing import iter_image_files
    from pigeonhole.core.insight.heatmaps import explain_files
    from pigeonhole.core.models.checkpoints import load_model

    out_dir = check_output_folder(args.out, "--out")
    check_sources(args.paths)
    source = model_source(args)
    if not source.is_file and not source.arch:
        raise PigeonholeError("Choose a model: --checkpoint FILE, or --arch NAME --pretrained.")
    loaded = load_model(source)
    if args.class_name is not None and args.class_name not in loaded.class_names:
        names = ", ".join(loaded.class_names[:6]) + (" ..." if len(loaded.class_names) > 6 else "")
        raise PigeonholeError(f"--class {args.class_name!r} is not one of the model's: {names}.")
    print_preprocessing(loaded, sys.stderr)
    files = [str(p) for p in iter_image_files(args.paths)]
    if not files:
        raise PigeonholeError("No images found in " + ", ".join(map(str, args.paths[:3])) + ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    failed = 0
    for e in explain_files(loaded, files, args.class_name):
        if e.values is None:
            failed += 1
            sys.stdout.write(tsv_line((e.path, "-", f"error: {e.error}")))
            continue
        png = write_map_files(out_dir, e, taken)
        row = (e.path, e.class_name, f"{e.confidence:.4f}", e.method, str(png))
        sys.stdout.write(tsv_line(row))
        sys.stdout.flush()
    done = len(files) - failed
    print(f"pigeonhole: explained {done} of {len(files)} images into {printable(str(out_dir))}",
          file=sys.stderr)  # fmt: skip
    return 0
