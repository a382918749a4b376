"""A searchable architecture picker grouped by family, the product's seed networks on top."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QCompleter

NameRole = Qt.ItemDataRole.UserRole + 1


def arch_caption(spec) -> str:
    """ "ResNet18 · 11.7M params · 1.8 GFLOPs" for an ArchSpec."""
    parts = [spec.display_name]
    if spec.params:
        parts.append(f"{spec.params / 1e6:.1f}M params")
    if spec.gflops:
        parts.append(f"{spec.gflops:.1f} GFLOPs")
    return " · ".join(parts)


def arch_details(spec) -> str:
    """One line about an architecture for the panel: family, size, accuracy, download."""
    bits = [spec.family]
    if spec.params:
        bits.append(f"{spec.params / 1e6:.1f} M parameters")
    if spec.gflops:
        bits.append(f"{spec.gflops:.2f} GFLOPs")
    if spec.top1:
        bits.append(f"ImageNet top-1 {spec.top1:.1f}%")
    return " · ".join(bits)


class ArchPicker(QComboBox):
    """Combo of every architecture; type to search (any part of the name, case-insensitive)."""

    arch_changed = Signal(str)

    def __init__(self, parent=None, specs=None):
        """``specs``: the registry's ArchSpec records in order; None fills it later
        (:meth:`fill`: the registry may need torch, which loads after the window shows)."""
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(24)
        self.lineEdit().setPlaceholderText("Search networks…")
        self._specs: dict = {}
        self._current = ""
        self._wanted = "resnet18"  # the network to show once the list is filled
        self.currentIndexChanged.connect(self._on_index)
        self.lineEdit().editingFinished.connect(self._on_edited)
        if specs is not None:
            self.fill(specs)

    @property
    def filled(self) -> bool:
        """The list of networks is there (see :meth:`fill`)."""
        return bool(self._specs)

    def fill(self, specs) -> None:
        """List ``specs`` (ArchSpec records, seeds first), grouped by family; the network set
        before (or ResNet-18) becomes the current one."""
        self._specs = {s.name: s for s in specs}
        model = QStandardItemModel(self)
        captions: list[str] = []
        groups: dict[str, list] = {"Popular: ResNet, ResNeXt, VGG, MobileNet": []}
        for spec in self._specs.values():
            key = "Popular: ResNet, ResNeXt, VGG, MobileNet" if spec.is_seed else spec.family
            groups.setdefault(key, []).append(spec)
        bold = QFont()
        bold.setBold(True)
        for family, members in groups.items():
            header = QStandardItem(family)
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            header.setData("", NameRole)  # (an empty QVariant: see gui.pyside_fixes)
            header.setFont(bold)
            header.setForeground(QBrush(QColor("#52525b")))
            model.appendRow(header)
            for spec in members:
                caption = arch_caption(spec)
                item = QStandardItem("    " + caption)
                item.setData(spec.name, NameRole)
                item.setToolTip(f"{spec.name}: {arch_details(spec)}")
                model.appendRow(item)
                captions.append(caption)
        self.blockSignals(True)
        self.setModel(model)
        self.blockSignals(False)
        completer = QCompleter(QStringListModel(captions, self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.activated.connect(self._on_completed)
        self.setCompleter(completer)
        self._current = ""
        if not self.set_arch(self._wanted):
            self.set_arch("resnet18")

    def spec(self, name: str | None = None):
        return self._specs.get(name or self.current_arch())

    def current_arch(self) -> str:
        """The network shown (before the list is filled: the one it will show)."""
        return self._current if self._specs else self._wanted

    def set_arch(self, name: str) -> bool:
        """Make ``name`` (torchvision's name, any case, '-' for '_') the current network;
        False when there is none such. Before the list is filled, it is shown once filled."""
        key = str(name).strip().lower().replace("-", "_")
        if not self._specs:
            self._wanted = key
            return True
        if key not in self._specs:  # an unknown name: the caller says so
            return False
        self._wanted = key
        for row in range(self.model().rowCount()):
            if self.model().item(row).data(NameRole) == key:
                self.setCurrentIndex(row)
                self._on_index(row)  # no signal when the row was already current
                return True
        return False

    def _sync_text(self) -> None:
        spec = self._specs.get(self._current)
        if spec is not None:
            self.lineEdit().setText(spec.display_name)  # size and speed: in the list and below
            self.lineEdit().setCursorPosition(0)

    def _on_index(self, row: int) -> None:
        name = self.itemData(row, NameRole) if 0 <= row < self.count() else ""
        if not name:
            return
        if name != self._current:
            self._current = name
            self.arch_changed.emit(name)
        self._sync_text()

    def _on_completed(self, caption: str) -> None:
        for spec in self._specs.values():
            if arch_caption(spec) == caption:
                self.set_arch(spec.name)
                return

    def _on_edited(self) -> None:
        """Typed a name (or part of one) and pressed Enter: take the closest match."""
        text = self.lineEdit().text().strip().lower()
        if not text:
            self._sync_text()
            return
        exact = [
            s
            for s in self._specs.values()
            if text in (s.name, s.display_name.lower(), arch_caption(s).lower())
        ]
        partial = [
            s for s in self._specs.values() if text in arch_caption(s).lower() or text in s.name
        ]
        pick = (exact or partial or [None])[0]
        if pick is not None and pick.name != self._current:
            self.set_arch(pick.name)
        else:
            self._sync_text()
