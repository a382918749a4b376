"""`pigeonhole predict` and `pigeonhole bench`: outputs, exit codes, one-line errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pigeonhole.cli import main
from pigeonhole.core.data.synthetic import make_class_folders
from pigeonhole.core.models.archs import TransformSpec, build_model
from pigeonhole.core.models.checkpoints import save_checkpoint
from tests.core.broken_images import write_corpus
from tests.core.phone_dump import FAILED, ROW, SKIPPED, write_phone_dump

ROOT = Path(__file__).resolve().parent.parent
SMALL = TransformSpec(resize=72, crop=64)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    model = build_model("resnet18", 3)
    ck = base / "pets.pth"
    save_checkpoint(ck, model, "resnet18", ["cat", "dog", "bird"], SMALL)
    raw = base / "raw_state_dict.pt"  # no arch, no class names: both must be worked out
    torch.save(model.state_dict(), raw)
    return ck, raw


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    make_class_folders(root / "good", 3, ("red", "blue"), size=(80, 60))
    corpus = write_corpus(root / "corpus")
    n = 6 + len(corpus.expected)
    return root, corpus, n


@pytest.fixture(scope="module")
def decisive_file(tmp_path_factory, decisive):
    """A decisive model saved as a Pigeonhole checkpoint, and a labelled folder to check it on."""
    base = tmp_path_factory.mktemp("decisive-file")
    path = base / "colours.pth"
    save_checkpoint(path, decisive.model, "resnet18", decisive.class_names, decisive.transform)
    folder = make_class_folders(base / "val", 6, ("red", "green", "blue"), size=(320, 240))
    return path, folder


def _one_error_line(err: str, words: str) -> None:
    """One error line; the model's preprocessing line may come first (a loaded model's)."""
    lines = [ln for ln in err.strip().splitlines() if ln]
    if lines and lines[0].startswith("pigeonhole: preprocessing:") and len(lines) > 1:
        lines = lines[1:]
    assert len(lines) == 1, err
    assert lines[0].startswith("pigeonhole: error:") and words in lines[0], err
    assert "Traceback" not in err


def test_predict_csv(tmp_path, model_files, photos, capsys):
    root, corpus, n = photos
    out = tmp_path / "res.csv"
    assert main(["predict", str(root), "--checkpoint", str(model_files[0]), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert len(rows) == n
    for c in (
        "path",
        "label",
        "predicted_confidence",
        "decode_ms",
        "infer_ms",
        "error",
        "top3_score",
    ):
        assert c in rows[0]
    assert "top4_label" not in rows[0]  # --topk 5 (the default) capped at the 3 classes
    by_name = {Path(r["path"]).name: r for r in rows}
    for name, words in corpus.expected.items():
        r = by_name[name]
        if words is None:
            assert (
                r["label"] in ("cat", "dog", "bird") and 0 < float(r["predicted_confidence"]) <= 1
            )
        else:
            assert r["label"] == "" and words in r["error"]
    assert by_name["red_000.jpg"]["top3_label"] != ""
    err = capsys.readouterr().err
    assert f"of {n} images ({len(corpus.bad)} could not be read, {len(corpus.ignored)} other" in err


def test_predict_phone_dump_accounts_for_every_file(tmp_path, model_files, capsys):
    """A phone dump: each file exactly one row or one skipped entry with its reason; the
    summary says what was skipped by reason; --list-skipped names the files; with
    --include-skipped the CSV and the JSON have a row per file and a status column."""
    dump = write_phone_dump(tmp_path / "dump")
    ckpt = str(model_files[0])
    out = tmp_path / "all.csv"
    argv = ["predict", str(dump.root), "--checkpoint", ckpt, "--out", str(out), "--quiet"]
    assert main([*argv, "--include-skipped", "--list-skipped"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for line in ("pigeonhole: 1 video (.MOV) skipped", "pigeonhole: 1 edit sidecar (.AAE) skipped",
                 "pigeonhole: (1 hidden file or folder and 1 macOS resource fork (._) skipped)",
                 "1 video (.MOV) skipped:", f"  {dump.root / 'IMG_0001.AAE'}",
                 f"  {dump.root / '._IMG_0001.HEIC'}"):  # fmt: skip
        assert line in err.splitlines(), (line, err)
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    by_name = {Path(r["path"]).name: r for r in rows}
    assert len(rows) == len(by_name) == len(dump.expected)
    status = {ROW: "classified", FAILED: "failed", SKIPPED: "skipped"}
    for name, (kind, detail) in dump.expected.items():
        r = by_name[name]
        assert r["status"] == status[kind], (name, r)
        if kind == ROW:
            assert r["label"] in ("cat", "dog", "bird") and not r["error"]
        elif kind == FAILED:
            assert detail in r["error"] and not r["label"]
    assert by_name["IMG_0001.MOV"]["error"] == "video"
    # JSON: the same rows; the summary counts the groups without naming them again.
    out_json = tmp_path / "all.json"
    assert main([*argv[:-3], "--out", str(out_json), "--quiet", "--include-skipped"]) == 0
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert len(doc["predictions"]) == len(dump.expected) and "status" in doc["columns"]
    groups = {g["reason"]: g["count"] for g in doc["summary"]["skipped_groups"]}
    assert groups == {"video": 1, "sidecar": 1, "hidden": 1, "fork": 1}
    # Without --include-skipped: no status column, no skipped rows; without --out: refused.
    assert main(argv) == 0
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert "status" not in rows[0] and len(rows) == len(dump.names(ROW) | dump.names(FAILED))
    assert "--list-skipped names the skipped files" in capsys.readouterr().err
    assert main(["predict", str(dump.root), "--checkpoint", ckpt, "--include-skipped"]) == 2
    _one_error_line(capsys.readouterr().err, "--include-skipped adds rows to --out")


def test_predict_int8_says_its_agreement_with_fp32_before_the_results(model_files, photos, capsys):
    """int8 calibrates on the folder being classified, and the measured agreement (or that it
    could not be measured) comes before any result; the summary names the engine."""
    root, _, _ = photos
    argv = ["predict", str(root / "good"), "--checkpoint", str(model_files[0]), "--precision",
            "int8", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 6
    lines = err.strip().splitlines()
    note = next(i for i, ln in enumerate(lines) if ln.startswith("pigeonhole: int8: "))
    assert "agrees with fp32 on" in lines[note] and "held-out" in lines[note]
    assert note < len(lines) - 1 and "onnxruntime, int8" in lines[-1]
    assert main(argv[:-3] + ["--engine", "torch", "--precision", "int8"]) == 2
    assert "int8 runs on ONNX Runtime" in capsys.readouterr().err


def test_predict_json_stdout_and_identified_arch(tmp_path, model_files, photos, capsys):
    root, corpus, n = photos
    out = tmp_path / "res.json"
    argv = ["predict", str(root / "good"), "--checkpoint", str(model_files[1]), "--topk", "2",
            "--batch-size", "2", "--workers", "1", "--precision", "fp32", "--device", "cpu",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    s = doc["summary"]
    assert s["arch"] == "resnet18" and s["processed"] + s["skipped"] == s["images"] == 6
    assert s["batch_size"] == 2 and len(doc["predictions"][0]["topk"]) == 2
    capsys.readouterr()
    assert main(["predict", str(root / "corpus"), "--checkpoint", str(model_files[0])]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(corpus.expected)
    fields = [ln.split("\t") for ln in lines]
    assert all(len(f) == 3 for f in fields)
    assert Path(fields[0][0]).name == "01_good.jpg" and fields[0][1] in ("cat", "dog", "bird")
    assert fields[3][1] == "-" and fields[3][2] == "error: empty file (0 bytes)"


@pytest.mark.parametrize(
    "case",
    [
        "bad_checkpoint",
        "unknown_arch",
        "no_images",
        "bad_out",
        "offline_pretrained",
        "missing_ckpt",
        "gpu_decode_without_gpu",
    ],
)
def test_predict_errors_are_one_line(tmp_path, model_files, photos, capsys, case):
    root = photos[0]
    bad = tmp_path / "broken.pth"
    bad.write_bytes(os.urandom(2000))
    (tmp_path / "empty").mkdir()
    argv, words = {
        "bad_checkpoint": (["predict", str(root), "--checkpoint", str(bad)], "broken.pth"),
        "unknown_arch": (
            ["predict", str(root), "--arch", "resnet999", "--pretrained"],
            "resnet999",
        ),
        "no_images": (
            ["predict", str(tmp_path / "empty"), "--checkpoint", str(model_files[0])],
            "No images found",
        ),
        "bad_out": (
            [
                "predict",
                str(root),
                "--checkpoint",
                str(model_files[0]),
                "--out",
                str(tmp_path / "r.txt"),
            ],
            ".csv or .json",
        ),
        "offline_pretrained": (
            ["predict", str(root), "--arch", "resnet18", "--pretrained"],
            "resnet18",
        ),
        "missing_ckpt": (
            ["predict", str(root), "--checkpoint", str(tmp_path / "nope.pth")],
            "nope.pth",
        ),
        "gpu_decode_without_gpu": (
            [
                "predict",
                str(root),
                "--checkpoint",
                str(model_files[0]),
                "--device",
                "cpu",
                "--decode",
                "gpu",
            ],
            "Decoding on the GPU (--decode gpu) needs a CUDA device",
        ),  # fmt: skip
    }[case]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, words)
    assert not (tmp_path / "r.txt").exists()


def test_real_exit_code_without_traceback(tmp_path, photos):
    bad = tmp_path / "model.pth"
    bad.write_bytes(b"not a checkpoint at all")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "pigeonhole", "predict", str(photos[0]), "--checkpoint", str(bad)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    _one_error_line(proc.stderr, "model.pth")


@pytest.mark.parametrize(
    "flags, preprocessing",
    [([], "ImageNet: 256 → crop 224, mean/std (assumed"),
     (["--preprocess", "classification-pytorch-letterbox"],
      "classification-pytorch: letterbox 224 on grey, bicubic, [-1, 1] (chosen by you")],
    ids=["default", "letterbox"],
)  # fmt: skip
def test_bench_reports_all_three(tmp_path, capsys, monkeypatch, flags, preprocessing):
    """The naive loop builds its torchvision transforms from the model's preprocessing, so the
    pipeline agrees with it whatever that is."""
    from pigeonhole.core.bench import formats, measure, suite

    monkeypatch.setattr(measure, "DRAFT_IMAGES", 2)  # keep the test quick; same code path
    small = [(f"{fmt} 96x72", fmt, (96, 72)) for fmt in ("jpeg", "heic", "avif", "dng")]
    monkeypatch.setattr(formats, "DECODE_SAMPLES", small)  # the same table, small files
    monkeypatch.setattr(suite, "bf16_is_fast", lambda: False)
    out = tmp_path / "bench.json"
    argv = [
        "bench",
        "--arch",
        "squeezenet1_1",
        "--images",
        "4",
        "--batch-size",
        "2",
        "--json",
        str(out),
        *flags,
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"preprocessing: {preprocessing}"), text
    for words in (
        "naive loop",
        "model only (torch fp32",
        "pipeline (torch fp32)",
        "pipeline (onnxruntime fp32)",
        "pipeline (onnxruntime int8)",
        "decode ceiling, Pillow on",
        "top-1 identical 100.0%",
        "draft decode",
        "of model",  # the side-by-side table
        "decode + resize + crop to",  # the decode cost per format
        "heic 96x72",
        "RAW preview",
    ):
        assert words in text, text
    doc = json.loads(out.read_text())
    rows = {(r["engine"], r["precision"]): r for r in doc["rows"]}
    assert set(rows) == {("torch", "fp32"), ("onnxruntime", "fp32"), ("onnxruntime", "int8")}
    assert doc["images"] == 4 and doc["naive_ips"] > 0
    for row in rows.values():
        assert row["pipeline_ips"] > 0 and row["model_only_ips"] > 0
    for fp32 in (rows["torch", "fp32"], rows["onnxruntime", "fp32"]):
        assert fp32["top1_identical_pct"] == 100.0 and fp32["max_logit_diff"] < 1e-3
    assert 0 <= doc["draft"]["top1_agreement"] <= 100
    assert [r["fmt"] for r in doc["formats"]] == ["jpeg", "heic", "avif", "dng"]
    assert all(r["ms"] > 0 for r in doc["formats"])


def test_bench_keep_times_each_engine_with_and_without_maps(tmp_path, capsys, monkeypatch):
    """--keep: per engine, the window's Classifier with maps and embeddings kept against one
    without, each repeat's ratio, and what one image keeps (10 classes on ResNet-18's 7x7
    grid: 10 x 49 B of maps and 512 float16 = 1,514 B)."""
    from pigeonhole.core.bench import measure

    monkeypatch.setattr(measure, "DRAFT_IMAGES", 2)
    out = tmp_path / "bench.json"
    argv = ["bench", "--arch", "resnet18", "--classes", "10", "--images", "4", "--batch-size",
            "2", "--engine", "torch", "--no-formats", "--keep", "2", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "maps + embeddings kept (torch fp32, 10 classes)" in text, text
    assert "1.51 KB per image, 76 MB per 50,000 images" in text and "MB/50k" in text, text
    (row,) = json.loads(out.read_text())["keep"]
    assert len(row["ratios"]) == len(row["with_ips"]) == len(row["load"]) - 1 == 2
    assert row["batch_ratio"] > 0 and "one batch's forward + keeping, CPU time" in text
    assert row["ratio"] > 0 and row["bytes_per_image"] == 10 * 49 + 512 * 2
    assert row["outputs"] == ["cam", "embedding"]


def test_whole_pickled_model_needs_trust_checkpoint(tmp_path, photos, capsys):
    """A torch.save(model) file is refused (with the flag to use named), and loads when trusted."""
    root, _, _ = photos
    torch.manual_seed(0)
    whole = tmp_path / "whole.pth"
    torch.save(build_model("resnet18", 2), whole)
    args = ["predict", str(root / "good"), "--arch", "resnet18", "--checkpoint", str(whole)]
    assert main(args + ["--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "--trust-checkpoint")
    out = tmp_path / "r.csv"
    assert main(args + ["--quiet", "--trust-checkpoint", "--out", str(out)]) == 0
    assert len(out.read_text().strip().splitlines()) == 1 + 6


def test_a_forced_arch_that_contradicts_the_weights_is_an_error(
    tmp_path, model_files, photos, capsys
):
    root = photos[0]
    args = ["predict", str(root / "good"), "--checkpoint", str(model_files[0]), "--quiet"]
    assert main(args + ["--arch", "resnet34"]) == 2
    _one_error_line(capsys.readouterr().err, "does not fit resnet34")
    assert main(args + ["--arch", "resnet34", "--allow-partial"]) == 0
    err = capsys.readouterr().err
    assert "partial load into resnet34" in err
    assert main(["predict", str(root), "--allow-partial", "--arch", "resnet18"]) == 2
    _one_error_line(capsys.readouterr().err, "--allow-partial needs both")


def test_evaluate_reports_accuracy_and_adds_the_true_label(tmp_path, decisive_file, capsys):
    """`predict --evaluate` on folder-per-class data: accuracy, the per-class table, and a
    true_label column; images outside class folders simply have no truth."""
    path, folder = decisive_file
    out = tmp_path / "eval.csv"
    assert (
        main(["predict", str(folder), "--checkpoint", str(path), "--evaluate", "--out", str(out)])
        == 0
    )
    err = capsys.readouterr().err
    assert "pigeonhole: evaluation: accuracy" in err and "precision  recall" in err
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    assert {r["true_label"] for r in rows} == {"red", "green", "blue"}
    right = sum(r["label"] == r["true_label"] for r in rows) / len(rows)
    assert f"accuracy {right:.1%} on {len(rows)} images" in err
    assert main(["predict", str(folder), "--checkpoint", str(path), "--evaluate", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(line.split("\t")[3] in ("red", "green", "blue") for line in lines)


def test_classes_overriding_stored_names_warn_naming_both(tmp_path, model_files, photos, capsys):
    reversed_names = tmp_path / "reversed.txt"
    reversed_names.write_text("bird\ndog\ncat\n")
    args = ["predict", str(photos[0] / "good"), "--checkpoint", str(model_files[0]), "--quiet"]
    assert main([*args, "--classes", str(reversed_names)]) == 0
    err = capsys.readouterr().err
    assert "pigeonhole: warning: class names from reversed.txt (bird, dog, cat) replace" in err
    assert "pets.pth (cat, dog, bird)" in err


def test_a_missing_path_is_said_before_the_model_loads(model_files, tmp_path, capsys, monkeypatch):
    from pigeonhole.core.models import checkpoints

    def never(*_a, **_k):
        raise AssertionError("the model was loaded before the paths were checked")

    monkeypatch.setattr(checkpoints, "load_model", never)
    code = main(["predict", str(tmp_path / "no-such-folder"), "--checkpoint", str(model_files[0])])
    err = capsys.readouterr().err
    assert code == 2 and "No such file or folder" in err and "no-such-folder" in err
    assert len(err.strip().splitlines()) == 1
