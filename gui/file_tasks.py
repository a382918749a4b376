"""Worker bodies for moving the person's files (core.results.sorting does the moving; these run on a
WorkerSlot's thread): undoing a move, and moving one image into another class folder of a
training set."""

from __future__ import annotations

from pathlib import Path


def undo_task(manifest: str, *, should_stop=None, progress=None):
    """Undo a sort, a move or a copy (core.results.sorting.undo_sort is not cancellable). Once
    every file is back (or every copy removed), the sort's record has served: it is removed, so
    no hidden ``.pigeonhole-moves-*.json`` is left in the destination. With errors it stays,
    for another try."""
    from ..core.results.sorting import undo_sort

    report = undo_sort(manifest)
    if not report.errors:
        Path(manifest).unlink(missing_ok=True)
    return report


def move_to_class_task(path: str, label: str, *, should_stop=None, progress=None):
    """Move the image ``path`` of a class-folder data set (``<root>/<class>/<name>``) into
    ``<root>/<label>/`` (never overwriting; undoable through the report's manifest)."""
    from ..core.results.sorting import SortItem, sort_into_folders

    root = Path(path).parent.parent
    return sort_into_folders([SortItem(str(path), label, None)], root, mode="move")
