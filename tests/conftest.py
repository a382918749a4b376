"""Shared fixtures: Qt offscreen, isolated settings and caches, generated images."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.ray_nodes import use_test_token  # noqa: E402

use_test_token()  # the tests' Ray clusters' token, set before anything imports ray

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_onnx_cache(tmp_path_factory) -> Path:
    """One ONNX export cache for the whole run: exports are keyed by a hash of the weights, so
    the many tests that run the same seeded network share one export (seconds each)."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch, shared_onnx_cache):
    """Per-test cache/data folders and TORCH_HOME, so nothing touches the user's real ones (the
    ONNX exports excepted: see shared_onnx_cache; tests of the cache itself use their own)."""
    base = tmp_path_factory.mktemp("appdirs")
    (base / "cache").mkdir()
    (base / "cache" / "onnx").symlink_to(shared_onnx_cache, target_is_directory=True)
    monkeypatch.setenv("PIGEONHOLE_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("PIGEONHOLE_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("TORCH_HOME", str(base / "torch"))
    yield


@pytest.fixture
def qsettings_isolated(tmp_path):
    """QSettings written under tmp_path (for GUI tests)."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    yield tmp_path / "qs"


@pytest.fixture(scope="module")
def decisive(tmp_path_factory):
    """A model with decisive outputs on red/green/blue photos (see train_helpers)."""
    from tests.core.train_helpers import decisive_model

    return decisive_model(tmp_path_factory.mktemp("decisive"))


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """One Ray cluster for the test session (2 CPUs, a small object store, no dashboard), whose
    workers cannot import torch: the cluster tests join it by its ``address``."""
    pytest.importorskip("ray", reason="the cluster extra (ray[data]) is not installed")
    from tests.core.torch_blocked import blocked_env
    from tests.ray_nodes import RayNodes

    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = blocked_env(tmp_path_factory.mktemp("blocked"))["PYTHONPATH"]
    try:
        nodes = RayNodes(cpus=2)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    yield nodes
    nodes.stop()
