"""One prefetching batch pipeline for every run (inference and feature extraction).

Items come from a source (a background lister, or a list of jobs); a thread pool decodes them,
at most ``PREFETCH_BATCHES`` batches ahead of the forward pass, so memory stays flat however many
items there are; ``plan.forward_streams`` batches are in the forward pass at once, each on its
own thread (and, on CUDA, its own stream). Batches come out in item order.

The threads themselves need no torch: torch's thread counts are set only where torch runs (it
is imported already then), so an ONNX Runtime run never imports it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from ..tasks import StopFlag, stop_check
from .plan import RunPlan

log = logging.getLogger(__name__)

PREFETCH_BATCHES = 2  # batches decoded ahead of the forward pass
# torch threads of each decode thread: its few tensor ops (a crop's copy) must not start a team
# of OpenMP threads that spin on the cores the forward pass needs (0 = leave torch's setting).
DECODE_TORCH_THREADS = 1


def _loaded_torch():
    """torch when this process has imported it (a torch run), else None: never imported here."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and hasattr(torch, "set_num_threads") else None


def _one_torch_thread() -> None:
    torch = _loaded_torch()
    if DECODE_TORCH_THREADS and torch is not None:
        torch.set_num_threads(DECODE_TORCH_THREADS)


class ItemSource(Protocol):
    """Where a pipeline's items come from (see core.data.listing.BackgroundLister)."""

    finished: bool

    def next(self, block: bool, should_stop: StopFlag = None) -> Any | None:
        """The next item; None when finished, stopped, or (``block`` False) none is ready."""

    def stop(self) -> None:
        """Stop producing items (the run ended early)."""


class ListSource:
    """An :class:`ItemSource` over items known up front."""

    def __init__(self, items: Iterable[Any]):
        self._items: Iterator[Any] = iter(items)
        self.finished = False

    def next(self, block: bool, should_stop: StopFlag = None) -> Any | None:
        item = next(self._items, None)
        if item is None:
            self.finished = True
        return item

    def stop(self) -> None:
        self.finished = True


class _ForwardThreads:
    """The forward pass's threads: torch's intra-op threads per thread as planned and, on CUDA
    with more than one thread, a CUDA stream per thread so batches overlap on the GPU."""

    def __init__(self, plan: RunPlan):
        self.plan = plan
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(
            plan.forward_streams, thread_name_prefix="pigeonhole-forward", initializer=self._init
        )

    def _init(self) -> None:
        torch = _loaded_torch()
        if self.plan.threads_per_stream and torch is not None:
            torch.set_num_threads(self.plan.threads_per_stream)
        self.local.stream = None
        if self.plan.device.type == "cuda" and self.plan.forward_streams > 1:
            self.local.stream = torch.cuda.Stream(self.plan.device)

    def submit(self, compute: Callable[[list], Any], decoded: list) -> Future:
        return self.pool.submit(self._run, compute, decoded)

    def _run(self, compute: Callable[[list], Any], decoded: list) -> Any:
        stream = getattr(self.local, "stream", None)
        if stream is None:
            return compute(decoded)
        import torch  # a CUDA stream: torch is running this

        with torch.cuda.stream(stream):
            result = compute(decoded)
        stream.synchronize()
        return result

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def run_pipeline(
    source: ItemSource,
    decode: Callable[[Any], Any],
    compute: Callable[[list], Any],
    plan: RunPlan,
    *,
    should_stop: StopFlag = None,
) -> Generator[tuple[list, list, Any], None, bool]:
    """Yield ``(items, decoded, compute(decoded))`` per batch, in item order; return True when
    ``should_stop`` ended the run early.

    ``decode(item)`` runs on ``plan.decode_workers`` threads and must not raise (return an error
    value instead); ``compute(decoded)`` runs on the forward threads. A partial batch goes only
    when nothing else is in the forward pass (so the first results come at once from a slow
    listing) or at the very end."""
    stop = stop_check(should_stop)
    bs = plan.batch_size
    pool = ThreadPoolExecutor(
        plan.decode_workers, thread_name_prefix="pigeonhole-decode", initializer=_one_torch_thread
    )
    forward = _ForwardThreads(plan)
    torch = _loaded_torch()
    prev_threads = torch.get_num_threads() if torch is not None else 0
    pending: deque[tuple[Any, Future]] = deque()
    inflight: deque[tuple[list, list, Future]] = deque()

    def feed(block: bool) -> None:
        """Hand items to the decoders until PREFETCH_BATCHES batches are queued ahead; wait for
        the source (``block``) only while a full batch is not yet queued."""
        while len(pending) < bs * (PREFETCH_BATCHES + 1):
            item = source.next(block=block and len(pending) < bs, should_stop=should_stop)
            if item is None:
                return
            pending.append((item, pool.submit(decode, item)))

    cancelled = False
    try:
        while True:
            if stop():
                cancelled = True
                break
            feed(block=True)
            while len(inflight) < plan.forward_streams and pending:
                if len(pending) < bs and not source.finished and inflight:
                    break
                taken = [pending.popleft() for _ in range(min(bs, len(pending)))]
                items = [item for item, _ in taken]
                decoded = [fut.result() for _, fut in taken]
                inflight.append((items, decoded, forward.submit(compute, decoded)))
                feed(block=False)
            if not inflight:
                if source.finished and not pending:
                    break
                continue  # stopped while waiting for the source
            items, decoded, fut = inflight.popleft()
            result = fut.result()
            if stop():
                cancelled = True
                break
            yield items, decoded, result
    finally:
        source.stop()
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        forward.shutdown()
        if plan.threads_per_stream and torch is not None:
            torch.set_num_threads(prev_threads)  # the forward threads changed the default
    return cancelled
