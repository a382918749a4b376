"""Fits a laptop: at 1024x640 both tabs work, no widget is narrower than its text, the grid
keeps two columns or more, the side panes turn into tabs, and the Timing pane can be hidden
and stays hidden."""

from __future__ import annotations

import pytest
from classify_helpers import labelled_folders, load, run_and_wait
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QToolButton,
    QWidget,
)

SMALL = (1024, 640)


def settle(window, size) -> None:
    window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()


def text_width(w: QWidget, text: str) -> int:
    return w.fontMetrics().horizontalAdvance(text)


def cut_widgets(window) -> list[str]:
    """Visible widgets narrower than their text (buttons, one-line labels, check boxes,
    combo boxes), described for the failure message."""
    cut = []
    for w in window.findChildren(QWidget):
        if not w.isVisibleTo(window) or w.width() <= 0:
            continue
        if isinstance(w, QCheckBox | QRadioButton):
            need = w.sizeHint().width()
        elif isinstance(w, QPushButton | QToolButton) and isinstance(w, QAbstractButton):
            if not w.text():
                continue
            need = text_width(w, w.text().replace("&", "")) + 8
        elif isinstance(w, QLabel):
            if (
                w.wordWrap()
                or not w.text()
                or "<" in w.text()
                or w.pixmap()
                and not w.pixmap().isNull()
            ):
                continue
            need = text_width(w, w.text())
        elif isinstance(w, QComboBox):
            need = w.minimumSizeHint().width()
        else:
            continue
        if w.width() < need:
            name = w.text() if hasattr(w, "text") else w.currentText()
            cut.append(f"{type(w).__name__} {name!r}: {w.width()} < {need}")
    return cut


@pytest.fixture
def classified(qtbot, window, checkpoint_file, image_folder):
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    return window


def test_both_tabs_fit_1024x640_without_cut_text(qtbot, window, checkpoint_file, image_folder):
    settle(window, SMALL)
    assert window.width() == 1024 and window.height() <= 640
    assert cut_widgets(window) == []  # the empty window's start page
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [image_folder])
    settle(window, SMALL)
    assert cut_widgets(window) == []
    grid = tab.ui.grid
    columns = grid.viewport().width() // grid.sizeHintForIndex(grid.model().index(0, 0)).width()
    assert columns >= 2
    tab.ui.tile_slider.setValue(tab.ui.tile_slider.maximum())  # the largest tiles: still 2
    settle(window, SMALL)
    assert grid.viewport().width() // (grid.tile_size + 4) >= 2
    assert tab.ui.side.mode == "tabs"  # not enough height for the panes one above the other
    window.tabs.setCurrentWidget(window.train_tab)
    settle(window, SMALL)
    assert cut_widgets(window) == []


def test_the_evaluation_pane_fits_1024x640(qtbot, window, checkpoint_file, tmp_path):
    """Class-named folders at 1024x640: three side panes as tabs, every tab title in view,
    the per-class table without a horizontal scroll bar, no cut text (the filter included)."""
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [labelled_folders(tmp_path)])
    panel = tab.trust.evaluation.panel
    qtbot.waitUntil(lambda: panel.report is not None)
    settle(window, SMALL)
    assert tab.ui.side.mode == "tabs" and tab.ui.side.tabs.count() == 3
    bar = tab.ui.side.tabs.tabBar()
    assert all(bar.tabRect(i).right() <= bar.width() for i in range(bar.count()))
    assert panel.isVisibleTo(window) and panel.table.isVisibleTo(window)
    assert not panel.table.horizontalScrollBar().isVisible()
    assert tab.ui.filters.disagreements_only.isVisibleTo(window)
    assert cut_widgets(window) == []
    settle(window, (1400, 900))  # one above the other needs more height for three panes
    assert tab.ui.side.mode == "tabs"
    settle(window, (1600, 1200))
    assert tab.ui.side.mode == "stacked" and panel.isVisibleTo(window)


def test_the_panes_stack_on_a_big_screen_and_timing_can_be_hidden(qtbot, classified):
    window = classified
    tab = window.classify_tab
    settle(window, (1920, 1080))
    assert tab.ui.side.mode == "stacked"
    assert tab.ui.timing.isVisibleTo(window) and tab.ui.detail.isVisibleTo(window)
    tab.act_show_timing.trigger()  # Classify > Show timing, unchecked
    assert not tab.ui.timing.isVisibleTo(window) and tab.ui.detail.isVisibleTo(window)
    assert QSettings().value("classify/show_timing", True, type=bool) is False
    window.close()

    from pigeonhole.gui.main_window import MainWindow

    again = MainWindow()  # remembered
    qtbot.addWidget(again)
    again.show()
    assert not again.classify_tab.act_show_timing.isChecked()
    assert not again.classify_tab.ui.timing.isVisibleTo(again)
    again.classify_tab.shutdown()


def test_train_results_fit_1024x640(qtbot, window, tmp_path):
    """Precision, recall and F1 used to hide behind a scroll bar in a small window."""
    from tests.core.train_helpers import colour_folders, save_base_checkpoint

    train = window.train_tab
    window.tabs.setCurrentWidget(train)
    settle(window, SMALL)
    data = colour_folders(tmp_path / "colours", per_class=6, classes=("red", "green", "blue"))
    with qtbot.waitSignal(train.scanned, timeout=30_000):
        train.set_data_folder(str(data))
    train.network.set_checkpoint(str(save_base_checkpoint(tmp_path / "base.pth")))
    train.options.epochs_spin.setValue(3)
    with qtbot.waitSignal(train.training_done, timeout=120_000):
        train.start()
    train.views.setCurrentWidget(train.results)
    settle(window, SMALL)
    table = train.results.table
    assert table.horizontalScrollBar().maximum() == 0  # every column in view
    header = table.horizontalHeader()
    for col in range(table.columnCount()):  # and no column narrower than its heading
        title = table.horizontalHeaderItem(col).text()
        assert header.sectionSize(col) >= text_width(table, title), title
    assert cut_widgets(window) == []


def test_the_model_panel_fits_1024x640_with_every_line_of_its_text(qtbot, window, checkpoint_file):
    """The left column used to be a scroll bar narrower than its content (a horizontal scroll
    bar, the panel's right edge cut), and the wrapped lines under Network and Preprocessing
    were squeezed to fewer lines than their text needs."""
    tab = window.classify_tab
    mp = tab.ui.model_panel
    load(qtbot, tab, checkpoint_file)
    assert not mp.isVisibleTo(window)  # folded to its line once loaded
    tab.ui.model_line.click()  # opened again: it stays open while the person has it open
    mp.preprocessing.set_preset("classification-pytorch-meanstd-letterbox")  # long details
    with qtbot.waitSignal(mp.model_loaded, timeout=30_000):
        mp.request_load()
    settle(window, SMALL)
    window.resize(1025, 640)  # and once more, as when the person resizes the window
    settle(window, SMALL)
    assert tab.ui.left.horizontalScrollBar().maximum() == 0
    for label in (mp.arch_info, mp.preprocessing.details, mp.status):
        assert label.isVisibleTo(window) and label.wordWrap()
        assert label.height() >= label.heightForWidth(label.width()), label.text()
    assert cut_widgets(window) == []


def fully_visible_tiles(grid) -> int:
    """Tiles of the grid whose whole cell is inside its viewport."""
    view = grid.viewport().rect()
    model = grid.model()
    return sum(view.contains(grid.visualRect(model.index(r, 0))) for r in range(model.rowCount()))


@pytest.mark.parametrize("size, least", [((1366, 768), 20), ((1024, 640), 12)])
def test_the_grid_has_room_on_a_laptop_screen(
    qtbot, window, checkpoint_file, tmp_path, size, least
):
    """Issue 27: at the default tile size, once a model is loaded and a folder classified (its
    "Model ready" banner still up), 1366x768 showed 12 tiles and 1024x640 4."""
    from classify_helpers import make_images

    from pigeonhole.gui.widgets.thumbnail_view import DEFAULT_TILE

    tab = window.classify_tab
    folder = tmp_path / "many"
    make_images(folder, 40)
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [folder])
    settle(window, size)
    tab.ui.grid.doItemsLayout()
    assert tab.ui.grid.tile_size == DEFAULT_TILE
    assert fully_visible_tiles(tab.ui.grid) >= least
    assert cut_widgets(window) == []


# -- names in full or cut in the middle (issue 27) -----------------------------------------
LONG_IMAGE = "holiday_photo_taken_in_the_mountains_near_the_old_harbor.jpg"
LONG_CHECKPOINT = "resnet18_finetuned_on_my_own_photos_of_birds_epoch_4_bst.pth"


def label_cut(w: QLabel) -> bool:
    """The label's text does not fit: one line wider than the label (its elided form is not
    the text), or a wrapped or rich text with a word wider than the label."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocument, QTextOption

    text = w.text()
    # (the part in view: a label in a scroll area may be wider than the area shows)
    width = min(w.contentsRect().width(), w.visibleRegion().boundingRect().width())
    if "<" not in text and not w.wordWrap():
        return w.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width) != text
    doc = QTextDocument()
    doc.setDefaultFont(w.font())
    doc.setDocumentMargin(0)
    option = doc.defaultTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)  # as QLabel: a long word is not broken
    doc.setDefaultTextOption(option)
    doc.setHtml(text) if "<" in text else doc.setPlainText(text)
    if w.wordWrap():
        doc.setTextWidth(width)
    return doc.idealWidth() > width + 1


def field_cut(w: QWidget) -> str | None:
    """A line edit or combo box whose text is wider than its field (a path showing only its
    end); eliding fields are judged by the text they show, and must have the whole text in
    their tooltip."""
    from PySide6.QtWidgets import QLineEdit, QStyle, QStyleOptionComboBox

    if isinstance(w, QLineEdit):
        if w.hasFocus() or not w.text() or w.echoMode() != QLineEdit.EchoMode.Normal:
            return None
        shown = w.shown_text() if hasattr(w, "shown_text") else w.text()
        room = w.width() - 10  # the frame and the text margins
    else:
        if w.isEditable():
            return field_cut(w.lineEdit())
        opt = QStyleOptionComboBox()
        w.initStyleOption(opt)
        field = w.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, opt, QStyle.SubControl.SC_ComboBoxEditField, w
        )
        shown, room = opt.currentText, field.width() - 2
    if shown != getattr(w, "text", lambda: shown)() and w.text() not in w.toolTip():
        return f"{type(w).__name__} {shown!r}: the whole text is not in its tooltip"
    if w.fontMetrics().horizontalAdvance(shown) > room:
        return f"{type(w).__name__} {shown!r}: {room}"
    return None


def plot_cut(plot) -> list[str]:
    """A pyqtgraph plot without its title or axis labels, or with one wider than the plot."""
    item = plot.getPlotItem()
    cut = []
    title = item.titleLabel
    if not title.isVisible() or not title.text:
        cut.append(f"plot {plot.objectName()!r} has no title")
    elif title.item.boundingRect().width() > item.width():
        cut.append(f"plot title {title.text!r} wider than {item.width()}")
    note = getattr(plot, "empty_note", None)
    if note is not None and note.isVisible():  # nothing drawn yet: the note, not the axes
        if note.boundingRect().width() > item.width():
            cut.append(f"plot {title.text!r}: note wider than {item.width()}")
        return cut
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        if not axis.label.isVisible():
            cut.append(f"plot {title.text!r}: no {side} axis label")
            continue
        room = axis.height() if side == "left" else axis.width()
        if axis.label.boundingRect().width() > room:
            cut.append(f"plot {title.text!r}: {side} label wider than {room}")
    return cut


def cut_texts(root: QWidget) -> list[str]:
    """Everything visible in ``root`` whose text is cut: cut_widgets, labels (wrapped and rich
    ones too), fields, tab titles, plot titles and axis labels."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QLineEdit, QTabBar

    cut = cut_widgets(root)
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.width() <= 0:
            continue
        if isinstance(w, QLabel) and w.text() and not (w.pixmap() and not w.pixmap().isNull()):
            if w.visibleRegion().isEmpty():
                continue  # scrolled out of its scroll area's view: not cut, just below
            if label_cut(w):
                cut.append(f"QLabel {w.text()[:80]!r}: {w.width()}")
        elif isinstance(w, QLineEdit | QComboBox) and not isinstance(w.parent(), QComboBox):
            problem = field_cut(w)
            cut += [problem] if problem else []
        elif isinstance(w, QTabBar):
            for i in range(w.count()):
                if w.tabRect(i).width() < w.tabSizeHint(i).width():
                    cut.append(f"tab {w.tabText(i)!r}: {w.tabRect(i).width()}")
        elif isinstance(w, pg.PlotWidget):
            cut += plot_cut(w)
    return cut


def walk_side_panes(window, side) -> list[str]:
    """cut_texts of the window with each side pane in front in turn (as tabs)."""
    cut = []
    for i in range(max(1, side.tabs.count())):
        if side.tabs.count():
            side.tabs.setCurrentIndex(i)
        for _ in range(3):
            QApplication.processEvents()
        cut += cut_texts(window)
    return sorted(set(cut))


@pytest.mark.parametrize("size", [SMALL, (1366, 768)], ids=["1024x640", "1366x768"])
def test_no_cut_names_with_a_long_file_name(qtbot, window, checkpoint_file, tmp_path, size):
    """Issue 27: the File and Classes boxes showed the end of the path, the Weights box
    "ImageNet pretrained (downl", Details and the preview cut long file names, the side tabs
    read "Det… / Evaluat… / Tim…" and the timing plots lost their titles at 1024."""
    import shutil

    from classify_helpers import make_images

    assert len(LONG_IMAGE) == 60 and len(LONG_CHECKPOINT) == 60
    tab = window.classify_tab
    ckpt = tmp_path / LONG_CHECKPOINT
    shutil.copy(checkpoint_file, ckpt)
    names = tmp_path / "names_of_the_three_classes_for_this_checkpoint_only.txt"
    names.write_text("red\ngreen\nblue\n")
    folder = tmp_path / "photos"
    (path,) = make_images(folder, 1)
    path.rename(folder / LONG_IMAGE)
    make_images(folder, 5, start=1)
    mp = tab.ui.model_panel
    mp.classes.setText(str(names))
    mp.ask = lambda _q: True  # (yes, use the names file)
    load(qtbot, tab, ckpt)
    run_and_wait(qtbot, tab, [folder])
    tab.ui.grid.setCurrentIndex(tab.ui.grid.model().index(0, 0))  # the long name's details
    assert tab.view_model.row(0).name == LONG_IMAGE
    settle(window, size)
    cut = walk_side_panes(window, tab.ui.side)
    assert cut == [], "\n".join(cut)
    tab.ui.model_line.click()  # the Model panel open: its File and Classes boxes
    settle(window, size)
    assert (cut := cut_texts(window)) == [], "\n".join(cut)
    preview = tab.open_preview()
    for _ in range(5):
        QApplication.processEvents()
    assert (cut := cut_texts(preview)) == [], "\n".join(cut)
    preview.close()
    mp.set_weights_mode("imagenet")  # was "ImageNet pretrained (downloads 45 MB once)"
    settle(window, size)
    assert (cut := cut_texts(window)) == [], "\n".join(cut)

    train = window.train_tab
    window.tabs.setCurrentWidget(train)
    data = tmp_path / "training_photos_sorted_into_one_folder_per_kind_of_bird_v2"
    for label in ("red", "green", "blue"):
        make_images(data / label, 6)
    with qtbot.waitSignal(train.scanned, timeout=30_000):
        train.set_data_folder(str(data))
    train.network.set_checkpoint(str(ckpt))
    settle(window, size)
    assert (cut := cut_texts(window)) == [], "\n".join(cut)


def wrapped_lines(label: QLabel, text: str, slack: int = 0) -> tuple[int, int]:
    """(lines ``text`` wraps to in the label's width less ``slack``, the height they need)."""
    from PySide6.QtCore import QRect, Qt

    rect = label.contentsRect().adjusted(0, 0, -slack, 0)
    flags = Qt.TextFlag.TextWordWrap
    height = label.fontMetrics().boundingRect(QRect(0, 0, rect.width(), 10_000), flags, text)
    return height.height() // label.fontMetrics().lineSpacing(), height.height()


@pytest.mark.parametrize("other_model", [False, True], ids=["alone", "beside the other-model bar"])
def test_a_long_warning_takes_two_lines_whole_or_cut_in_the_middle(qtbot, classified, other_model):
    """Issue 27: a warning of several lines was clipped in the one-line banner (or pushed the
    grid down by as many lines). Two lines show whole; a longer one is cut in the middle to
    two lines, its start and end in view and the whole text in the tooltip. An error shows
    whole (never clipped)."""
    window = classified
    tab = window.classify_tab
    banner = tab.ui.banner
    tab.ui.stale_bar.setVisible(other_model)
    settle(window, SMALL)
    long = (
        "Warning: 3 files could not be read (broken.jpg, notes.jpg, empty.png) and were "
        "skipped. The classes file has 2 names for the model's 3 outputs: the third is shown "
        "as class_2. Preprocessing was guessed from the network (resize 256, crop 224): "
        "if the model was trained otherwise, choose its preprocessing in the Model panel, "
        "then classify again (crop 224)."
    )
    tab.notify(long, warning=True)
    settle(window, SMALL)
    lines, needed = wrapped_lines(banner, banner.text())
    assert 1 <= lines <= 2 and banner.contentsRect().height() >= needed  # never clipped
    assert banner.text() != long and banner.toolTip() == long
    assert banner.text().startswith("Warning: 3 files") and banner.text().endswith("224).")
    words = set(long.split())  # cut between words: each shown word is one of the message's
    assert set(banner.text().split()) - {"…"} <= words
    for n in range(len(long.split()), 0, -1):  # the longest start of it that takes two lines
        two = " ".join(long.split()[:n])
        if wrapped_lines(banner, two, slack=30)[0] <= 2:  # (clear of the edge)
            break
    tab.notify(two, warning=True)
    settle(window, SMALL)
    assert banner.text() == two and banner.toolTip() == ""  # whole
    assert banner.contentsRect().height() >= wrapped_lines(banner, two)[1]
    assert cut_widgets(window) == []
    tab.notify(long, error=True)  # an error: whole, however many lines
    settle(window, SMALL)
    assert banner.text() == long and wrapped_lines(banner, long)[0] > 2
    assert banner.contentsRect().height() >= wrapped_lines(banner, long)[1]


def test_a_message_with_a_link_shows_the_link_not_its_tag(qtbot, classified):
    """The two-line banner once showed "<a href='#skipped'>Show the list</a>" as text (it
    made every message plain text): a message with a link is rich text, shown whole."""
    banner = classified.classify_tab.ui.banner
    text = "1 other file skipped (1 document). <a href='#skipped'>Show the list</a>"
    classified.classify_tab.notify(text)
    assert banner.textFormat() == Qt.TextFormat.RichText and banner.text() == text
    classified.classify_tab.notify("Done: 12 images.")
    assert banner.textFormat() == Qt.TextFormat.PlainText


def tab_titles_cut(bar) -> list[str]:
    """Tab titles that do not show whole: the tab narrower than its title needs, or the
    title's elided form (as the tab bar draws it, in the tab's text room) not the title."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QStyle, QStyleOptionTab

    cut = []
    for i in range(bar.count()):
        opt = QStyleOptionTab()
        bar.initStyleOption(opt, i)
        room = bar.style().subElementRect(QStyle.SubElement.SE_TabBarTabText, opt, bar).width()
        title = bar.tabText(i)
        shown = bar.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight, room)
        if shown != title or bar.tabRect(i).width() < bar.tabSizeHint(i).width():
            cut.append(f"tab {title!r} shows {shown!r} in {bar.tabRect(i).width()} px")
    return cut


# A desktop style whose tabs are wider than their text and Qt's common tab spacing (as the
# person's were): the side column must ask the tab bar what its tabs need.
WIDE_TABS = "QTabBar::tab { padding: 4px 14px; }"


@pytest.mark.parametrize("tab_style", ["", WIDE_TABS], ids=["plain", "wide tabs"])
@pytest.mark.parametrize("size", [SMALL, (1366, 768)], ids=["1024x640", "1366x768"])
def test_three_side_tabs_show_their_titles_whole(
    qtbot, window, checkpoint_file, tmp_path, size, tab_style
):
    """Issue 27: with the Evaluation pane up (class-named folders), the side column's three
    tabs read "Det… / Evaluat… / Tim…" at 1024x640; the grid keeps its room meanwhile."""
    tab = window.classify_tab
    side = tab.ui.side
    side.tabs.tabBar().setStyleSheet(tab_style)
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [labelled_folders(tmp_path)])
    qtbot.waitUntil(lambda: tab.trust.evaluation.panel.report is not None)
    settle(window, size)
    assert side.mode == "tabs" and side.tabs.count() == 3
    assert (cut := tab_titles_cut(side.tabs.tabBar())) == [], "\n".join(cut)
    assert (cut := walk_side_panes(window, side)) == [], "\n".join(cut)
    tab.ui.grid.doItemsLayout()
    assert fully_visible_tiles(tab.ui.grid) >= 12  # all 21 images at 1366x768


def test_the_model_line_keeps_the_end_of_a_long_file_name(qtbot, window, checkpoint_file, tmp_path):
    """Issue 27: at 1024x640 the folded Model panel's line read "resnet18 ·
    resnet18_finetuned_on_my_own_phot…": the end that tells checkpoints apart was cut. The
    name is cut in the middle, the engine and the classes left to the tooltip if need be."""
    import shutil

    ckpt = tmp_path / LONG_CHECKPOINT
    shutil.copy(checkpoint_file, ckpt)
    tab = window.classify_tab
    load(qtbot, tab, ckpt)
    run_and_wait(qtbot, tab, [labelled_folders(tmp_path)])  # three side panes: less room
    line = tab.ui.model_line
    for size in (SMALL, (1366, 768)):
        settle(window, size)
        assert line.text().startswith("▸ Model: resnet18 · resnet18_"), line.text()
        assert "_bst.pth" in line.text(), line.text()
        assert LONG_CHECKPOINT in line.toolTip() and "3 classes" in line.toolTip()
        assert line.fontMetrics().horizontalAdvance(line.text()) <= line.width()
    load(qtbot, tab, checkpoint_file)  # a short name: whole, not "colo….pth"
    settle(window, SMALL)
    assert line.text().startswith("▸ Model: resnet18 · colours.pth · 3 classes"), line.text()


def test_the_model_column_fits_beside_three_side_tabs(qtbot, window, checkpoint_file, tmp_path):
    """Issue 27: at 1024x640, with the Evaluation pane up (three side tabs) and the Model panel
    opened by hand, the Model column got 281 px for ~290 px of content: a horizontal scroll
    bar, the panel's right edge cut."""
    tab = window.classify_tab
    load(qtbot, tab, checkpoint_file)
    run_and_wait(qtbot, tab, [labelled_folders(tmp_path)])
    qtbot.waitUntil(lambda: tab.trust.evaluation.panel.report is not None)
    tab.ui.model_line.click()  # opened by hand
    for size in (SMALL, (1366, 768)):
        settle(window, size)
        assert tab.ui.side.tabs.count() == 3 and tab.ui.left.isVisibleTo(window)
        left = tab.ui.left
        assert left.horizontalScrollBar().maximum() == 0, (
            f"{left.width()} px for {left.widget().minimumSizeHint().width()} px of content"
        )
        assert (cut := tab_titles_cut(tab.ui.side.tabs.tabBar())) == [], "\n".join(cut)
        assert (cut := cut_texts(tab.ui.left)) == [], "\n".join(cut)
