"""One image's result as the Classify tab keeps it, and how it reads for a person.

A :class:`ResultRow` holds what the model said (the core's prediction, untouched), what the
person decided (a correction, kept apart), the model that made it (so results from another
model than the one loaded now are marked ``stale``) and, in evaluation mode, the class its
folder is named after. :func:`describe_html` is the text of the tooltip, the detail pane and
the preview.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..widgets.elided import elide_chars

if TYPE_CHECKING:  # (core.models imports torch: not at start-up)
    from ...core.models.loaded import ModelIdentity

CORRECTED_TEXT = "corrected"  # shown on a tile in place of the model's confidence


@dataclass(slots=True)
class ResultRow:
    """One image's result: the core's prediction, an optional hand correction, the model that
    made it, and the class its folder names (evaluation mode)."""

    pred: Any  # core.runtime.inference.Prediction (thumbnail removed)
    order: int  # arrival order in this session
    corrected: str | None = None
    model: ModelIdentity | None = None  # the model that made ``pred``
    truth: str | None = None  # the class its folder is named after, if any
    stale: bool = False  # made by another model than the one loaded now

    @property
    def path(self) -> str:
        return self.pred.path

    @property
    def name(self) -> str:
        return Path(self.pred.path).name

    @property
    def ok(self) -> bool:
        return self.pred.error is None

    @property
    def label(self) -> str | None:
        return self.corrected if self.corrected is not None else self.pred.label

    @property
    def disagrees(self) -> bool:
        """Its label (the person's, or else the model's) differs from its folder's class."""
        return self.ok and self.truth is not None and self.label != self.truth

    @property
    def total_ms(self) -> float:
        return float(self.pred.decode_ms or 0.0) + float(self.pred.infer_ms or 0.0)


def _bar(score: float, width: int = 90) -> str:
    filled = max(1, int(round(score * width)))
    return (
        f'<table cellspacing="0" cellpadding="0"><tr>'
        f'<td width="{filled}" bgcolor="#3b82f6" height="6"></td>'
        f'<td width="{width - filled}" bgcolor="#e5e7eb" height="6"></td></tr></table>'
    )


def _note(text: str, colour: str) -> str:
    return f'<p style="color:{colour}">{text}</p>'


def describe_html(row: ResultRow, header: bool = True) -> str:
    """Rich-text details: path (without ``header``: left to labels that cut it to fit); the
    person's label and the model's own prediction with its
    confidence, kept apart; the folder's class; which model made it (marked when it is not the
    one loaded now); top-5 with bars; timings."""
    p = row.pred
    esc = html.escape
    parts = [f"<b>{esc(row.name)}</b><br><small>{esc(p.path)}</small>"] if header else []
    if not row.ok:
        parts.append(_note(f"<b>Could not be read:</b> {esc(p.error)}", "#b91c1c"))
    else:
        said = f"{esc(str(p.label))} ({float(p.confidence or 0.0):.1%})"
        if row.corrected is not None:
            parts.append(
                f"<p>Label <b>{esc(row.corrected)}</b>, corrected by hand.<br>"
                f"The model said {said}.</p>"
            )
        else:
            parts.append(f"<p>The model said <b>{said}</b>.</p>")
        if row.truth is not None:
            if row.disagrees:
                parts.append(
                    _note(f"<b>Its folder says {esc(row.truth)}</b>: they disagree.", "#b91c1c")
                )
            else:
                parts.append(_note(f"Its folder says {esc(row.truth)}: they agree.", "#15803d"))
    if row.model is not None:
        made = f"Made by {esc(elide_chars(row.model.short(), 44))}"
        if row.stale:
            parts.append(
                _note(
                    f"<b>{made}, not the model loaded now.</b> Classify again to see what the "
                    "loaded model says.",
                    "#b45309",
                )
            )
        else:
            parts.append(f"<p><small>{made}.</small></p>")
    if row.ok:
        rows = "".join(
            f"<tr><td>{esc(str(lbl))}&nbsp;</td><td>{_bar(float(s))}</td>"
            f"<td align='right'>&nbsp;{float(s) * 100:.1f}%</td></tr>"
            for lbl, s in p.topk
        )
        parts.append(f"<table>{rows}</table>")
    parts.append(f"<small>decode {p.decode_ms:.1f} ms · inference {p.infer_ms:.1f} ms</small>")
    return "".join(parts)
