"""`pigeonhole models` lists every torchvision classifier with its metadata."""

from __future__ import annotations

import json
import subprocess
import sys

import torchvision
from torchvision.models import list_models

from pigeonhole.cli import main


def test_models_table_lists_every_arch(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in list_models(module=torchvision.models):
        assert any(line[1:].split()[0] == name for line in lines[2:] if line.strip()), name
    # the seeds come first and are marked
    assert lines[2].startswith("*resnet18")
    assert "69.8%" in lines[2] and "11.7M" in lines[2]


def test_models_json(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(list_models(module=torchvision.models))
    inc = next(r for r in rows if r["name"] == "inception_v3")
    assert (inc["resize"], inc["crop"]) == (342, 299)


def test_models_family_filter(capsys):
    assert main(["models", "--family", "vgg", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["family"] for r in rows} == {"VGG"} and len(rows) == 8


def test_unknown_subcommand_exits_nonzero():
    r = subprocess.run(
        [sys.executable, "-m", "pigeonhole", "frobnicate"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_models_say_which_weights_are_on_this_computer(capsys, tmp_path):
    """Reported: `models` did not say which weights were already downloaded. TORCH_HOME is
    per test (tests/conftest.py): a file under the expected name counts as downloaded."""
    import os

    from pigeonhole.core.models.archs import get_arch

    spec = get_arch("squeezenet1_1")
    target = os.path.join(os.environ["TORCH_HOME"], "hub", "checkpoints")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, os.path.basename(spec.weights_url)), "wb") as fh:
        fh.write(b"stand-in")  # listing only looks for the file
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["squeezenet1_1"]["weights_on_disk"] is True
    assert rows["resnet18"]["weights_on_disk"] is False
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x[1:].startswith("squeezenet1_1 "))
    assert line.rstrip().endswith("on disk")
    assert "ImageNet weights on this computer: 1" in out
