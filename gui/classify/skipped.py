"""The files a run did not classify, one click away: the run's end message counts them by
reason ("2 videos, 1 edit sidecar"), the banner links to the list, and "Skipped files…" in the
Classify menu opens :class:`SkippedDialog` (every file under its reason, the list copyable)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..widgets.actions import make_action

LINK = "#skipped"  # the banner's link to the list


def skipped_counts(summary) -> str:
    """``"3 other files skipped (2 videos, 1 edit sidecar)"``, or "" when none (hidden files
    and resource forks, skipped quietly, are not counted here)."""
    shown = [g for g in summary.skipped_groups if not g.quiet]
    if not shown:
        return ""
    total = sum(g.count for g in shown)
    parts = ", ".join(g.text.split(" (", 1)[0].split(" skipped", 1)[0] for g in shown)
    return f"{total:,} other file{'s' if total != 1 else ''} skipped ({parts})"


class SkippedDialog(QDialog):
    """Every skipped file of a run, under its reason; "Copy list" puts the paths, one a line,
    on the clipboard."""

    def __init__(self, summary, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Files not classified")
        self.resize(640, 420)
        lay = QVBoxLayout(self)
        intro = QLabel(
            "These files were not classified: they are not images, or reading them needs "
            "something installed. Nothing was changed.",
            wordWrap=True,
        )
        lay.addWidget(intro)
        self.tree = QTreeWidget(headerHidden=True, uniformRowHeights=True)
        for group in summary.skipped_groups:
            top = QTreeWidgetItem([group.text])
            for path in group.paths:
                child = QTreeWidgetItem([path])
                child.setToolTip(0, path)
                top.addChild(child)
            if len(group.paths) < group.count:
                top.addChild(QTreeWidgetItem([f"… and {group.count - len(group.paths):,} more"]))
            self.tree.addTopLevelItem(top)
            top.setExpanded(not group.quiet)
        for line in summary.skipped_lines():
            if "first frame" in line:  # multi-frame files, said once
                self.tree.addTopLevelItem(QTreeWidgetItem([line]))
        lay.addWidget(self.tree, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy list")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(lambda: self.copy_list(summary))
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def copy_list(self, summary) -> None:
        lines = [f"{path}\t{label}" for path, label in summary.skipped_files()]
        QGuiApplication.clipboard().setText("\n".join(lines) + ("\n" if lines else ""))


class SkippedFiles(QObject):
    """The last run's skipped files: the menu action, the banner's text and link, the dialog."""

    def __init__(self, parent: QWidget, notify):
        super().__init__(parent)
        self._parent = parent
        self._notify = notify
        self.summary = None
        self.dialog: SkippedDialog | None = None
        self.action = make_action(parent, "Skipped &files…", self.open_dialog, enabled=False)
        self.action.setToolTip("The files the last run did not classify, and why")

    def show_summary(self, summary) -> None:
        """After a run: enable the action; say what was skipped in the banner, with a link."""
        self.summary = summary
        has = summary is not None and bool(summary.skipped_groups or summary.multi_frame)
        self.action.setEnabled(has)
        if summary is None:
            return
        counts = skipped_counts(summary)
        notes = [counts] if counts else []
        notes += [ln for ln in summary.skipped_lines() if "first frame" in ln]
        if notes:
            self._notify(f"{'; '.join(notes)}. <a href='{LINK}'>Show the list</a>")

    def on_link(self, href: str) -> None:
        if href == LINK:
            self.open_dialog()

    def open_dialog(self) -> None:
        if self.summary is None:
            return
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = SkippedDialog(self.summary, self._parent)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.dialog.show()
