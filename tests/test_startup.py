"""Import discipline at start-up (no timings): what answers at once never imports torch, the
main window opens (and takes a drop) before torch is imported, and opens without torch at all
(the lite install), saying where the full install is needed. Each check runs in a fresh
interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _python(args: list[str], tmp_path: Path, path: str = "") -> subprocess.CompletedProcess:
    """Run Python in a fresh process; ``path`` goes first on its PYTHONPATH."""
    pythonpath = os.pathsep.join(p for p in (path, str(ROOT)) if p)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=pythonpath,
               PIGEONHOLE_DATA_DIR=str(tmp_path / "data"),
               PIGEONHOLE_CACHE_DIR=str(tmp_path / "cache"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))  # fmt: skip
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def _version() -> str:
    from pigeonhole.core import __version__

    return __version__


# argv, exit code, the text it must print (stdout for an answer, one stderr line for an error)
ANSWERS = [
    (["--version"], 0, f"pigeonhole {_version()}"),
    (["--help"], 0, "usage: pigeonhole"),
    (["predict"], 2, "the following arguments are required: PATH"),
    (
        ["predict", "x.jpg", "--precision", "fp64"],
        2,
        "argument --precision: invalid choice: 'fp64'",
    ),
    (["bench", "--engine", "tensorrt"], 2, "argument --engine: invalid choice: 'tensorrt'"),
    (["nonsense"], 2, "argument COMMAND: invalid choice: 'nonsense'"),
]


@pytest.mark.parametrize(
    "argv, code, text", ANSWERS,
    ids=["version", "help", "missing-path", "bad-precision", "bad-engine", "bad-command"],
)  # fmt: skip
def test_answers_that_need_no_model_never_import_torch(argv, code, text, tmp_path):
    program = (
        "import sys\n"
        "from pigeonhole.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "print('exit', code)\n"
        "print('torch' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = _python(["-c", program], tmp_path)
    said = out.stdout + out.stderr
    assert out.returncode == 0, said
    *printed, exit_line, imported = out.stdout.strip().splitlines()
    assert imported == "False False", said
    assert exit_line == f"exit {code}", said
    if code == 0:  # the answer on stdout, nothing on stderr
        assert printed and printed[0].startswith(text) and out.stderr == "", said
    else:  # nothing on stdout, one error line on stderr
        assert printed == [] and out.stderr.count("\n") == 1, said
        assert out.stderr.startswith("pigeonhole: error: ") and text in out.stderr, said


def test_the_window_is_ready_before_torch_is_imported(tmp_path):
    """run_gui shows the main window, and its drop zone takes a drop, before anything imports
    torch (benchmarks/startup_probe.py notes, at the first paint and at the drop, whether
    torch is imported); torch then loads on a worker."""
    out = _python([str(ROOT / "benchmarks" / "startup_probe.py")], tmp_path)
    seen = [(line.split()[0], line.split()[2]) for line in out.stdout.strip().splitlines()]
    assert seen[0] == ("MainWindow", "False"), out.stdout + out.stderr
    assert [name for name, _ in seen] == ["MainWindow", "DropAccepted"], out.stdout + out.stderr


# Builds the main window as run_gui does, shows it, and prints what the tests check; then shows
# the Train tab (which imports torch on a worker: training is near) and waits for its answer.
WINDOW = """
import sys, time
from PySide6.QtCore import QEventLoop
from pigeonhole.gui.app import ensure_app
from pigeonhole.gui.main_window import MainWindow
from pigeonhole.gui.classify.tab import ClassifyTab
from pigeonhole.gui.train.tab import TrainTab

app = ensure_app()
w = MainWindow()
w.show()
app.processEvents()  # painted, and the autoload timer has fired
w.load_in_background()  # as run_gui does (torch only where a GPU is likely)
app.processEvents()
assert isinstance(w.classify_tab, ClassifyTab) and isinstance(w.train_tab, TrainTab)
mp = w.classify_tab.ui.model_panel
print("shown torch:", "torch" in sys.modules, "torchvision" in sys.modules)
print("networks:", mp.arch.count() > 50, w.train_tab.network.picker.count() > 50)
w.tabs.setCurrentWidget(w.train_tab)
print("panel:", mp.status.text())
deadline = time.monotonic() + 240
while mp.torch_facts.facts is None and time.monotonic() < deadline:
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
engine = mp.engine.model().item(mp.engine.findData("torch"))
print("engine torch:", engine.isEnabled(), engine.toolTip())
print("devices:", [mp.device.itemData(i) for i in range(mp.device.count())])
print("train start:", w.train_tab.start_button.isEnabled())
print("train notice:", w.train_tab.notice.isVisibleTo(w.train_tab), w.train_tab.notice.text())
print("export:", w.classify_tab.model_actions.act_export_model.text())
print("torch at the end:", "torch" in sys.modules)
w.close()
"""


def _no_torch(tmp_path: Path) -> Path:
    """A folder that, first on PYTHONPATH, makes importing torch and torchvision raise."""
    blocked = tmp_path / "blocked"
    for name in ("torch", "torchvision"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    return blocked


def _lines(out: subprocess.CompletedProcess) -> dict[str, str]:
    """The window script's lines, "what: value", as a dict."""
    return dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)


def test_the_main_window_opens_without_importing_torch(tmp_path):
    """Both tabs are built and shown, the networks listed, without torch; showing the Train
    tab starts importing it on a worker, and the Model panel says so meanwhile."""
    out = _python(["-c", WINDOW], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = _lines(out)
    assert lines["shown torch"] == "False False", out.stdout + out.stderr
    assert lines["networks"] == "True True"  # the registry reads without torch
    assert lines["panel"] == "Loading PyTorch…"  # the Train tab shown: torch is coming
    assert lines["engine torch"].startswith("True")
    assert lines["torch at the end"] == "True"
    assert "needs the full install" not in out.stdout


def test_without_torch_the_window_opens_and_says_what_needs_the_full_install(tmp_path):
    """The lite install: torch and torchvision cannot be imported (here: packages that raise
    ImportError, first on the path). The window opens all the same; training, PyTorch's engine,
    GPUs and exporting a model say plainly that they need the full install."""
    blocked = _no_torch(tmp_path)
    out = _python(["-c", WINDOW], tmp_path, path=str(blocked))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = _lines(out)
    assert lines["shown torch"] == "False False", out.stdout + out.stderr
    assert lines["engine torch"].startswith("False PyTorch needs the full install")
    assert lines["devices"] == "['auto', 'cpu', 'gpu']"  # the GPU: "needs the full install"
    assert lines["train start"] == "False"
    assert lines["train notice"].startswith("True Training needs the full install")
    assert "needs the full install" in lines["export"]


# The last session's model is an ONNX file: the window loads it at start and classifies a
# dropped folder with it, without importing torch (the lite install's whole use).
ONNX_WINDOW = """
import sys, time
from PySide6.QtCore import QEventLoop, QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from pigeonhole.gui.app import ensure_app
from pigeonhole.gui.main_window import MainWindow

def wait(condition):
    deadline = time.monotonic() + 240
    while not condition() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

model, folder = sys.argv[1], sys.argv[2]
app = ensure_app()
settings = QSettings()
settings.setValue("model/weights", "checkpoint")
settings.setValue("model/checkpoint", model)
w = MainWindow()
w.show()
tab = w.classify_tab
mp = tab.ui.model_panel
wait(lambda: mp.loaded is not None and not mp.busy)
print("loaded:", mp.loaded.arch, list(mp.loaded.class_names), "torch" in sys.modules)
done = []
tab.runs.finished.connect(done.append)
zone = tab.ui.drop_zone
mime = QMimeData()
mime.setUrls([QUrl.fromLocalFile(folder)])
pos = QPoint(zone.width() // 2, zone.height() // 2)
args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
app.sendEvent(zone, QDragEnterEvent(pos, *args))
app.sendEvent(zone, QDropEvent(QPointF(pos), *args))
wait(lambda: done)
print("classified:", tab.results.rowCount(), "torch" in sys.modules)
export = tab.model_actions.act_export_model
print("export:", export.isEnabled(), export.toolTip())
w.close()
"""


def test_an_onnx_model_chosen_last_time_loads_and_classifies_a_drop_without_torch(tmp_path):
    """Torch and torchvision cannot be imported; the ONNX model chosen last time is loaded at
    start, and a folder dropped on the window is classified with it."""
    from pigeonhole.core.data.synthetic import make_class_folders
    from pigeonhole.selftest_steps import CLASSES, make_onnx_model

    model = make_onnx_model(tmp_path / "colours.onnx")
    folder = make_class_folders(tmp_path / "photos", per_class=3, classes=CLASSES)
    blocked = _no_torch(tmp_path)
    out = _python(["-c", ONNX_WINDOW, str(model), str(folder)], tmp_path, path=str(blocked))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = _lines(out)
    assert lines["loaded"] == f"{'mobilenet_v3_small'} {list(CLASSES)} False", out.stdout
    assert lines["classified"] == "6 False", out.stdout + out.stderr
    assert (
        lines["export"]
        == "False The model in use is an ONNX file already: export a PyTorch checkpoint"
    )
