"""Results as Parquet, for runs too big for one CSV: written as the rows come, with the same
columns as the CSV (core.results.writing), so a Ctrl-C keeps what was done.

* a folder (``--out DIR/``): ``part-00000.parquet``, ``part-00001.parquet``... of up to
  :data:`ROWS_PER_PART` rows each, every part written atomically;
* a file (``--out results.parquet``): one file, a row group per batch of rows, in place once
  complete (atomically, like every file the app writes).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..errors import OutputPathError
from ..fileio import atomic_write
from ..results.writing import ExportRow, columns, row_dict

ROWS_PER_PART = 100_000
PART_GLOB = "part-*.parquet"


def is_parquet_target(out: str) -> bool:
    """``--out`` names a Parquet dataset: a folder (ends in a separator or exists as one) or a
    ``.parquet`` file."""
    path = Path(out).expanduser()
    return out.endswith(("/", "\\")) or path.is_dir() or path.suffix.lower() == ".parquet"


def check_parquet_target(out: str) -> Path:
    """Refuse, before any work, a Parquet target that could not be written or would mix with
    an earlier dataset (a folder that already holds parts). Returns the path."""
    from ..fileio import check_output_file, check_output_folder

    path = Path(out).expanduser()
    if path.suffix.lower() == ".parquet" and not out.endswith(("/", "\\")) and not path.is_dir():
        return check_output_file(out, "--out", {".parquet"})
    folder = check_output_folder(out, "--out")
    if folder.is_dir() and any(folder.glob(PART_GLOB)):
        raise OutputPathError(
            f"--out: {folder} already holds a Parquet dataset; choose a new or empty folder."
        )
    return folder


def has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def embeddings_parquet(paths, vectors) -> bytes:
    """A Parquet file's bytes: columns ``path`` and ``embedding`` (a fixed-size list of
    float32 per row; core.results.features_file)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = pa.array(vectors.ravel(), type=pa.float32())
    column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    table = pa.table({"path": pa.array(list(paths), pa.string()), "embedding": column})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _schema(names: list[str]):
    import pyarrow as pa

    numbers = {"predicted_confidence", "decode_ms", "infer_ms"}
    fields = []
    for name in names:
        if name in numbers or name.endswith("_score"):
            fields.append(pa.field(name, pa.float64()))
        elif name == "stale":
            fields.append(pa.field(name, pa.bool_()))
        else:
            fields.append(pa.field(name, pa.string()))
    return pa.schema(fields)


class ParquetSink:
    """Takes :class:`ExportRow` s as they come and writes them to ``path`` (a folder of parts,
    or one file: see the module's notes), with ``topk`` top-k columns and ``true_label`` when
    ``truth``."""

    def __init__(self, path: Path, topk: int, truth: bool):
        self.path = path
        self.single = path.suffix.lower() == ".parquet" and not path.is_dir()
        self.topk, self.truth = topk, truth
        self.columns = columns(topk, truth)
        self.schema = _schema(self.columns)
        self.rows = 0
        self.files: list[Path] = []
        self._buffer: list[dict] = []
        self._stack = contextlib.ExitStack()
        self._writer = None

    def add(self, rows: list[ExportRow]) -> None:
        self._buffer += [row_dict(r, self.topk, self.truth) for r in rows]
        limit = 4096 if self.single else ROWS_PER_PART
        if len(self._buffer) >= limit:
            self._flush()

    def close(self) -> None:
        """Write what is buffered and finish (also after a Ctrl-C: the rows so far are kept)."""
        try:
            self._flush()
            if self.single and self._writer is None:  # no row at all: still a valid file
                self._open_single()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._stack.close()

    def _table(self):
        import pyarrow as pa

        data = {name: [row[name] for row in self._buffer] for name in self.columns}
        return pa.table(data, schema=self.schema)

    def _flush(self) -> None:
        if not self._buffer:
            return
        import pyarrow.parquet as pq

        table = self._table()
        if self.single:
            if self._writer is None:
                self._open_single()
            self._writer.write_table(table)
        else:
            part = self.path / f"part-{len(self.files):05d}.parquet"
            with atomic_write(part, "wb") as fh:
                pq.write_table(table, fh)
            self.files.append(part)
        self.rows += len(self._buffer)
        self._buffer = []

    def _open_single(self) -> None:
        import pyarrow.parquet as pq

        fh = self._stack.enter_context(atomic_write(self.path, "wb"))
        self._writer = pq.ParquetWriter(fh, self.schema)
        self.files = [self.path]
