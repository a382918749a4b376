"""Training data layouts: find the classes and split them into train and validation sets.

Two layouts are recognised:

* ``DATA/train/<class>/...`` with ``DATA/val`` (or ``valid``, ``validation``, ``test``) holding
  the same class folders: the split is the user's;
* ``DATA/<class>/...``: each class is split (stratified, seeded) by ``val_split``.

``plan_dataset`` returns a :class:`DatasetPlan` listing every image with its label, the per-class
counts and human warnings (tiny classes, imbalance). Non-image files are ignored and counted;
undecodable images are found (and skipped) later, when their features are extracted.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError

TRAIN_NAMES = ("train", "training")
VAL_NAMES = ("val", "valid", "validation", "test")
MIN_PER_CLASS = 5  # fewer training images than this earns a warning
IMBALANCE_RATIO = 5.0  # largest / smallest class above this earns a warning


@dataclass(frozen=True, slots=True)
class Sample:
    path: Path
    label: int


@dataclass(frozen=True, slots=True)
class ClassCount:
    name: str
    train: int
    val: int

    @property
    def total(self) -> int:
        return self.train + self.val


@dataclass(slots=True)
class DatasetPlan:
    """What will be trained on: classes, the two splits, and what to tell the user first."""

    root: Path
    layout: str  # "train/val folders" | "class folders (split N%)"
    class_names: list[str]
    train: list[Sample]
    val: list[Sample]
    warnings: list[str] = field(default_factory=list)
    ignored: int = 0  # non-image files seen
    train_dir: Path | None = None
    val_dir: Path | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def counts(self) -> list[ClassCount]:
        tr = [0] * self.num_classes
        va = [0] * self.num_classes
        for s in self.train:
            tr[s.label] += 1
        for s in self.val:
            va[s.label] += 1
        return [ClassCount(n, tr[i], va[i]) for i, n in enumerate(self.class_names)]

    def summary(self) -> dict:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "classes": {c.name: {"train": c.train, "val": c.val} for c in self.counts()},
            "train_images": len(self.train),
            "val_images": len(self.val),
        }


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _subdirs(folder: Path) -> list[Path]:
    try:
        entries = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError as e:
        raise DataError(f"Cannot read the folder {folder}: {e.strerror or e}.") from e
    return sorted(entries, key=lambda p: _natural(p.name))


def _find_named(folder: Path, names: tuple[str, ...]) -> Path | None:
    by_name = {p.name.lower(): p for p in _subdirs(folder)}
    for n in names:
        if n in by_name:
            return by_name[n]
    return None


def detect_layout(root: str | Path) -> tuple[Path, Path | None]:
    """(train folder, validation folder or None) for ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder: choose a folder with one sub-folder per class.")
    train = _find_named(root, TRAIN_NAMES)
    if train is None:
        return root, None
    return train, _find_named(root, VAL_NAMES)


def list_class_folders(folder: Path) -> tuple[dict[str, list[Path]], int]:
    """{class name: image files (natural order)} for each sub-folder, and non-image files seen."""
    from .listing import ScanStats, iter_image_files

    classes: dict[str, list[Path]] = {}
    ignored = 0
    for sub in _subdirs(folder):
        stats = ScanStats()
        classes[sub.name] = list(iter_image_files([sub], stats))
        ignored += stats.ignored
    return classes, ignored


def stratified_split(
    files: dict[str, list[Path]], val_fraction: float, seed: int = 0
) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """Split each class separately (seeded): about ``val_fraction`` of it to validation, at
    least one image to each side when the class has two or more."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"The validation share must be between 0 and 1 (got {val_fraction}).")
    train: dict[str, list[Path]] = {}
    val: dict[str, list[Path]] = {}
    for name, paths in files.items():
        order = list(paths)
        random.Random(f"{seed}:{name}").shuffle(order)
        n_val = 0
        if val_fraction > 0 and len(order) >= 2:
            n_val = min(max(round(len(order) * val_fraction), 1), len(order) - 1)
        val[name] = sorted(order[:n_val], key=lambda p: _natural(p.name))
        train[name] = sorted(order[n_val:], key=lambda p: _natural(p.name))
    return train, val


def plan_dataset(
    root: str | Path,
    val_dir: str | Path | None = None,
    val_split: float = 0.2,
    seed: int = 0,
) -> DatasetPlan:
    """Find classes and images under ``root`` and decide the train/validation split.

    ``val_dir`` (class folders) overrides any detected validation folder; without one, a
    ``train/`` + ``val/`` layout is used as is, and plain class folders are split."""
    root = Path(root).expanduser()
    train_dir, found_val = detect_layout(root)
    val_path = Path(val_dir).expanduser() if val_dir else found_val
    if val_path is not None and not val_path.is_dir():
        raise DataError(f"The validation folder {val_path} does not exist.")
    train_files, ignored = list_class_folders(train_dir)
    warnings: list[str] = []
    empty = [n for n, f in train_files.items() if not f]
    for n in empty:
        warnings.append(f"Folder '{n}' has no images: not used as a class.")
        del train_files[n]
    if len(train_files) < 2:
        where = f"{train_dir}" if train_files or empty else f"{train_dir} (no sub-folders)"
        found = ", ".join(train_files) or "none"
        raise DataError(
            f"Training needs at least 2 classes, one sub-folder of images each, in {where}; "
            f"found {len(train_files)} ({found})."
        )
    if val_path is not None:
        val_files, ignored_val = list_class_folders(val_path)
        ignored += ignored_val
        extra = [n for n in val_files if n not in train_files and val_files[n]]
        if extra:
            warnings.append(f"Validation classes not in training are ignored: {', '.join(extra)}.")
        val_files = {n: val_files.get(n, []) for n in train_files}
        missing = [n for n, f in val_files.items() if not f]
        if missing:
            warnings.append(f"No validation images for: {', '.join(missing)}.")
        layout = f"separate folders: {train_dir.name}/ and {val_path.name}/"
    else:
        train_files, val_files = stratified_split(train_files, val_split, seed)
        layout = f"class folders, {round(val_split * 100)}% held out for validation"
        if val_split == 0:
            layout = "class folders, no validation split"
    names = list(train_files)
    plan = DatasetPlan(
        root=root,
        layout=layout,
        class_names=names,
        train=[Sample(p, i) for i, n in enumerate(names) for p in train_files[n]],
        val=[Sample(p, i) for i, n in enumerate(names) for p in val_files[n]],
        warnings=warnings,
        ignored=ignored,
        train_dir=train_dir,
        val_dir=val_path,
    )
    plan.warnings.extend(balance_warnings(plan))
    return plan


def balance_warnings(plan: DatasetPlan) -> list[str]:
    """Tiny classes, very imbalanced classes, no validation set."""
    out: list[str] = []
    counts = plan.counts()
    small = [f"{c.name} ({c.train})" for c in counts if c.train < MIN_PER_CLASS]
    if small:
        out.append(
            f"Fewer than {MIN_PER_CLASS} training images in: {', '.join(small)}; "
            "results for these classes will be unreliable."
        )
    sizes = [c.train for c in counts if c.train > 0]
    if sizes and max(sizes) > IMBALANCE_RATIO * min(sizes):
        big = max(counts, key=lambda c: c.train)
        little = min(counts, key=lambda c: c.train)
        out.append(
            f"The classes are very imbalanced ({big.name}: {big.train} images, "
            f"{little.name}: {little.train}); consider the class-balanced loss."
        )
    if not plan.val:
        out.append("No validation images: accuracy will be measured on the training images.")
    return out
