"""Packaging: the Linux installer scripts (fast, on a stand-in app folder) and, opt-in, the real
PyInstaller bundle built from a clean checkout.

The bundle test takes ~10 minutes and ~10 GB of temporary disk, so it runs only with
``PIGEONHOLE_TEST_PACKAGING=1``; it reuses the current interpreter's packages (PyInstaller
included: ``pip install ".[build]"``) instead of installing 5 GB of torch into a fresh venv.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "resources" / "linux"

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux installer")


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PIGEONHOLE_"))}
    env.update(HOME=str(home), **extra)
    return env


def _fake_dist(root: Path, version: str = "9.9.9", lite: bool = False) -> Path:
    """A stand-in for dist/Pigeonhole: an executable that answers --version, plus a library
    (``lite``: dist/Pigeonhole-lite, which says so in resources/bundle.json, and no torch)."""
    dist = root / ("Pigeonhole-lite" if lite else "Pigeonhole")
    if lite:
        (dist / "_internal" / "resources").mkdir(parents=True)
        (dist / "_internal" / "resources" / "bundle.json").write_text('{"bundle": "lite"}\n')
        (dist / "_internal" / "onnxruntime").mkdir()
        (dist / "_internal" / "onnxruntime" / "libonnxruntime.so").write_bytes(b"\x7fELF fake")
    else:
        (dist / "_internal" / "torch").mkdir(parents=True)
        (dist / "_internal" / "torch" / "libtorch.so").write_bytes(b"\x7fELF fake")
    exe = dist / "Pigeonhole"
    exe.write_text(f'#!/bin/sh\necho "pigeonhole {version}"\necho "args: $*" >&2\n')
    exe.chmod(0o755)
    return dist


def _make_tarball(dist: Path, out: Path) -> Path:
    proc = subprocess.run(
        ["sh", str(LINUX / "make-tarball.sh"), str(dist), str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == out.resolve()
    return out


def _unpack(tarball: Path, dest: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="tar")
    (folder,) = dest.iterdir()
    return folder


def _desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text())
    return dict(parser["Desktop Entry"])


def _run(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _all_paths(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def check_install_and_uninstall(unpacked: Path, home: Path, *, expect_version: str) -> None:
    """install.sh into ``home``, check every piece, uninstall.sh, check nothing is left."""
    env = _clean_env(home)
    (home / ".local" / "bin").mkdir(parents=True)  # pre-existing: must survive uninstall
    (home / ".local" / "bin" / "other-tool").write_text("#!/bin/sh\n")
    before = _all_paths(home)

    _run(unpacked / "install.sh", env)
    share = home / ".local" / "share"
    app = share / "pigeonhole" / "app" / "Pigeonhole"
    assert app.is_file() and os.access(app, os.X_OK)
    launcher = home / ".local" / "bin" / "pigeonhole"
    version = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.split() == ["pigeonhole", expect_version]

    entry = _desktop_entry(share / "applications" / "pigeonhole.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "Pigeonhole"
    assert entry["Exec"] == f'"{app}" gui %F'
    assert entry["TryExec"] == str(app)
    assert entry["Icon"] == "pigeonhole" and entry["Terminal"] == "false"
    mime = entry["MimeType"].rstrip(";").split(";")
    assert {"inode/directory", "image/jpeg", "image/png"} <= set(mime)
    for size in (256, 512):
        icon = share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "pigeonhole.png"
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(share / "applications" / "pigeonhole.desktop")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr

    manifest = (share / "pigeonhole" / "install-manifest.txt").read_text().splitlines()
    assert str(launcher) in manifest and f"{share / 'pigeonhole' / 'app'}/" in manifest
    assert f"{home / '.local' / 'bin'}/" not in manifest  # existed before: not ours

    _run(share / "pigeonhole" / "uninstall.sh", env)
    assert _all_paths(home) == before


@linux_only
def test_linux_tarball_installs_and_uninstalls_cleanly(tmp_path):
    dist = _fake_dist(tmp_path / "dist")
    tarball = _make_tarball(dist, tmp_path / "out" / "pigeonhole.tar.gz")
    unpacked = _unpack(tarball, tmp_path / "unpacked")
    assert unpacked.name == f"pigeonhole-9.9.9-linux-{os.uname().machine}"
    names = {p.name for p in unpacked.iterdir()}
    assert names == {
        "Pigeonhole",
        "install.sh",
        "uninstall.sh",
        "pigeonhole.desktop",
        "icons",
        "README.txt",
    }
    assert (unpacked / "Pigeonhole" / "_internal" / "torch" / "libtorch.so").is_file()
    check_install_and_uninstall(unpacked, tmp_path / "home", expect_version="9.9.9")


@linux_only
def test_the_lite_bundle_packs_as_the_lite_edition_and_installs_the_same_way(tmp_path):
    dist = _fake_dist(tmp_path / "dist", lite=True)
    tarball = _make_tarball(dist, tmp_path / "out" / "pigeonhole-lite.tar.gz")
    unpacked = _unpack(tarball, tmp_path / "unpacked")
    assert unpacked.name == f"pigeonhole-lite-9.9.9-linux-{os.uname().machine}"
    assert (unpacked / "Pigeonhole" / "_internal" / "onnxruntime" / "libonnxruntime.so").is_file()
    readme = (unpacked / "README.txt").read_text()
    assert "lite edition" in readme and "Training" in readme
    check_install_and_uninstall(unpacked, tmp_path / "home", expect_version="9.9.9")


@linux_only
def test_installing_again_replaces_the_old_version_and_honours_xdg_data_home(tmp_path):
    home, data = tmp_path / "home", tmp_path / "xdg data"  # a space in the path
    home.mkdir()
    env = _clean_env(home, XDG_DATA_HOME=str(data))
    old = _unpack(
        _make_tarball(_fake_dist(tmp_path / "a", "1.0"), tmp_path / "a.tgz"), tmp_path / "ua"
    )
    new = _unpack(
        _make_tarball(_fake_dist(tmp_path / "b", "2.0"), tmp_path / "b.tgz"), tmp_path / "ub"
    )
    (old / "Pigeonhole" / "_internal" / "stale.so").write_bytes(b"old")
    (new / "Pigeonhole" / "_internal" / "torch" / "libtorch.so").unlink()

    _run(old / "install.sh", env)
    app = data / "pigeonhole" / "app"
    assert (app / "_internal" / "stale.so").exists()
    _run(new / "install.sh", env)
    out = subprocess.run([str(app / "Pigeonhole"), "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == "pigeonhole 2.0"
    assert not (app / "_internal" / "stale.so").exists()  # no files mixed from the old version
    entry = _desktop_entry(data / "applications" / "pigeonhole.desktop")
    assert entry["Exec"] == f'"{app / "Pigeonhole"}" gui %F'
    assert not (home / ".local" / "share").exists()

    _run(data / "pigeonhole" / "uninstall.sh", env)
    assert not data.exists()  # every folder was created by the installer, so all are gone
    assert _all_paths(home) == []


@linux_only
def test_desktop_exec_line_escapes_reserved_characters(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / 'we$ird "dir" `x` 100%'
    env = _clean_env(home, XDG_DATA_HOME=str(data))
    unpacked = _unpack(
        _make_tarball(_fake_dist(tmp_path / "d"), tmp_path / "d.tgz"), tmp_path / "u"
    )
    _run(unpacked / "install.sh", env)
    raw = (data / "applications" / "pigeonhole.desktop").read_text()
    exec_line = next(line for line in raw.splitlines() if line.startswith("Exec="))
    app = str(data / "pigeonhole" / "app" / "Pigeonhole")
    expected = app.replace("\\", "\\\\\\\\")
    for ch in '"`$':
        expected = expected.replace(ch, "\\\\" + ch)
    assert exec_line == f'Exec="{expected.replace("%", "%%")}" gui %F'
    _run(data / "pigeonhole" / "uninstall.sh", env)
    assert not data.exists()


@pytest.mark.packaging
@pytest.mark.skipif(
    os.environ.get("PIGEONHOLE_TEST_PACKAGING") != "1",
    reason="builds the 2-5 GB PyInstaller bundle; set PIGEONHOLE_TEST_PACKAGING=1",
)
@linux_only
@pytest.mark.parametrize("bundle", ["full", "lite"])
def test_frozen_bundle_from_clean_checkout(tmp_path, bundle):
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(src)], check=True, timeout=300)

    # The docs' commands (PyInstaller from the current environment).
    t0 = time.perf_counter()
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "build.spec", "--noconfirm"],
        cwd=src,
        env={**os.environ, "PIGEONHOLE_BUNDLE": bundle},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    build_s = time.perf_counter() - t0
    assert build.returncode == 0, build.stderr[-5000:]
    dist = src / "dist" / ("Pigeonhole-lite" if bundle == "lite" else "Pigeonhole")
    exe = dist / "Pigeonhole"
    assert exe.is_file()
    internal = dist / "_internal"
    if bundle == "full":
        assert list((internal / "torchvision").glob("_C*")), "torchvision's native ops missing"
    else:
        assert not (internal / "torch").exists() and not (internal / "torchvision").exists()
        assert (internal / "resources" / "selftest" / "selftest.onnx").is_file()
    assert (internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqoffscreen.so").exists()
    assert not list(internal.rglob("*QtWebEngine*")) and not (internal / "triton").exists()
    size = sum(p.stat().st_size for p in dist.rglob("*") if p.is_file() and not p.is_symlink())
    if bundle == "lite":
        assert size < 400e6, f"the lite bundle is {size / 1e6:.0f} MB"

    home = tmp_path / "home"
    home.mkdir()
    report = tmp_path / "report.json"
    env = _clean_env(home, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    t0 = time.perf_counter()
    run = subprocess.run(
        [str(exe), "--self-test", "--report", str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    selftest_s = time.perf_counter() - t0
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads(report.read_text())
    assert data["passed"] is True and data["frozen"] is True and data["bundle"] == bundle
    status = {s["name"]: s["status"] for s in data["steps"]}
    assert status.pop("onnx") == "passed"  # classifies with an ONNX model, in both
    if bundle == "full":
        assert set(status.values()) == {"passed"}
    else:  # no PyTorch: its steps are not in this build, and say so
        assert status.pop("qt") == status.pop("imports") == "passed"
        assert set(status.values()) == {"unavailable"}
    qt = next(s for s in data["steps"] if s["name"] == "qt")["details"]
    assert qt["platform"] == "offscreen"

    print(
        f"\n{bundle} bundle: {size / 1e9:.2f} GB, build {build_s:.0f} s, frozen self-test {selftest_s:.1f} s, "
        f"launch to window {qt['launch_to_window_s']:.2f} s (window itself {qt['window_show_s']:.2f} s)"
    )

    tarball = _make_tarball(dist, tmp_path / "Pigeonhole-linux.tar.gz")
    shutil.rmtree(src / "build", ignore_errors=True)  # free the disk before unpacking
    unpacked = _unpack(tarball, tmp_path / "unpacked")
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    check_install_and_uninstall(
        unpacked, tmp_path / "install-home", expect_version=version.stdout.split()[-1]
    )


def test_the_wheel_claims_only_the_pigeonhole_name(tmp_path):
    """`pip install .` must not put `core`, `gui`, `resources` or `weights` into site-packages:
    everything lives under `pigeonhole` (setuptools' package-dir mapping in pyproject.toml)."""
    import zipfile

    # Built from a copy: setuptools leaves a build/ folder beside the sources it builds.
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info",
                                  "__pycache__", ".pytest_cache", ".ruff_cache", "shots")  # fmt: skip
    shutil.copytree(ROOT, src, ignore=skip)
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("pigeonhole-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"pigeonhole"}
    for needed in ("pigeonhole/cli.py", "pigeonhole/core/models/checkpoints.py",
                   "pigeonhole/gui/style.qss", "pigeonhole/resources/icons/pigeonhole.png",
                   "pigeonhole/core/models/identity_hints.json",
                   "pigeonhole/weights/README.md"):  # fmt: skip
        assert needed in names
    # every module of the product, so a new package cannot be left out of pyproject's list
    for folder, installed in (("pigeonhole", "pigeonhole"), ("core", "pigeonhole/core"),
                              ("gui", "pigeonhole/gui")):  # fmt: skip
        for py in (ROOT / folder).rglob("*.py"):
            assert f"{installed}/{py.relative_to(ROOT / folder).as_posix()}" in names, py
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        assert "pigeonhole = pigeonhole.cli:main" in zf.read(entry_points).decode()
