"""The Train tab's results: summary, per-class precision/recall, confusion matrix heat map,
misclassified images as thumbnails, Save and Use in Classify buttons."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..widgets.confusion import ConfusionMatrixView
from ..widgets.tables import (
    METRICS_HEADERS,
    fill_metrics_table,
    read_only_table,
    thumbnail_list,
)
from ..widgets.thumbnails import thumbnail_to_qimage
from .tasks import MAX_THUMBS, THUMB_SIDE

PathRole = Qt.ItemDataRole.UserRole  # the image's path on a misclassified item


class ResultsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel("Results appear here when training ends.")
        self.summary.setObjectName("runStatus")
        self.summary.setWordWrap(True)
        self.table = read_only_table(METRICS_HEADERS)
        self.confusion = ConfusionMatrixView()
        self.wrong_label = QLabel("Misclassified validation images")
        self.wrong_label.setObjectName("heading")
        self.wrong = thumbnail_list(THUMB_SIDE, QSize(THUMB_SIDE + 44, THUMB_SIDE + 48))
        self.save_button = QPushButton("Save…")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Export as ONNX or TorchScript, with the class names and preprocessing inside"
        )
        self.use_button = QPushButton("Use in Classify")
        self.use_button.setToolTip(
            "Save (if not saved yet) and load this model in the Classify tab"
        )
        self.saved_label = QLabel()
        self.saved_label.setObjectName("hint")
        buttons = QHBoxLayout()
        buttons.addWidget(self.saved_label, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.use_button)

        top = QSplitter()
        top.addWidget(self.table)
        top.addWidget(self.confusion)
        top.setSizes([380, 420])
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.wrong_label)
        bl.addWidget(self.wrong)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([360, 260])
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)
        self.set_result_available(False)

    def set_result_available(self, ok: bool) -> None:
        self.save_button.setEnabled(ok)
        self.export_button.setEnabled(ok)
        self.use_button.setEnabled(ok)

    def clear(self) -> None:
        self.summary.setText("Training…")
        self.table.setRowCount(0)
        self.confusion.set_matrix([], [])
        self.wrong.clear()
        self.saved_label.setText("")

    def set_saved(self, path: Path) -> None:
        self.saved_label.setText(f"Saved: {path}")
        self.saved_label.setToolTip(str(path))

    def show_result(self, r, thumbs: dict) -> None:
        split = "validation" if r.eval_split == "val" else "training (no validation images)"
        acc = f"{r.val_accuracy:.1%}" if r.val_accuracy is not None else "-"
        speed = f", {r.ms_per_image:.0f} ms/image" if r.features_extracted else ""
        lines = [
            f"<b>{split.capitalize()} accuracy {acc}</b> at epoch {r.best_epoch} "
            f"of {len(r.history)} · {r.arch} on {len(r.class_names)} classes",
            f"Features: {r.features_extracted} extracted{speed}, {r.features_cached} from the "
            f"cache, in {r.extraction_s:.1f} s · head training {r.training_s:.2f} s",
        ]
        if r.skipped:
            names = ", ".join(Path(p).name for p, _ in r.skipped[:5])
            more = f" and {len(r.skipped) - 5} more" if len(r.skipped) > 5 else ""
            lines.append(f"<span style='color:#b45309'>Skipped unreadable: {names}{more}</span>")
        self.summary.setText("<br>".join(lines))
        self.summary.setToolTip("\n".join(f"{p}: {why}" for p, why in r.skipped[:50]))
        fill_metrics_table(self.table, r.per_class)
        self.confusion.set_matrix(r.confusion, r.class_names)
        self.wrong.clear()
        for m in r.misclassified[:MAX_THUMBS]:
            item = QListWidgetItem(f"{m.predicted} ({m.confidence:.0%})\ntrue: {m.true_label}")
            item.setToolTip(
                f"{m.path}\nDouble-click to look closer (and move it if its folder is wrong)"
            )
            item.setData(PathRole, m.path)
            thumb = thumbs.get(m.path)
            if thumb is not None:
                item.setIcon(QIcon(QPixmap.fromImage(thumbnail_to_qimage(thumb))))
            self.wrong.addItem(item)
        n = len(r.misclassified)
        shown = f" (first {MAX_THUMBS})" if n > MAX_THUMBS else ""
        where = "validation" if r.eval_split == "val" else "training"
        self.wrong_label.setText(
            f"Misclassified {where} images: {n}{shown}"
            if n
            else f"No misclassified {where} images."
        )

    def mark_moved(self, old: str, new: str) -> None:
        """The image at ``old`` was moved to another class folder (or back)."""
        for i in range(self.wrong.count()):
            item = self.wrong.item(i)
            if item.data(PathRole) == old:
                item.setData(PathRole, new)
                first = item.text().split("\n")[0]
                item.setText(f"{first}\nnow in: {Path(new).parent.name}")
                item.setToolTip(new)
