"""The Ray cluster a run works on: one started for the run on this machine (``local``), the one
already running (``auto``: ``RAY_ADDRESS``, else the last ``ray start`` here), or the one at an
address. Entered as a context manager; leaving it (success, error or Ctrl-C) shuts a started
cluster down and disconnects from a joined one, which keeps running.

Token authentication (Ray 2.59+): ``ray.init()`` of a new cluster turns it on when
``RAY_AUTH_MODE`` is unset and writes a token to ``~/.ray/auth_token`` if there is none;
``ray start`` turns it on only when a token already exists. Ray reads the mode when it is
imported: set afterwards, it is not seen. A cluster started here uses a random token made once
per process and set in its environment for its life (passed down to the cluster's processes,
never written to the home folder), unless the person set ``RAY_AUTH_MODE`` themselves or Ray was imported
before (then Ray's own default holds). Joining uses what the person has (``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``).
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from dataclasses import dataclass
from functools import cache

from ..errors import ClusterError, first_line
from . import require_ray

log = logging.getLogger(__name__)

LOCAL, AUTO = "local", "auto"
#: The object store of a cluster started for a run: crops in flight, not a cache (Ray's
#: default, 30 % of the memory, is for clusters that hold datasets).
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """What the cluster has for this run: its alive nodes, logical CPUs and GPUs, where it
    is, and whether this run started it."""

    nodes: int
    cpus: float
    gpus: float
    address: str
    started: bool

    def describe(self) -> str:
        gpus = f", {self.gpus:g} GPU{'s' if self.gpus != 1 else ''}" if self.gpus else ""
        how = "started for this run" if self.started else f"at {self.address}"
        return (
            f"Ray cluster {how}: {self.nodes} node{'s' if self.nodes != 1 else ''}, "
            f"{self.cpus:g} CPU{'s' if self.cpus != 1 else ''}{gpus}"
        )


def local_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class ClusterSession:
    """``with ClusterSession("local") as shape:`` a cluster for the run, gone (or left) after.

    ``where``: ``local``, ``auto`` or an address (``host:6379``, ``ray://host:10001``).
    ``num_cpus`` and ``object_store_bytes`` size a started cluster (default: this machine's
    CPUs, :data:`LOCAL_OBJECT_STORE_BYTES`)."""

    def __init__(
        self,
        where: str,
        *,
        num_cpus: int | None = None,
        object_store_bytes: int = LOCAL_OBJECT_STORE_BYTES,
    ):
        self.where = where.strip()
        self.num_cpus = num_cpus
        self.object_store_bytes = object_store_bytes
        self.shape: ClusterShape | None = None

    @property
    def starts(self) -> bool:
        return self.where == LOCAL

    def __enter__(self) -> ClusterShape:
        require_ray()
        if self.starts and "ray" not in sys.modules and os.environ.get("RAY_AUTH_MODE") is None:
            # Kept for the process's life: its next cluster must see the same mode and token.
            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ["RAY_AUTH_TOKEN"] = _process_token()
        import ray

        if ray.is_initialized():
            raise ClusterError("this process is already connected to a Ray cluster")
        try:
            if self.starts:
                self._start(ray)
            else:
                self._join(ray)
            self.shape = _shape(ray, self.where, self.starts)
        except BaseException:
            self._close(ray)
            raise
        log.info("%s", self.shape.describe())
        return self.shape

    def __exit__(self, *exc) -> None:
        import ray

        self._close(ray)

    def _start(self, ray) -> None:
        try:
            ray.init(
                address="local",  # a new cluster even where RAY_ADDRESS is set
                num_cpus=self.num_cpus or local_cpus(),
                include_dashboard=False,
                object_store_memory=self.object_store_bytes,
                configure_logging=False,
                log_to_driver=False,  # workers' prints are theirs; failures come back as errors
                namespace="pigeonhole",
            )
        except (RuntimeError, ValueError, ConnectionError, OSError) as e:
            raise ClusterError(f"could not start a local Ray cluster ({first_line(e)})") from e

    def _join(self, ray) -> None:
        address = self.where if self.where != AUTO else "auto"
        try:
            ray.init(
                address=address,
                configure_logging=False,
                log_to_driver=False,
                namespace="pigeonhole",
            )
        except (ConnectionError, RuntimeError, ValueError, OSError) as e:
            if _refused(e):
                raise ClusterError(
                    f"the Ray cluster at {address} refused this run: it needs its token (set "
                    "RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to the token's file, before the run)"
                ) from e
            hint = (
                "start one with `ray start --head`, or set RAY_ADDRESS"
                if self.where == AUTO
                else "check the address, and that `ray status --address ...` sees it"
            )
            raise ClusterError(
                f"no Ray cluster to join at {address} ({first_line(e)}); {hint}"
            ) from e

    def _close(self, ray) -> None:
        """Shut down (a started cluster) or disconnect (a joined one)."""
        if ray.is_initialized():
            ray.shutdown()


@cache
def _process_token() -> str:
    """The token of clusters this process starts: one per process, because Ray's driver reads
    it once (a second cluster with another token would refuse it)."""
    return secrets.token_hex(32)


def _refused(e: BaseException) -> bool:
    """The error, or one it came from, is Ray's AuthenticationError (a missing or wrong
    token); Ray sometimes passes it on only as text."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if type(e).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _shape(ray, where: str, started: bool) -> ClusterShape:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    address = ray.get_runtime_context().gcs_address if not started else "this machine"
    return ClusterShape(
        nodes=len(nodes),
        cpus=float(total.get("CPU", 0)),
        gpus=float(total.get("GPU", 0)),
        address=address,
        started=started,
    )
