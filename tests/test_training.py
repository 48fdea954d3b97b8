"""Paper-scale training: the random-stream contract, precision, no per-step host reads, held-out loss,
checkpoint/resume (bitwise), atomic writes, Ctrl-C, streamed data, DDP over gloo, bad input."""

import json
import os
import signal
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
from _helpers import ctrl_c_at_step, smooth_images

import gahb._training as training_module
import gahb.core.checkpoint as checkpoint_module
import gahb.core.training as core_training
from gahb import DiffusionDenoiser
from gahb._utils import psnr
from gahb.core.batches import Batches, fits_on_device, host_images
from gahb.core.distributed import World, rank_seeds
from gahb.core.nn import UNet, init_weights_
from gahb.core.random import torch_generator

TINY = dict(width=4, n_blocks=2, max_iter=12, batch_size=8, image_shape=(8, 8), random_state=0, device="cpu",
            log_every=5)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).uniform(size=(24, 64)).astype(np.float32)


def weights(den):
    return {k: v.detach().clone() for k, v in den.network_.state_dict().items()}


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs"


# ------------------------------------------------------------------------------------------ the stream contract
def test_fit_follows_the_random_stream_contract(X):
    """A hand-written loop with the documented draws (indices from s+1 on the CPU, sigma then z from s+2)
    gives bitwise the same weights as fit."""
    den = DiffusionDenoiser(**{**TINY, "lr_schedule": "halving"}).fit(X)
    s, n, b = 0, X.shape[0], TINY["batch_size"]
    with torch.random.fork_rng(devices=[]):
        net = UNet(1, 4, 2)
    init_weights_(net, torch_generator(s))
    data = torch.from_numpy(X).reshape(-1, 1, 8, 8)
    g_batch, g_noise = torch_generator(s + 1), torch_generator(s + 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for t in range(TINY["max_iter"]):
        for group in opt.param_groups:
            group["lr"] = 1e-3 * 0.5 ** min(9, (10 * t) // TINY["max_iter"])
        x = data[torch.randint(n, (b,), generator=g_batch)]
        sigma = torch.rand(b, generator=g_noise) ** 2
        noise = torch.randn(x.shape, generator=g_noise) * sigma.view(-1, 1, 1, 1)
        loss = ((net(x + noise) - noise) ** 2).sum() / b
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for k, v in net.state_dict().items():
        assert torch.equal(v, den.network_.state_dict()[k]), k
    assert rank_seeds(0, 0) == (1, 2) and rank_seeds(0, 1) != rank_seeds(0, 2)


def test_float64_and_memmap_input_train_identically(X, tmp_path):
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.load(tmp_path / "X.npy", mmap_mode="r")
    a = DiffusionDenoiser(**TINY).fit(X)
    b = DiffusionDenoiser(**TINY).fit(ro)
    c = DiffusionDenoiser(**TINY).fit(X.astype(np.float64))
    assert_same_weights(a, b)
    assert_same_weights(a, c)
    # batches are gathered from the memory map itself: nothing was copied
    t = host_images(np.asarray(ro), (1, 8, 8))
    assert t.data_ptr() == np.asarray(ro).ctypes.data
    assert Batches(t, "cpu").data.data_ptr() == t.data_ptr()


def test_batches_rows_and_device_budget(monkeypatch):
    images = torch.arange(10 * 4, dtype=torch.float64).reshape(10, 1, 2, 2)
    rows = torch.tensor([1, 4, 7])
    b = Batches(images, "cpu", rows)
    assert b.n == 3
    torch.testing.assert_close(b.get(torch.tensor([2, 0])), images[[7, 1]].float())
    # the streaming path (a GPU's when the set does not fit), run on the CPU: two staging buffers in turn
    for dtype in (torch.float32, torch.float64):
        s = Batches(images.to(dtype), "cpu", rows)
        first = s._stream(torch.tensor([1, 4, 7]))
        torch.testing.assert_close(first, images[[1, 4, 7]].float())
        second = s._stream(torch.tensor([0, 9, 2]))
        torch.testing.assert_close(second, images[[0, 9, 2]].float())
        assert first.data_ptr() != second.data_ptr()  # the first batch is not overwritten by the second
        assert s._stream(torch.tensor([5, 5, 5])).data_ptr() == first.data_ptr()
    assert fits_on_device(10**12, torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * 2**30, 80 * 2**30))
    assert fits_on_device(3 * 2**30, torch.device("cuda", 0))
    assert not fits_on_device(5 * 2**30, torch.device("cuda", 0))  # more than half the free memory: streamed


# ------------------------------------------------------------------------------------------------ precision
@pytest.fixture(scope="module")
def gains():
    """Held-out PSNR gain at sigma = 0.1 of a fit after the same 150 steps, per precision (computed once)."""
    Xtr, Xte = smooth_images(256, seed=0), smooth_images(64, seed=1)
    noisy = Xte + 0.1 * np.random.default_rng(7).normal(size=Xte.shape)
    cache = {}

    def gain(precision):
        if precision not in cache:
            den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=150, batch_size=16, lr_schedule="cosine",
                                    image_shape=(8, 8), random_state=0, device="cpu", precision=precision).fit(Xtr)
            assert all(v.dtype == torch.float32 for v in den.network_.state_dict().values())
            y = torch.rand(3, 1, 8, 8)
            with torch.no_grad():  # bias-free: f(a y) = a f(y) in fp32 evaluation
                torch.testing.assert_close(den.denoiser_(7.5 * y), 7.5 * den.denoiser_(y), rtol=1e-5, atol=1e-5)
            cache[precision] = psnr(den.transform(noisy), Xte).mean() - psnr(noisy, Xte).mean()
        return cache[precision]

    return gain


@pytest.mark.parametrize("precision", ["bf16", "fp16"])  # fp16 with gradient scaling: ~10 s, CPU fp16 is slow
def test_mixed_precision_learns_like_fp32_and_stays_homogeneous(gains, precision):
    """Held-out PSNR gain within 0.5 dB of the fp32 fit's; weights stay fp32 and the network bias-free."""
    assert gains("fp32") > 1.0
    assert abs(gains(precision) - gains("fp32")) <= 0.5, (precision, gains(precision), gains("fp32"))


def test_fp16_uses_gradient_scaling_and_resumes(X, tmp_path):
    """fp16 mechanics on the CPU: finite losses, a positive loss scale, bitwise resume (learning: the test above)."""
    kw = {**TINY, "precision": "fp16", "max_iter": 6, "log_every": 2}
    full = DiffusionDenoiser(**{**kw, "checkpoint_dir": tmp_path, "checkpoint_every": 3}).fit(X)
    assert np.isfinite(full.loss_curve_).all() and full._train_state["meta"]["scaler"]["scale"] > 0
    resumed = DiffusionDenoiser.load(tmp_path / "checkpoint-000000003.safetensors", device="cpu")
    resumed.set_params(warm_start=True, checkpoint_dir=None).fit(X)
    assert_same_weights(full, resumed)


def test_loss_is_read_only_once_per_window(X, monkeypatch):
    """gahb reads no tensor back (.item(), float(), bool(), int(), .tolist()) inside the step loop except in
    the log of each log_every window (torch's own CPU step counters in Adam are not gahb's reads)."""
    where = {"loop": False, "log": False}
    reads = {"in_log": 0, "elsewhere_in_loop": 0}
    for name in ("item", "__float__", "__bool__", "__int__", "tolist"):
        real = getattr(torch.Tensor, name)

        def counting(self, *a, _real=real, **k):
            if where["loop"] and "gahb" in sys._getframe(1).f_code.co_filename:
                reads["in_log" if where["log"] else "elsewhere_in_loop"] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counting)
    windows = []
    real_log, real_loop = core_training._log, training_module.train_loop

    def log(net, state, *a, **k):
        where["log"] = True
        try:
            return real_log(net, state, *a, **k)
        finally:
            where["log"] = False
            windows.append(state.step)

    def loop(*a, **k):
        where["loop"] = True
        try:
            return real_loop(*a, **k)
        finally:
            where["loop"] = False

    monkeypatch.setattr(core_training, "_log", log)
    monkeypatch.setattr(training_module, "train_loop", loop)
    den = DiffusionDenoiser(**{**TINY, "max_iter": 23, "log_every": 10, "validation_fraction": 0.25}).fit(X)
    assert windows == [10, 20, 23] and len(den.loss_curve_) == len(den.validation_scores_) == 3
    assert reads["elsewhere_in_loop"] == 0
    assert reads["in_log"] == 2 * 3  # the window's loss and the held-out loss, once per window


def test_validation_scores_are_the_heldout_loss(X):
    den = DiffusionDenoiser(**{**TINY, "validation_fraction": 0.25}).fit(X)
    assert len(den.validation_scores_) == len(den.loss_curve_) == 3
    # recompute the last one: held-out rows of seed 0 (6 of 24), eval mode, noise from seed + 4
    _, val_rows = training_module._split(24, 6, 0)
    val = Batches(host_images(X, (1, 8, 8)), "cpu", val_rows)
    cfg = core_training.TrainConfig(max_iter=1, batch_size=1)
    again = core_training.heldout_loss(den.network_, val, cfg, torch_generator(4)).item()
    assert den.validation_scores_[-1] == pytest.approx(again, rel=1e-6)
    explicit = DiffusionDenoiser(**TINY).fit(X[:18], X_val=X[18:])
    assert len(explicit.validation_scores_) == 3 and DiffusionDenoiser(**TINY).fit(X).validation_scores_ is None


# --------------------------------------------------------------------------------------- checkpoint and resume
@pytest.mark.parametrize("extra", [{}, {"validation_fraction": 0.25, "log_every": 4, "lr_schedule": "cosine"}])
def test_resume_from_checkpoint_is_bitwise_uninterrupted(X, tmp_path, extra):
    """2k steps with checkpoint_every=k, and the step-k checkpoint loaded + warm_start: identical weights."""
    k = 6
    kw = {**TINY, **extra, "max_iter": 2 * k}
    full = DiffusionDenoiser(**{**kw, "checkpoint_dir": tmp_path / "run", "checkpoint_every": k}).fit(X)
    assert [p.name for p in checkpoint_module.find_checkpoints(tmp_path / "run")] == [
        "checkpoint-000000006.safetensors", "checkpoint-000000012.safetensors"]
    half = DiffusionDenoiser.load(tmp_path / "run" / "checkpoint-000000006.safetensors", device="cpu")
    assert half.n_iter_ == k
    half.set_params(warm_start=True, checkpoint_dir=tmp_path / "resumed")
    half.fit(X)
    assert half.n_iter_ == 2 * k
    assert_same_weights(full, half)
    assert half.loss_curve_ == full.loss_curve_ and half.validation_scores_ == full.validation_scores_
    # in memory too: fit k steps, raise max_iter, continue
    mem = DiffusionDenoiser(**{**kw, "max_iter": k}).fit(X)
    mem.set_params(max_iter=2 * k, warm_start=True).fit(X)
    assert mem.n_iter_ == 2 * k
    # (the first k steps ran with a k-step schedule: same weights only for the constant schedule, tested below)
    every = kw["log_every"]
    logs = {s for s in range(1, k + 1) if s % every == 0} | {k}  # each fit closes a window at its end
    logs |= {s for s in range(k + 1, 2 * k + 1) if s % every == 0} | {2 * k}
    assert len(mem.loss_curve_) == len(logs) and np.isfinite(mem.loss_curve_).all()


def test_warm_start_continues_in_memory_bitwise_with_constant_schedule(X):
    kw = {**TINY, "lr_schedule": "constant", "max_iter": 10}
    full = DiffusionDenoiser(**kw).fit(X)
    part = DiffusionDenoiser(**{**kw, "max_iter": 5}).fit(X)
    part.set_params(max_iter=10, warm_start=True).fit(X)
    assert_same_weights(full, part)
    assert part.fit(X).n_iter_ == 10  # already at max_iter: nothing to do


def test_load_folder_picks_newest_and_prunes(X, tmp_path):
    DiffusionDenoiser(**{**TINY, "checkpoint_dir": tmp_path, "checkpoint_every": 3}).fit(X)
    names = [p.name for p in checkpoint_module.find_checkpoints(tmp_path)]
    assert names == ["checkpoint-000000009.safetensors", "checkpoint-000000012.safetensors"]  # newest two kept
    assert DiffusionDenoiser.load(tmp_path).n_iter_ == 12
    assert not list(tmp_path.glob(".*tmp"))


def test_failing_checkpoint_write_leaves_the_previous_one_intact(X, tmp_path, monkeypatch):
    from safetensors import torch as st

    real, calls = st.save_file, []

    def failing(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) == 2:
            with open(filename, "wb") as f:
                f.write(b"partial")
            raise OSError("disk full")
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(st, "save_file", failing)
    with pytest.raises(OSError, match="disk full"):
        DiffusionDenoiser(**{**TINY, "checkpoint_dir": tmp_path, "checkpoint_every": 4}).fit(X)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-000000004.safetensors"]  # no partial or temp file
    assert DiffusionDenoiser.load(tmp_path).n_iter_ == 4


def test_a_stop_after_the_last_check_is_not_lost():
    """A signal after the last step's check (during its log: held-out loss, progress bar) goes to the handler
    that was there before training, instead of vanishing (a killed command then ran to the end with exit 0)."""
    cpu = torch.device("cpu")
    net, cfg = UNet(width=2, n_blocks=1), core_training.TrainConfig(max_iter=3, batch_size=2, log_every=5)
    data = Batches(torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0)), cpu)

    class Stopped(Exception):
        pass

    def before(signum, frame):
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, before)
    try:
        state = core_training.new_state(net, cfg, torch_generator(1), torch_generator(2), cpu)
        with pytest.raises(Stopped):
            core_training.train_loop(core_training.prepare_model(net, cfg, World(), cpu), net, data, cfg, state,
                                     on_log=lambda st: os.kill(os.getpid(), signal.SIGTERM))
        assert state.step == 3  # the run was complete when the signal came
        assert signal.getsignal(signal.SIGTERM) is before  # and the handler is back
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ctrl_c_writes_a_checkpoint_that_resumes_bitwise(X, tmp_path, monkeypatch):
    kw = {**TINY, "max_iter": 10}
    full = DiffusionDenoiser(**kw).fit(X)
    stop_interrupting = ctrl_c_at_step(monkeypatch, 7)
    with pytest.warns(RuntimeWarning, match="interrupted after 7 of 10 steps.*checkpoint"):
        DiffusionDenoiser(**{**kw, "checkpoint_dir": tmp_path}).fit(X)
    stop_interrupting()
    back = DiffusionDenoiser.load(tmp_path / "checkpoint-000000007.safetensors")
    back.set_params(warm_start=True, checkpoint_dir=None).fit(X)
    assert_same_weights(full, back)
    assert back.loss_curve_ == full.loss_curve_


def test_checkpoint_holds_no_pickle_and_every_part_of_the_state(X, tmp_path):
    from safetensors import safe_open

    DiffusionDenoiser(**{**TINY, "checkpoint_dir": tmp_path}).fit(X)
    (path,) = checkpoint_module.find_checkpoints(tmp_path)
    with safe_open(str(path), framework="pt") as f:
        keys, meta = set(f.keys()), json.loads(f.metadata()["gahb"])
        assert f.get_tensor("state.rng.0.batch").dtype == torch.uint8
    assert {"state.rng.0.batch", "state.rng.0.noise", "state.window_sum", "state.loss_curve"} <= keys
    assert any(k.startswith("state.optimizer.0.exp_avg") for k in keys)
    assert meta["training"]["step"] == 12 and meta["training"]["param_groups"][0]["lr"] > 0
    raw = path.read_bytes()  # safetensors: an 8-byte header length, then the JSON header (a pickle starts 0x80)
    assert raw[8:9] == b"{" and int.from_bytes(raw[:8], "little") < len(raw)


# ----------------------------------------------------------------------------------------------- bad input
BAD = [
    ({"precision": "fp8"}, ValueError, "precision"),
    ({"checkpoint_every": 0}, ValueError, "checkpoint_every"),
    ({"checkpoint_every": -5}, ValueError, "checkpoint_every"),
    ({"log_every": 0}, ValueError, "log_every"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ({"validation_fraction": 0.99}, ValueError, "leaves no training image"),
    ({"compile": 3}, ValueError, "compile"),
]


@pytest.mark.parametrize("params, exc, match", BAD)
def test_bad_training_parameters_fail_before_training(X, monkeypatch, params, exc, match):
    monkeypatch.setattr(training_module, "train_loop", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(exc, match=match):
        DiffusionDenoiser(**{**TINY, **params}).fit(X)


def test_bad_warm_starts_and_checkpoints_fail_before_training(X, tmp_path, monkeypatch):
    den = DiffusionDenoiser(**{**TINY, "checkpoint_dir": tmp_path}).fit(X)
    saved = tmp_path / "model.safetensors"
    den.save(saved)
    monkeypatch.setattr(training_module, "train_loop", lambda *a, **k: pytest.fail("training started"))
    loaded = DiffusionDenoiser.load(tmp_path)
    with pytest.raises(ValueError, match=r"different model: width 4 -> 8"):
        loaded.set_params(warm_start=True, width=8, checkpoint_dir=None).fit(X)
    with pytest.raises(ValueError, match=r"different model: architecture 'unet' -> 'bfcnn'"):
        DiffusionDenoiser.load(tmp_path).set_params(warm_start=True, architecture="bfcnn",
                                                    checkpoint_dir=None).fit(X)
    with pytest.raises(ValueError, match=r"image shape \(1, 8, 8\) -> \(1, 4, 16\)"):
        DiffusionDenoiser.load(tmp_path).set_params(warm_start=True, image_shape=(4, 16),
                                                    checkpoint_dir=None).fit(X)
    with pytest.raises(ValueError, match="features"):
        DiffusionDenoiser.load(tmp_path).set_params(warm_start=True, checkpoint_dir=None).fit(X[:, :32])
    with pytest.raises(ValueError, match="below the 12 steps"):
        DiffusionDenoiser.load(tmp_path).set_params(warm_start=True, max_iter=5, checkpoint_dir=None).fit(X)
    with pytest.raises(ValueError, match="needs a training state"):
        DiffusionDenoiser.load(saved).set_params(warm_start=True).fit(X)
    with pytest.raises(ValueError, match="already holds checkpoints"):  # another run's checkpoints: never mixed
        DiffusionDenoiser(**{**TINY, "checkpoint_dir": tmp_path, "width": 8}).fit(X)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        DiffusionDenoiser(**{**TINY, "checkpoint_dir": tmp_path / "file"}).fit(X)
    with pytest.raises(ValueError, match="no checkpoint in folder"):
        DiffusionDenoiser.load(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)


# ---------------------------------------------------------------------------------------- layout and compile
def test_channels_last_and_compile_train_the_same_model(X):
    base = DiffusionDenoiser(**TINY).fit(X)
    cl = DiffusionDenoiser(**{**TINY, "channels_last": True}).fit(X)
    comp = DiffusionDenoiser(**{**TINY, "compile": "eager"}).fit(X)  # dynamo capture without code generation
    for other in (cl, comp):
        for k, v in weights(base).items():
            torch.testing.assert_close(weights(other)[k], v, rtol=1e-4, atol=1e-5)
        assert other.network_.state_dict()["encoder.0.0.weight"].is_contiguous()


@pytest.mark.slow
def test_compile_inductor_trains(X):
    base = DiffusionDenoiser(**TINY).fit(X)
    comp = DiffusionDenoiser(**{**TINY, "compile": True}).fit(X)
    for k, v in weights(base).items():
        torch.testing.assert_close(weights(comp)[k], v, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------------- distributed
def test_one_process_group_equals_the_plain_fit(X, tmp_path):
    plain = DiffusionDenoiser(**TINY).fit(X)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ddp = DiffusionDenoiser(**TINY).fit(X)
    finally:
        dist.destroy_process_group()
    assert_same_weights(plain, ddp)
    assert ddp.loss_curve_ == plain.loss_curve_


DDP_KW = dict(width=4, n_blocks=2, max_iter=40, batch_size=32, image_shape=(8, 8), random_state=0, device="cpu",
              log_every=10, lr_schedule="constant")


def _ddp_worker(rank, world_size, init_file, out_dir, ckpt_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        X = smooth_images(256, seed=0)
        den = DiffusionDenoiser(**DDP_KW, checkpoint_dir=ckpt_dir, checkpoint_every=20).fit(X)
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in den.network_.state_dict().items()}, f"{out_dir}/rank{rank}.st")
        with open(f"{out_dir}/rank{rank}.json", "w") as f:
            json.dump(den.loss_curve_, f)
        dist.barrier()  # leave together: gloo aborts a rank torn down while its peer still works (as gahb fit does)
    finally:
        dist.destroy_process_group()


def test_ddp_two_processes_gloo(tmp_path):
    """Two gloo processes end with identical weights (buffers too); their loss curve (each window's mean
    over the global batch of 32) matches a one-process run with batch 32 within 15 % per window (measured:
    6.8, 14.3, 0.4, 1.2 %; one-process runs with seeds 1-3 differ from seed 0 by up to 14, 17, 16, 9 %)."""
    from safetensors.torch import load_file

    torch.multiprocessing.spawn(_ddp_worker, args=(2, str(tmp_path / "store"), str(tmp_path), str(tmp_path / "ck")),
                                nprocs=2, join=True)
    w0, w1 = load_file(tmp_path / "rank0.st"), load_file(tmp_path / "rank1.st")
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    c0, c1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert c0 == c1 and len(c0) == 4
    single = DiffusionDenoiser(**DDP_KW).fit(smooth_images(256, seed=0))
    rel = np.abs(np.array(c0) - single.loss_curve_) / np.array(single.loss_curve_)
    assert rel.max() <= 0.15, rel
    # rank 0 wrote the checkpoints, holding both processes' generators
    last = DiffusionDenoiser.load(tmp_path / "ck")
    assert last.n_iter_ == 40 and {"rng.0.batch", "rng.1.batch"} <= set(last._train_state["tensors"])
    assert all(torch.equal(w0[k], v) for k, v in last.network_.state_dict().items())
