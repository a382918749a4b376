"""Text the commands print: rows that stay one per line whatever a file is called, and lines
for people that a newline, tab or escape code in a name cannot break or colour."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\t``, ``\\r``,
    ``\\x1b``...): a name can neither split a line nor send codes to the terminal. Backslashes
    stay as they are (Windows paths read as usual)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def tsv_line(fields: Iterable[object]) -> str:
    """One tab-separated record on one physical line, ending in a newline: a tab or newline
    inside a field is escaped (:func:`printable`), so ``wc -l``, ``grep``, ``cut -f`` and
    line-by-line readers see exactly one record per image. (The CSV and JSON files of
    ``--out`` keep names exactly, quoted as those formats do.)"""
    return "\t".join(printable("" if f is None else str(f)) for f in fields) + "\n"


def csv_text(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A CSV file's text: the header, then the rows (names kept exactly, quoted as CSV does)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def isatty(stream) -> bool:
    """The stream is a terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
