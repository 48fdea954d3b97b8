"""Sweeps on real engines: Dask worker processes and a local Ray runtime give the sequential numbers; the device
each fit uses follows the GPU its worker was given; missing engines name their extra."""

import sys

import numpy as np
import pytest
import torch

from gahb import DiffusionDenoiser
from gahb.experiments import generalization_curve, sweep_engine, worker_device

KEYS = ("samples_A", "samples_B", "psnr_train_A", "psnr_test_B", "cross_similarity")


def _net(**kw):
    params = dict(width=8, n_blocks=2, max_iter=12, batch_size=8, image_shape=(8, 8), random_state=0, beta=1.0,
                  h0=0.05, max_sample_steps=20)
    params.update(kw)
    return DiffusionDenoiser(**params)


def _sweep(**kw):
    X = np.random.default_rng(0).random((24, 64)).astype(np.float32)
    return generalization_curve(_net(), X, [2, 5], image_shape=(8, 8), n_samples=3, sigmas=[0.2], n_psnr_images=4,
                                verbose=0, **kw)


def _assert_same(a, b, rtol):
    for da, db in zip(a.per_size, b.per_size):
        for key in KEYS:
            if rtol == 0:
                np.testing.assert_array_equal(da[key], db[key], err_msg=key)
            else:
                np.testing.assert_allclose(da[key], db[key], rtol=rtol, atol=0, err_msg=key)


@pytest.fixture(scope="module")
def sequential():
    return _sweep(n_jobs=1, threads_per_fit=1)


def test_loky_processes_with_pinned_threads_are_bitwise(sequential):
    _assert_same(_sweep(n_jobs=2, threads_per_fit=1), sequential, rtol=0)


def test_dask_worker_processes_equal_sequential(sequential):
    distributed = pytest.importorskip("distributed")
    del distributed
    with sweep_engine("dask", 2):  # a LocalCluster of 2 worker processes
        par = _sweep(n_jobs=2, threads_per_fit=1)
        free = _sweep(n_jobs=2)  # each worker's own thread count: equal up to the order of float sums
    _assert_same(par, sequential, rtol=0)
    _assert_same(free, sequential, rtol=1e-6)
    # every fit reports the device its worker resolved (CPU here; one GPU per worker on a GPU cluster)
    assert {info["device"] for info in par.fit_info_.values()} == {"cpu"}


def test_ray_with_one_gpu_per_worker_equals_sequential(sequential):
    ray = pytest.importorskip("ray")
    # a local Ray runtime that believes it has 2 GPUs: each worker actor is given one (num_gpus=1), and Ray
    # shows it only that one through CUDA_VISIBLE_DEVICES, as on a GPU machine
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with sweep_engine("ray", 2, gpus_per_worker=1):
            par = _sweep(n_jobs=2, threads_per_fit=1, vectorize=2)  # a list-only backend, vectorized groups
    finally:
        ray.shutdown()
    seq_vec = _sweep(n_jobs=1, threads_per_fit=1, vectorize=2)
    _assert_same(par, seq_vec, rtol=0)
    _assert_same(par, sequential, rtol=1e-4)  # vectorized vs one fit per model: rounding only
    seen = {info["visible_gpus"] for info in par.fit_info_.values()}
    assert seen <= {"0", "1"} and all(s is not None for s in seen)  # every fit saw exactly one GPU
    assert all(len(info["trained_with"]) == 2 for info in par.fit_info_.values())


def _fake_gpus(monkeypatch, n):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


def test_worker_device_one_visible_gpu(monkeypatch):
    _fake_gpus(monkeypatch, 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # e.g. a Slurm job or a Ray actor given GPU 3
    assert [worker_device("auto", k) for k in range(3)] == ["cuda:0"] * 3
    assert worker_device("cuda", 5) == "cuda:0"
    assert worker_device("cpu", 5) == "cpu" and worker_device("cuda:1", 0) == "cuda:1"  # explicit choices stay


def test_worker_device_multi_gpu_process_spreads_tasks(monkeypatch):
    _fake_gpus(monkeypatch, 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [worker_device("auto", k) for k in range(6)] == ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1"]


def test_worker_device_dask_cuda_worker(monkeypatch):
    """dask-cuda starts one worker per GPU with CUDA_VISIBLE_DEVICES rotated: its own GPU first."""
    distributed = pytest.importorskip("distributed")
    _fake_gpus(monkeypatch, 4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3,0,1")
    monkeypatch.setattr(distributed, "get_worker", lambda: object())
    assert [worker_device("auto", k) for k in range(4)] == ["cuda:0"] * 4


def test_worker_device_ray_task_with_gpus(monkeypatch):
    ray = pytest.importorskip("ray")
    _fake_gpus(monkeypatch, 2)
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "get_gpu_ids", lambda: [1, 0])
    assert worker_device("auto", 7) == "cuda:0"


def test_worker_device_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert worker_device("auto", 3) == "cpu"


def test_missing_engine_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'gahb\[ray\]'"):
        with sweep_engine("ray"):
            pass
    from gahb.cli import main

    assert main(["transition", "--quick", "--engine", "ray", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "gahb[ray]" in err and "--engine ray" in err
    assert not (tmp_path / "r").exists()  # refused before any work: no folder left behind
    with pytest.raises(ValueError, match="The 'engine' parameter of sweep_engine must be"):
        with sweep_engine("spark"):
            pass
