"""Where the fits of a sweep run: joblib's own processes, a Dask cluster or Ray; which device and how many
torch threads each fit uses.

The sweep only ever calls joblib, so any joblib backend runs it. :func:`sweep_engine` starts (or connects
to) a Dask or Ray cluster and makes it joblib's backend for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import importlib
import numbers
import os
import sys

from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["sweep_engine", "require_engine", "worker_device", "pinned_threads", "ENGINES"]

ENGINES = ("loky", "dask", "ray")
# engine -> (module it needs, the extra that installs it)
_EXTRAS = {"dask": ("distributed", "gahb[dask]"), "ray": ("ray", "gahb[ray]")}


def require_engine(engine: str):
    """Import the package behind ``engine`` (``"dask"`` or ``"ray"``), or raise ImportError naming the extra."""
    module, extra = _EXTRAS[engine]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"the {engine} engine needs the optional package {module!r}, which is not installed: "
                          f"pip install '{extra}'") from exc


@validate_params(
    {
        "engine": [StrOptions(set(ENGINES))],
        "n_workers": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "address": [str, None],
        "gpus_per_worker": [Interval(numbers.Integral, 0, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
@contextlib.contextmanager
def sweep_engine(engine: str = "loky", n_workers=None, *, address=None, gpus_per_worker=None):
    """Run the fits of :func:`~gahb.experiments.generalization_curve` on ``engine`` inside a ``with`` block.

    Parameters
    ----------
    engine : {"loky", "dask", "ray"}, default="loky"
        ``"loky"``: joblib's own worker processes on this machine. ``"dask"``: a Dask cluster; without
        ``address``, a ``distributed.LocalCluster`` of ``n_workers`` worker *processes* with one thread
        each (needs ``gahb[dask]``). ``"ray"``: Ray's joblib backend; without ``address`` and outside an
        existing ``ray.init``, a local Ray runtime with ``n_workers`` CPUs (needs ``gahb[ray]``).
    n_workers : int, default=None
        Parallel workers (the sweep's ``n_jobs`` inside the block). ``None``: 2 for a local Dask cluster,
        every CPU of the Ray cluster, joblib's default for loky.
    address : str, default=None
        A running Dask scheduler (``tcp://host:8786``, e.g. a dask-cuda ``LocalCUDACluster`` or a
        dask-jobqueue ``SLURMCluster``) or Ray cluster (``ray://...`` or ``auto``).
    gpus_per_worker : int, default=None
        Ray: GPUs reserved for each worker (``num_gpus`` of its actor); Ray then shows each worker only
        its own GPU(s). ``None``: 1 when the Ray cluster has GPUs, else 0. Dask gives GPUs through
        dask-cuda instead (one worker per GPU).

    See Also
    --------
    generalization_curve : The sweep whose fits run on the engine.
    worker_device : The device each fit then uses.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import MemorizingDenoiser
    >>> from gahb.experiments import generalization_curve, sweep_engine
    >>> X = np.random.default_rng(0).random((40, 16))
    >>> with sweep_engine("loky", n_workers=2):  # doctest: +SKIP
    ...     res = generalization_curve(MemorizingDenoiser(image_shape=(4, 4), beta=1.0), X, [1, 10],
    ...                                n_jobs=2, sigmas=[], verbose=0)
    >>> with sweep_engine("dask", n_workers=4):  # a LocalCluster of 4 worker processes  # doctest: +SKIP
    ...     res = generalization_curve(est, X, sizes, n_jobs=4)
    """
    from joblib import parallel_config

    if engine == "loky":
        with parallel_config(backend="loky", n_jobs=n_workers):
            yield
        return
    if engine == "dask":
        distributed = require_engine("dask")
        cluster = None
        if address is None:
            cluster = distributed.LocalCluster(n_workers=n_workers or 2, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
        client = distributed.Client(address if cluster is None else cluster)
        try:
            with parallel_config(backend="dask", n_jobs=n_workers or -1):
                yield
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    ray = require_engine("ray")
    from ray.util.joblib import register_ray

    register_ray()
    started = not ray.is_initialized()
    if started:
        kw = {"address": address} if address else {"num_cpus": n_workers or os.cpu_count()}
        ray.init(include_dashboard=False, log_to_driver=False, **kw)
    try:
        if gpus_per_worker is None:
            gpus_per_worker = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        remote = {"num_gpus": gpus_per_worker} if gpus_per_worker else None
        with parallel_config(backend="ray", n_jobs=n_workers or -1, ray_remote_args=remote):
            yield
    finally:
        if started:
            ray.shutdown()


def _given_own_gpu() -> bool:
    """This process is a worker that was handed its own GPU, listed first in ``CUDA_VISIBLE_DEVICES``.

    Ray narrows ``CUDA_VISIBLE_DEVICES`` to the GPUs of a task or actor (``num_gpus``); dask-cuda's
    ``LocalCUDACluster`` starts one worker per GPU with that GPU first in the list.
    """
    if "ray" in sys.modules:
        with contextlib.suppress(Exception):
            ray = sys.modules["ray"]
            if ray.is_initialized() and ray.get_gpu_ids():
                return True
    if "distributed" in sys.modules and os.environ.get("CUDA_VISIBLE_DEVICES"):
        with contextlib.suppress(Exception):
            sys.modules["distributed"].get_worker()
            return True
    return False


@validate_params(
    {"device": [str, None], "task_index": [Interval(numbers.Integral, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def worker_device(device, task_index: int = 0):
    """The device a fit should use in this worker, for the estimator's ``device`` setting.

    An explicit device (``"cpu"``, ``"cuda:1"``, a ``torch.device``) is kept. ``"auto"`` and ``"cuda"``
    mean the GPU this worker was given: ``cuda:0`` when the process sees one GPU or was handed its own
    (Ray, dask-cuda); a process that sees several GPUs and was handed none (joblib's processes or
    threads on a multi-GPU machine) spreads its tasks over them, task ``k`` on ``cuda:{k mod n}``, rather
    than piling every fit on ``cuda:0``. Without a GPU, ``"auto"`` is the CPU.

    Parameters
    ----------
    device : str or None
        The estimator's ``device`` parameter (a ``torch.device`` as ``str(device)``).
    task_index : int, default=0
        The index of the task in its sweep.

    Returns
    -------
    device : str
        What to give the estimator as ``device`` in this worker.

    See Also
    --------
    sweep_engine : Starts the workers.

    Examples
    --------
    >>> from gahb.experiments import worker_device
    >>> worker_device("cpu", 3), worker_device("cuda:1", 0)
    ('cpu', 'cuda:1')
    """
    import torch

    if not (device is None or device in ("auto", "cuda")):
        return device
    if not torch.cuda.is_available():
        return "cpu" if device != "cuda" else device  # "cuda" without a GPU fails in fit with a clear error
    n = torch.cuda.device_count()
    if n == 1 or _given_own_gpu():
        return "cuda:0"
    return f"cuda:{task_index % n}"


@contextlib.contextmanager
def pinned_threads(n_threads):
    """Run the block with ``n_threads`` torch threads (``None``: leave them), then restore the count.

    The thread count changes the order of float sums inside convolutions, so pinning it makes a fit give
    the same bits in any worker process.
    """
    if n_threads is None:
        yield
        return
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)
