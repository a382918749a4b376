"""The Timing pane on a laptop screen (issue 27): its running line wrapped as "images/ s"."""

from __future__ import annotations

from PySide6.QtGui import QTextDocument, QTextOption


def wrapped_lines(label, width: int) -> list[str]:
    """The lines ``label``'s rich text wraps into at ``width`` pixels (as QLabel wraps)."""
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    option = doc.defaultTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)
    doc.setDefaultTextOption(option)
    doc.setHtml(label.text())
    doc.setTextWidth(width)
    doc.size()  # (lays the text out)
    lines = []
    block = doc.begin()
    while block.isValid():
        layout, text = block.layout(), block.text()
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            lines.append(text[line.textStart() : line.textStart() + line.textLength()])
        block = block.next()
    return lines


def test_the_rate_never_wraps_inside_images_per_second(qtbot):
    from pigeonhole.gui.widgets.plots import TimingPanel

    panel = TimingPanel()
    qtbot.addWidget(panel)
    panel.show_running(1234, 50_000, 45.2)
    for width in range(120, 420, 3):
        for line in wrapped_lines(panel.summary, width):
            assert not line.rstrip().endswith("images/"), (width, line)
            assert not line.lstrip().startswith("s "), (width, line)
