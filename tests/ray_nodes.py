"""Ray clusters for the tests, on this machine: nodes started with ``ray start --block`` in a
temp folder of their own (never Ray's shared /tmp/ray), each stopped by a signal to the
``ray start`` process that owns it, which takes its raylet, object store and workers with it
(never ``ray stop``, which would stop every Ray cluster of this user on the machine).

Token authentication: the tests' clusters and the test process share one token, set in the
environment before anything imports ray (Ray reads the mode once, when imported)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = secrets.token_hex(16)
#: Small and private: no dashboard, a 100 MB object store, no usage stats.
NODE_ARGS = ("--object-store-memory=100000000", "--disable-usage-stats")


def use_test_token() -> None:
    """This process talks to the tests' clusters (call before ray is imported)."""
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", TOKEN)


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


class RayNodes:
    """A head node (``cpus``), then any worker nodes added with :meth:`add_node`; ``address``
    is the head's. :meth:`stop` ends them all (also after a test fails)."""

    def __init__(self, cpus: int = 2):
        use_test_token()
        self.temp = tempfile.mkdtemp(prefix="ph-ray-")  # short: Ray's socket paths must fit
        self.procs: list[subprocess.Popen] = []
        self.address = ""
        head = self._start(
            ["--head", "--port=0", "--include-dashboard=false", f"--num-cpus={cpus}"]
        )
        self.address = head

    def add_node(self, cpus: int = 1) -> None:
        self._start([f"--address={self.address}", f"--num-cpus={cpus}"])

    def _start(self, args: list[str]) -> str:
        cmd = [_ray_cli(), "start", "--block", f"--temp-dir={self.temp}", *NODE_ARGS, *args]
        proc = subprocess.Popen(
            cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.procs.append(proc)
        address, lines = "", []
        for line in proc.stdout:  # until it says it blocks (it started) or it ends (it failed)
            lines.append(line)
            if "ray start --address=" in line:
                address = line.split("--address=")[1].split()[0].strip("'\"")
            if "--block" in line:
                break
        else:
            self.stop()
            raise RuntimeError("ray start failed:\n" + "".join(lines[-20:]))
        # Keep reading its output, so a full pipe never blocks it.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        return address

    def stop(self) -> None:
        """SIGTERM to each ``ray start --block`` (workers first); one that has not ended in a
        few seconds (a raylet can take 30 s to drain after a Ray Data job) is killed, and the
        kernel ends its processes with it (Ray starts them to die with their parent). Anything
        still running from this cluster's temp folder is killed by its id."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        self.procs = []
        deadline = time.monotonic() + 15
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)

    def leftovers(self) -> list[int]:
        """Processes whose command line names this cluster's temp folder (Linux: /proc)."""
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if self.temp.encode() in cmd and int(entry.name) != os.getpid():
                found.append(int(entry.name))
        return found
