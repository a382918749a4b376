"""The same classify run on a Ray cluster (Ray Data), an optional extra:
``pip install "pigeonhole[cluster]"`` (``ray[data]``). This package is the only place that
imports ray (and pyarrow).

* ``sources``: what to classify, local folders and URIs pyarrow reads, listed once
* ``worker``: what runs on the workers without Ray in sight: decoding a batch of files into
  crops, the model a worker runs (an ONNX export without torch, or a torch model), rows
* ``session``: the cluster for a run: started here, or joined; shut down or left after
* ``pipeline``: the Ray Data pipeline (decode tasks, a model actor pool) and its records
* ``parquet``: results as a Parquet dataset, written as they come
"""

from __future__ import annotations

import importlib.util

from ..errors import ClusterError

INSTALL = 'pip install "pigeonhole[cluster]"'


def ray_missing() -> str | None:
    """Why a cluster run cannot happen here (Ray Data is not installed), or None."""
    for module in ("ray", "pyarrow"):
        if importlib.util.find_spec(module) is None:
            return f"--cluster needs Ray Data, which is not installed; install it with: {INSTALL}"
    return None


def require_ray() -> None:
    """Raise :class:`ClusterError` (one line: what to install) when Ray Data is missing."""
    problem = ray_missing()
    if problem:
        raise ClusterError(problem)
