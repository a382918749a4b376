"""Soak test, run on demand (not in the suite): many images, corrupt files, kill -9 mid-write.

1. predict: N generated images (default 20,000; a share corrupt: truncated, empty, garbage,
   undecodable headers) through ``pigeonhole predict --out``: files tried, failed rows (exactly
   the corrupt ones), crashes (0), bytes lost (0: every image hashed before and after), peak RSS.
2. kill -9 during a sort (copy, killed while a big file is half copied; then move, killed part
   way), an export (killed while the CSV is half written) and a training (killed while the
   checkpoint is half saved, over an earlier model): after each, nothing half-written under a
   final name, no user image lost; then a restart into the same folders finds it consistent,
   and the temp files the kills left are cleaned. Those temp files are aged an hour with
   ``os.utime`` first: a younger one might belong to a write still running, so it is kept.
3. Pillow's own test images (``Tests/images`` of a Pillow source checkout: ``--pillow-src``,
   ``$PILLOW_SRC``, or ../Pillow beside this checkout) through ``predict``: skipped with a
   message when none is found.
4. the app: 50 cycles of the real window (offscreen) opened, classifying or training, and
   cancelled or closed at a random moment; then one window through a long session
   (benchmarks/soak_app.py, in a child process: hangs 0, exceptions 0, threads left 0).

    python benchmarks/soak.py                    # everything, 20,000 images
    python benchmarks/soak.py --images 2000      # quicker
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CORRUPT_KINDS = ("truncated", "empty", "garbage", "text", "dds", "bomb")
HOUR = 3600


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every non-hidden file under ``root``."""
    return {
        str(p.relative_to(root)): sha(p)
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def run_child(argv: list[str], **kw) -> tuple[int, str, str, float, float]:
    """(exit code, stdout, stderr, seconds, peak RSS in MB) of one child process: reaped here
    with os.wait4, which returns that child's own resource usage."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err, text=True, **kw)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), seconds, usage.ru_maxrss / 1024


def temp_files(root: Path, min_size: int = 0) -> list[Path]:
    """Our temp files under ``root`` (at least ``min_size`` bytes: the zero-byte probe that
    checks a folder is writable is not a write in progress)."""
    from pigeonhole.core.fileio import TEMP_NAME

    found = []
    for p in root.rglob(".*"):
        try:
            if TEMP_NAME.match(p.name) and p.is_file() and p.stat().st_size >= min_size:
                found.append(p)
        except FileNotFoundError:  # renamed or removed while we looked
            continue
    return found


def age(paths: list[Path], seconds: float = HOUR + 60) -> None:
    old = time.time() - seconds
    for p in paths:
        os.utime(p, (old, old))


def kill_when(proc: subprocess.Popen, ready, timeout: float = 600) -> float:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (polled every millisecond)."""
    t0 = time.perf_counter()
    while proc.poll() is None and time.perf_counter() - t0 < timeout:
        if ready():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    proc.wait()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Data


def corrupt_bytes(kind: str, good: bytes, rng: random.Random) -> bytes:
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "empty":
        return b""
    if kind == "garbage":
        return good[:40] + rng.randbytes(400)
    if kind == "text":
        return b"not a picture\n" * 30
    if kind == "dds":  # pixel-format flags Pillow does not implement: NotImplementedError
        header = bytearray(120)
        header[0:12] = struct.pack("<3I", 0x1007, 4, 4)
        header[68:84] = struct.pack("<4I", 32, 0x8, 0, 0)
        return b"DDS " + struct.pack("<I", 124) + bytes(header)
    import zlib  # "bomb": a PNG header claiming 60,000 x 60,000 pixels

    def chunk(k: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def make_images(root: Path, n: int, corrupt_share: float, seed: int = 0) -> set[str]:
    """``n`` images in folders of 1,000; returns the relative paths of the corrupt ones."""
    import io

    from pigeonhole.core.data.synthetic import class_image

    rng = random.Random(seed)
    corrupt: set[str] = set()
    labels = ("red", "green", "blue", "yellow")
    for i in range(n):
        folder = root / f"batch{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        png = i % 5 == 0
        name = f"img{i:06d}.{'png' if png else 'jpg'}"
        buf = io.BytesIO()
        class_image(labels[i % 4], i, (64, 48)).save(buf, "PNG" if png else "JPEG", quality=85)
        data = buf.getvalue()
        if rng.random() < corrupt_share:
            kind = CORRUPT_KINDS[len(corrupt) % len(CORRUPT_KINDS)]
            data = corrupt_bytes(kind, data, rng)
            name = name.rsplit(".", 1)[0] + (".dds" if kind == "dds" else f".{name[-3:]}")
            corrupt.add(str((folder / name).relative_to(root)))
        (folder / name).write_bytes(data)
    return corrupt


def make_checkpoint(path: Path) -> Path:
    import torch

    from pigeonhole.core.models.archs import TransformSpec, build_model
    from pigeonhole.core.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    names = ["red", "green", "blue", "yellow"]
    save_checkpoint(
        path, build_model("resnet18", 4), "resnet18", names, TransformSpec(resize=64, crop=56)
    )
    return path


# ---------------------------------------------------------------------------------------------
# 1. predict over many images


def predict_child(
    folder: Path, ckpt: Path, out: Path, extra: tuple[str, ...] = ()
) -> tuple[int, str, float, float, list]:
    """`pigeonhole predict FOLDER --out OUT` in a child process: (exit code, stderr, seconds,
    peak RSS in MB, the CSV's rows)."""
    code, _, err, seconds, peak = run_child(
        [sys.executable, "-m", "pigeonhole", "predict", str(folder), "--checkpoint", str(ckpt),
         "--out", str(out), "--quiet", *extra]
    )  # fmt: skip
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8"))) if out.exists() else []
    return code, err, seconds, peak, rows


def soak_predict(work: Path, n: int, share: float, ckpt: Path) -> dict:
    images = work / "images"
    t0 = time.perf_counter()
    corrupt = make_images(images, n, share)
    print(f"  generated {n} images ({len(corrupt)} corrupt) in {time.perf_counter() - t0:.0f} s")
    before = hashes(images)
    code, err, seconds, peak, rows = predict_child(images, ckpt, work / "results.csv")
    failed = {str(Path(r["path"]).relative_to(images)) for r in rows if r["error"]}
    after = hashes(images)
    lost = sum(len((images / p).read_bytes()) for p in before if after.get(p) != before[p])
    return {
        "files_tried": len(rows),
        "failed_rows": len(failed),
        "failed_rows_exactly_the_corrupt_ones": failed == corrupt,
        "crashes": int(code != 0) + err.count("Traceback"),
        "stderr_lines": len(err.strip().splitlines()),
        "bytes_lost": lost,
        "peak_rss_mb": round(peak, 1),
        "seconds": round(seconds, 1),
        "images_per_s": round(len(rows) / seconds, 1),
        "reasons": sorted({r["error"].split(" (")[0] for r in rows if r["error"]}),
    }


# ---------------------------------------------------------------------------------------------
# 2. kill -9 mid-write, then a restart


SORT_CHILD = """
import json, sys
from pigeonhole.core.results.sorting import SortItem, sort_into_folders
items = [SortItem(p, l, c) for p, l, c in json.load(open(sys.argv[1]))]
report = sort_into_folders(items, sys.argv[2], mode=sys.argv[3],
                           progress=lambda d, t: print(d, flush=True))
print(json.dumps({"placed": len(report.placed), "errors": report.errors,
                  "manifest": str(report.manifest) if report.manifest else None}))
"""


def _sort(items_file: Path, dest: Path, mode: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SORT_CHILD, str(items_file), str(dest), mode],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def soak_sort(work: Path, results: Path) -> dict:
    """Copy 3,000 images and three 200 MB files (killed while one of those is half copied),
    then restart; move every good image (killed at 40%), then undo."""
    from pigeonhole.core.results.sorting import undo_sort

    rows = [r for r in csv.DictReader(results.open(newline="", encoding="utf-8")) if r["label"]]
    images = work / "images"
    big = work / "big"
    big.mkdir(exist_ok=True)
    for i in range(3):  # last in the list: the kill lands in the middle of one of them
        (big / f"scan{i}.tif").write_bytes(os.urandom(200 * 1024 * 1024))
    items = [(r["path"], r["label"], float(r["predicted_confidence"])) for r in rows[:3000]]
    items += [(str(p), "zz-big", 1.0) for p in sorted(big.iterdir())]
    originals = {p: sha(Path(p)) for p, _, _ in items}
    items_file = work / "sort-items.json"
    items_file.write_text(json.dumps(items))
    dest = work / "sorted"
    proc = _sort(items_file, dest, "copy")
    big_dest = dest / "zz-big"  # killed while one of the big files is half copied
    kill_when(proc, lambda: big_dest.is_dir() and bool(temp_files(big_dest, min_size=1)))
    left = temp_files(dest)
    placed = {
        str(p.relative_to(dest)): sha(p)
        for p in dest.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    half_written = [p for p, h in placed.items() if h not in set(originals.values())]
    sources_intact = all(sha(Path(p)) == h for p, h in originals.items())
    age(left)
    # restart: copy what is not there yet (nothing is ever overwritten, so a plain re-run would
    # add name_1 copies); the restart cleans the stale .part files on its way
    done_names = {Path(p).name for p in placed}
    rest = [it for it in items if Path(it[0]).name not in done_names]
    items_file.write_text(json.dumps(rest))
    proc = _sort(items_file, dest, "copy")
    out, err = proc.communicate()
    final = [sha(p) for p in dest.rglob("*") if p.is_file() and not p.name.startswith(".")]
    copy = {
        "killed_after_copies": len(placed),
        "temp_files_left_by_kill": len(left),
        "half_written_under_final_names": len(half_written),
        "sources_intact": sources_intact,
        "after_restart_every_file_once": sorted(final) == sorted(originals.values()),
        "temp_files_after_restart": len(temp_files(dest)),
        "restart_exit": proc.returncode,
    }
    # move: every good image, killed once 40% are moved; then undo puts every image back
    before = hashes(images)
    mdest = work / "moved"
    every = [(r["path"], r["label"], float(r["predicted_confidence"])) for r in rows]
    items_file.write_text(json.dumps(every))
    proc = _sort(items_file, mdest, "move")
    target = int(len(every) * 0.4)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip().isdigit() and int(line) >= target:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    in_dest = sum(1 for p in mdest.rglob("*") if p.is_file() and not p.name.startswith("."))
    manifests = sorted(mdest.glob(".pigeonhole-moves-*.json"))
    report = undo_sort(manifests[-1])
    after = hashes(images)
    leftovers = [p for p in mdest.rglob("*") if p.is_file() and not p.name.startswith(".")]
    move = {
        "killed_after_moves": in_dest,
        "undo_put_back": len(report.placed),
        "undo_errors": len(report.errors),
        "images_lost": sum(1 for p, h in before.items() if after.get(p) != h),
        "images_left_in_dest_after_undo": len(leftovers),  # a link made just before the kill
    }
    return {"copy": copy, "move": move}


EXPORT_CHILD = """
import sys
from pigeonhole.core.results.writing import write_results
from pigeonhole.core.runtime.inference import Prediction
preds = [Prediction(i, f"/photos/img{i:07d}.jpg", "red", 0.5, (("red", 0.5),), 1.0, 2.0, None)
         for i in range(int(sys.argv[2]))]
while True:
    write_results(sys.argv[1], preds, None, topk=1)
"""


def soak_export(work: Path, rows: int = 300_000, kills: int = 5) -> dict:
    folder = work / "export"
    folder.mkdir(exist_ok=True)
    out = folder / "results.csv"
    complete, half = 0, 0
    for _ in range(kills):
        earlier = set(temp_files(folder))  # left by the kills before: young, so kept
        proc = subprocess.Popen([sys.executable, "-c", EXPORT_CHILD, str(out), str(rows)], cwd=ROOT)
        kill_when(proc, lambda e=earlier: out.exists() and bool(set(temp_files(folder, 1)) - e))
        with out.open(newline="", encoding="utf-8") as fh:
            n = sum(1 for _ in csv.reader(fh)) - 1
        complete, half = complete + (n == rows), half + (n != rows)
    left = temp_files(folder)
    age(left)
    from pigeonhole.core.fileio import write_text_atomic

    write_text_atomic(folder / "notes.txt", "the next write into the folder\n")
    return {
        "kills": kills,
        "results_complete_after_each_kill": complete,
        "results_half_written": half,
        "temp_files_left_by_kills": len(left),
        "temp_files_after_next_write": len(temp_files(folder)),
    }


def soak_train(work: Path, ckpt: Path) -> dict:
    from pigeonhole.core.data.synthetic import make_class_folders
    from pigeonhole.core.models.formats import read_checkpoint

    data = make_class_folders(work / "train-data", 40, ("red", "blue", "green"), size=(64, 48))
    out = work / "models" / "colours.pth"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(ckpt.read_bytes())  # an earlier model the user keeps under that name
    earlier = sha(out)
    env = dict(os.environ)
    argv = [sys.executable, "-m", "pigeonhole", "train", str(data), "--checkpoint", str(ckpt),
            "--epochs", "3", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    kill_when(proc, lambda: bool(temp_files(out.parent, min_size=1)))  # mid-save
    left = temp_files(out.parent)
    earlier_intact = sha(out) == earlier
    shards = list((work / "cache").rglob("*.pt"))
    shards_ok = 0
    import torch

    for s in shards:
        torch.load(s, map_location="cpu", weights_only=True)
        shards_ok += 1
    age(left + temp_files(work / "cache"))
    code, stdout, err, seconds, _ = run_child(argv, env=env)
    raw = read_checkpoint(out)
    return {
        "killed_while_saving": bool(left),
        "earlier_model_intact_after_kill": earlier_intact,
        "cache_shards_readable": f"{shards_ok}/{len(shards)}",
        "restart_exit": code,
        "restart_used_the_cache": "from the cache" in stdout,
        "model_after_restart": f"{raw.arch}, classes {raw.class_names}",
        "temp_files_after_restart": len(temp_files(out.parent)) + len(temp_files(work / "cache")),
    }


# ---------------------------------------------------------------------------------------------
# 3. Pillow's test images


def find_pillow(given: str | None) -> Path | None:
    for cand in (given, os.environ.get("PILLOW_SRC"), ROOT.parent / "Pillow", "/tmp/pillow-src"):
        if cand and (Path(cand) / "Tests" / "images").is_dir():
            return Path(cand) / "Tests" / "images"
    return None


def soak_pillow(work: Path, folder: Path, ckpt: Path) -> dict:
    """Every file of Pillow's test images is a row (classified or failed) or a skipped entry
    (--include-skipped), with no traceback and nothing else on stderr but the summary."""
    before = hashes(folder)
    code, err, seconds, peak, rows = predict_child(
        folder, ckpt, work / "pillow.csv", ("--include-skipped",)
    )
    after = hashes(folder)
    status = [r.get("status", "") for r in rows]
    files = sorted(str(p) for p in folder.rglob("*") if p.is_file())
    summary_lines = ("Classified", "pigeonhole: wrote", "pigeonhole: --list-skipped")
    return {
        "files": len(files),
        "rows_and_skipped_entries": len(rows),
        "every_file_accounted_for": sorted(r["path"] for r in rows) == files,
        "classified": status.count("classified"),
        "failed_rows": status.count("failed"),
        "skipped": status.count("skipped"),
        "crashes": int(code != 0) + err.count("Traceback"),
        "stderr_lines_besides_summary": [
            ln
            for ln in err.splitlines()
            if not ln.startswith(summary_lines)
            and not ln.endswith(" skipped")
            and " skipped: reading " not in ln
        ],  # fmt: skip
        "files_changed": sum(1 for p, h in before.items() if after.get(p) != h),
        "peak_rss_mb": round(peak, 1),
        "seconds": round(seconds, 1),
    }


def soak_app(work: Path, cycles: int) -> dict:
    out = work / "app.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "soak_app.py"), "--cycles", str(cycles),
            "--workdir", str(work / "app"), "--json", str(out)]  # fmt: skip
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    code, _, err, seconds, _ = run_child(argv, env=env)
    figures = json.loads(out.read_text()) if out.exists() else {}
    figures["exit_code"] = code
    if code != 0:
        figures["stderr_tail"] = err.strip()[-2000:]
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--corrupt", type=float, default=0.05, help="share of corrupt files")
    ap.add_argument("--pillow-src", help="a Pillow source checkout (for Tests/images)")
    ap.add_argument("--workdir", help="keep everything here (default: a temp folder)")
    ap.add_argument("--app-cycles", type=int, default=50, help="app cycles (0: skip the app)")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument(
        "--steps", default="predict,sort,export,train,app,pillow", help="which steps, in order"
    )
    args = ap.parse_args()
    steps = set(args.steps.split(","))
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="pigeonhole-soak-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        # the children's caches and app data stay in the soak's folder, not the user's
        os.environ["PIGEONHOLE_CACHE_DIR"] = str(work / "cache")
        os.environ["PIGEONHOLE_DATA_DIR"] = str(work / "appdata")
        ckpt = make_checkpoint(work / "model.pth")
        for name, step in (
            ("predict", lambda: soak_predict(work, args.images, args.corrupt, ckpt)),
            ("sort", lambda: soak_sort(work, work / "results.csv")),
            ("export", lambda: soak_export(work)),
            ("train", lambda: soak_train(work, ckpt)),
            ("app", lambda: soak_app(work, args.app_cycles) if args.app_cycles else {}),
        ):
            if name not in steps:
                continue
            print(f"{name}...", flush=True)
            figures[name] = step()
            print(json.dumps(figures[name], indent=1), flush=True)
        pillow = find_pillow(args.pillow_src)
        if "pillow" not in steps:
            pass
        elif pillow is None:
            print("pillow: skipped (no Pillow source checkout: give --pillow-src or $PILLOW_SRC)")
        else:
            print(f"pillow ({pillow})...", flush=True)
            figures["pillow"] = soak_pillow(work, pillow, ckpt)
            print(json.dumps(figures["pillow"], indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
