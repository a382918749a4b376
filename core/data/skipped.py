r"""Files skipped by the listing, grouped by reason: counted always, named up to
:data:`MAX_LISTED_SKIPPED` (core.data.listing fills a :class:`SkipTally`; a run's summary
carries its :class:`SkippedGroup`\ s)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from .formats import SKIP_REASONS

#: At most this many skipped files are named (all are counted).
MAX_LISTED_SKIPPED = 100_000


@dataclass(frozen=True, slots=True)
class SkippedGroup:
    """The files skipped for one reason: ``text`` is the line a person reads ("12 videos
    (.MOV) skipped"); ``paths`` names them (all of them unless the listing named
    :data:`MAX_LISTED_SKIPPED` already)."""

    reason: str  # a key of core.data.formats.SKIP_REASONS
    count: int
    extensions: tuple[str, ...]  # upper-case, most common first
    text: str
    label: str  # one file's reason: "video", "edit sidecar"...
    quiet: bool  # hidden files and resource forks: counted, not listed one line each
    paths: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Without the paths (a results file lists them as rows, with --include-skipped)."""
        return {"reason": self.reason, "count": self.count,
                "extensions": list(self.extensions), "text": self.text, "label": self.label, "quiet": self.quiet}  # fmt: skip


@dataclass(slots=True)
class SkipTally:
    """Files skipped so far, by reason."""

    counts: Counter = field(default_factory=Counter)
    extensions: dict[str, Counter] = field(default_factory=dict)
    paths: dict[str, list[str]] = field(default_factory=dict)
    listed: int = 0

    def add(self, path: str, reason: str) -> None:
        self.counts[reason] += 1
        ext = os.path.splitext(os.path.basename(path))[1].upper()
        if reason not in ("hidden", "fork"):
            self.extensions.setdefault(reason, Counter())[ext or "no extension"] += 1
        if self.listed < MAX_LISTED_SKIPPED:
            self.paths.setdefault(reason, []).append(path)
            self.listed += 1

    def groups(self) -> tuple[SkippedGroup, ...]:
        out = []
        for key, why in SKIP_REASONS.items():
            n = self.counts.get(key, 0)
            if not n:
                continue
            common = self.extensions.get(key, Counter()).most_common(5)
            exts = [e for e, _ in common[:4]] + (["..."] if len(common) > 4 else [])
            text = why.describe(n, exts)
            out.append(SkippedGroup(key, n, tuple(exts), text, why.label, why.quiet,
                                    tuple(self.paths.get(key, ()))))  # fmt: skip
        return tuple(out)
