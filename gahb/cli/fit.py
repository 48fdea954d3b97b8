"""``gahb fit``: train one denoiser into a folder (model, checkpoints, report), on one or many devices.

``--nproc N`` starts N processes through PyTorch's own launcher (``torch.distributed.run``, i.e. torchrun:
gloo on CPUs, nccl on GPUs); ``torchrun ... -m gahb fit ...`` does the same. Each process trains on its own
share of every batch (DDP); rank 0 writes the model, the checkpoints and the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from gahb.cli._common import (
    UsageError,
    add_common_arguments,
    check_device,
    positive_int,
    prepare_output,
    say,
    usage_errors,
)
from gahb.cli._data import add_data_arguments, check_data_source, load_pool
from gahb.exceptions import TrainingInterruptedWarning

# the transition study's network on 12 x 12 dead leaves: minutes on a laptop
DEFAULTS = dict(dataset="dead-leaves", image_size=12, n_images=10000, n_val=512, architecture="unet", width=16,
                n_blocks=2, n_layers=21, steps=3000, batch_size=64, learning_rate=1e-3, lr_schedule="halving",
                checkpoint_every=1000, dedup=None)
# The paper's settings (Kadkhodaie et al. 2024, Section 2.2 and the appendix on training): Adam 1e-3 halved every 10 % of
# training, batch 512, sigma = u^2 in [0, 1], about 2.5e8 noisy examples per model (1000 epochs of 250,000),
# i.e. ceil(2.5e8 / 512) = 488,282 steps; held-out loss on 512 images; near-duplicates above 0.95 removed.
PRESETS = {
    "paper-80": dict(dataset="celeba", image_size=80, n_images=100000, architecture="unet", width=64, n_blocks=3,
                     batch_size=512, steps=488282, lr_schedule="halving", checkpoint_every=2000, dedup=0.95),
    # BF-CNN on 40 x 40 CelebA-HQ (Figs 11-12; N up to 1e4). The paper gives no epoch size for these runs:
    # the same 2.5e8 examples as the UNet.
    "paper-40-bfcnn": dict(dataset="celeba", image_size=40, n_images=10000, architecture="bfcnn", width=64,
                           n_layers=21, batch_size=512, steps=488282, lr_schedule="halving", checkpoint_every=2000,
                           dedup=0.95),
}
OPTIONS = {"architecture": "--architecture", "width": "--width", "n_blocks": "--n-blocks", "n_layers": "--n-layers",
           "max_iter": "--steps", "batch_size": "--batch-size", "learning_rate": "--learning-rate",
           "lr_schedule": "--lr-schedule", "image_shape": "--image-size", "device": "--device",
           "precision": "--precision", "log_every": "--log-every", "checkpoint_every": "--checkpoint-every",
           "noise_distribution": "--noise-distribution", "sigma_max": "--sigma-max"}
REPORT_FILES = ("report.md", "report.json", "model.safetensors")


def add_arguments(parser) -> None:
    """Options of ``gahb fit``."""
    d = DEFAULTS
    add_common_arguments(parser, output="fit-output")
    add_data_arguments(parser, dataset=None)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="the paper's settings (paper-80: UNet on 80x80 CelebA; paper-40-bfcnn: BF-CNN on 40x40 "
                             "CelebA-HQ); explicit options win over it")
    parser.add_argument("--image-size", type=positive_int, default=None, help=f"image side [{d['image_size']}]")
    parser.add_argument("--n-images", type=positive_int, default=None,
                        help=f"training images N (a fixed random subset of the data) [{d['n_images']}]")
    parser.add_argument("--n-val", type=int, default=None,
                        help=f"held-out images for the held-out loss (0: none) [{d['n_val']}]")
    parser.add_argument("--architecture", choices=("unet", "bfcnn"), default=None, help="bias-free network [unet]")
    parser.add_argument("--width", type=positive_int, default=None, help=f"channels of the first level [{d['width']}]")
    parser.add_argument("--n-blocks", type=positive_int, default=None, help=f"UNet levels [{d['n_blocks']}]")
    parser.add_argument("--n-layers", type=positive_int, default=None, help=f"BF-CNN layers [{d['n_layers']}]")
    parser.add_argument("--steps", type=positive_int, default=None, help=f"optimizer steps in total [{d['steps']}]")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help=f"images per step, all processes together [{d['batch_size']}]")
    parser.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate [0.001]")
    parser.add_argument("--lr-schedule", choices=("halving", "cosine", "constant"), default=None,
                        help="halving: the paper's (halved at 10 %%, 20 %%, ... of the steps) [halving]")
    parser.add_argument("--noise-distribution", choices=("quadratic", "uniform"), default="quadratic",
                        help="sigma = sigma_max u^2 (the paper's code) or sigma_max u")
    parser.add_argument("--sigma-max", type=float, default=1.0, help="largest training noise level")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="training arithmetic (bf16: autocast; fp16: autocast + gradient scaling)")
    parser.add_argument("--compile", action="store_true", help="train through torch.compile")
    parser.add_argument("--channels-last", action="store_true", help="channels-last memory layout")
    parser.add_argument("--log-every", type=positive_int, default=50, help="steps per logged loss window")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help=f"steps between checkpoints in OUTPUT/checkpoints [{d['checkpoint_every']}]")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--dry-run", action="store_true",
                        help="print parameters, FLOPs per step, memory and estimated time, then stop")
    parser.add_argument("--nproc", type=positive_int, default=1,
                        help="processes (one per GPU) started through torch.distributed.run (torchrun)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads per process")
    parser.add_argument("--overwrite", action="store_true", help="replace a finished model and report in --output")


def _resolve(args):
    """Fill unset options from the preset, then DEFAULTS; check everything. Returns the estimator."""
    from gahb.denoiser import DiffusionDenoiser

    for key, value in {**DEFAULTS, **PRESETS.get(args.preset, {})}.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if args.n_val < 0:
        raise UsageError(f"--n-val must be >= 0; got {args.n_val}.")
    check_device(args.device)
    if not (args.dry_run and args.data_path is None):  # a dry run loads no data: it needs no --data-path
        check_data_source(args)
    with usage_errors(OPTIONS):
        est = DiffusionDenoiser(
            architecture=args.architecture, width=args.width, n_blocks=args.n_blocks, n_layers=args.n_layers,
            image_shape=(args.image_size, args.image_size), max_iter=args.steps, batch_size=args.batch_size,
            learning_rate=args.learning_rate, lr_schedule=args.lr_schedule, sigma_max=args.sigma_max,
            noise_distribution=args.noise_distribution, precision=args.precision, log_every=args.log_every,
            compile=args.compile, channels_last=args.channels_last, checkpoint_every=args.checkpoint_every,
            checkpoint_dir=str(Path(args.output) / "checkpoints"), device=args.device, random_state=args.seed,
            verbose=0 if args.quiet else 1,
        )
        est._validate_params()
    if args.nproc > 1 and "WORLD_SIZE" in os.environ:
        raise UsageError("--nproc starts its own processes; under torchrun leave it out.")
    return est


def _resume_checks(args, est):
    """With ``--resume``: the newest checkpoint, loaded and checked against the options (else UsageError).
    Without: UsageError if the folder holds checkpoints, so two runs never mix."""
    from gahb.core.checkpoint import find_checkpoints
    from gahb.denoiser import DiffusionDenoiser

    found = find_checkpoints(est.checkpoint_dir)
    if not args.resume:
        if found:
            raise UsageError(f"--output {args.output} holds checkpoints of an earlier run (newest: {found[-1].name}); "
                             "pass --resume to continue it, or choose another folder.")
        return None
    if not found:
        raise UsageError(f"--resume: no checkpoint in {est.checkpoint_dir}.")
    try:
        # with --nproc the children load it themselves: the launcher keeps no copy (nor a CUDA context)
        old = DiffusionDenoiser.load(found[-1], device="cpu" if args.nproc > 1 else args.device)
    except ValueError as exc:
        raise UsageError(f"--resume: {exc}") from None
    if getattr(old, "_train_state", None) is None:
        raise UsageError(f"--resume: {found[-1]} holds no training state.")
    changed = [f"{OPTIONS[k]} {old.get_params()[k]} -> {getattr(est, k)}"
               for k in ("architecture", "width", "n_blocks", "n_layers") if old.get_params()[k] != getattr(est, k)]
    if old.image_shape_[1:] != (args.image_size, args.image_size):
        changed.append(f"--image-size {old.image_shape_[-1]} -> {args.image_size}")
    if changed:
        raise UsageError(f"--resume: {found[-1].name} is a checkpoint of another model ({'; '.join(changed)}).")
    if old.n_iter_ > args.steps:
        raise UsageError(f"--resume: the checkpoint is at step {old.n_iter_}, beyond --steps {args.steps}.")
    return old


def dry_run(args, est) -> dict:
    """Parameter count, FLOPs per step, memory and estimated time, without loading data or training."""
    import torch

    from gahb._utils import resolve_device
    from gahb.core.cost import step_seconds, training_flops, training_memory
    from gahb.core.nn import build_network, count_parameters

    device = resolve_device(args.device)
    shape = (1, args.image_size, args.image_size)
    with torch.random.fork_rng(devices=[]):
        net = build_network(args.architecture, 1, args.width, args.n_blocks, args.n_layers).to(device)
    local = -(-args.batch_size // args.nproc)
    flops = training_flops(net, shape, args.batch_size)
    mem = training_memory(net, shape, local, args.precision)
    data_bytes = 4 * (args.n_images + args.n_val) * args.image_size**2
    probe = min(local, 64 if device.type == "cuda" else 1)
    seconds = step_seconds(net, shape, probe, args.precision)
    flops_per_s = training_flops(net, shape, probe) / seconds
    total_s = args.steps * flops / (flops_per_s * args.nproc)
    return {"parameters": count_parameters(net), "flops_per_step": flops, "flops_total": flops * args.steps,
            "memory_bytes_per_process": {**mem, "training_data": data_bytes,
                                         "total": sum(mem.values()) + data_bytes},
            "device": str(device), "probe_batch": probe, "probe_step_seconds": seconds,
            "measured_flops_per_second": flops_per_s, "estimated_seconds": total_s}


def _print_dry_run(args, info) -> None:
    m = info["memory_bytes_per_process"]
    gib = 2.0**30
    print(f"gahb fit --dry-run: {args.architecture} width {args.width}, "
          + (f"{args.n_blocks} levels" if args.architecture == "unet" else f"{args.n_layers} layers")
          + f", {args.image_size}x{args.image_size}, batch {args.batch_size}, {args.steps:,} steps, {args.precision}, "
          f"{args.nproc} process(es)")
    print(f"parameters: {info['parameters']:,}")
    print(f"FLOPs per step: {info['flops_per_step']:.4g} (convolutions, forward + backward = 3x forward); "
          f"total {info['flops_total']:.4g}")
    print(f"memory per process: {m['total'] / gib:.2f} GiB (weights + gradients + Adam "
          f"{m['parameters_and_optimizer'] / gib:.2f}, saved activations {m['activations'] / gib:.2f}, training data "
          f"{m['training_data'] / gib:.2f}; allocator workspace comes on top)")
    hours = info["estimated_seconds"] / 3600
    print(f"estimated time on {info['device']}: {hours:.3g} h = total FLOPs / ({info['measured_flops_per_second']:.3g} "
          f"FLOP/s measured on training steps of batch {info['probe_batch']} here x {args.nproc} process(es)); an "
          "estimate: larger batches usually run faster per image on a GPU")


def run(args) -> int:
    """Train (or with ``--dry-run`` only estimate) and write OUTPUT/model.safetensors and the report."""
    import torch

    t_start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    est = _resolve(args)
    if args.dry_run:
        _print_dry_run(args, dry_run(args, est))
        return 0
    out = prepare_output(args.output, report_files=REPORT_FILES, overwrite=args.overwrite or args.resume)
    old = _resume_checks(args, est)
    if args.nproc > 1:
        return _launch(args)
    world = _init_process_group(args)
    try:
        X, _, shape, desc = load_pool(args, args.n_images + args.n_val)
        n_val = min(args.n_val, max(0, X.shape[0] - 1))
        n_train = min(args.n_images, X.shape[0] - n_val)
        X_train, X_val = X[:n_train], (X[n_train : n_train + n_val] if n_val else None)
        start = 0
        if old is not None:
            old.set_params(**{**est.get_params(), "warm_start": True})
            est, start = old, old.n_iter_
        if world.rank == 0:
            say(args, f"gahb fit: {desc}; N = {n_train} training, {n_val} held-out images; {args.architecture} width "
                      f"{args.width}, {args.steps:,} steps of batch {args.batch_size} on {args.device}, "
                      f"{world.size} process(es), {args.precision}" + (f"; resuming at step {est.n_iter_}" if old else ""))
        else:
            est.set_params(verbose=0)
        t_fit = time.perf_counter()
        with warnings.catch_warnings():  # an interrupted fit warns; the command says it in its last line instead
            warnings.simplefilter("ignore", TrainingInterruptedWarning)
            est.fit(X_train, X_val=X_val)
        fit_s = time.perf_counter() - t_fit
        if world.rank == 0:
            _write_outputs(args, out, est, desc, n_train, n_val, shape, est.n_iter_ - start, fit_s,
                           time.perf_counter() - t_start, world)
        if world.active:  # leave together: a gloo rank that tore down while rank 0 still wrote aborted (1 run in 6)
            torch.distributed.barrier()
    finally:
        if world.active:
            torch.distributed.destroy_process_group()
    if est.n_iter_ < args.steps:  # Ctrl-C: the checkpoint, model and report of the steps done are written
        print(f"gahb: interrupted at step {est.n_iter_} of {args.steps}; the model, report and checkpoints of the "
              f"steps done are in {args.output}: continue with --resume", file=sys.stderr)
        return 130
    return 0


def _launch(args) -> int:
    """Run this same command in ``args.nproc`` processes through ``torch.distributed.run`` (torchrun)."""
    child, skip = [], False
    for a in getattr(args, "_argv", None) or sys.argv[1:]:  # drop --nproc N (or --npr N, ...): the children are the processes
        name = a.split("=", 1)[0]
        if skip or (name.startswith("--np") and "--nproc".startswith(name)):
            skip = not skip and "=" not in a
            continue
        child.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc}",
           "-m", "gahb", *child]
    say(args, "gahb fit: starting " + " ".join(cmd[1:]))
    return subprocess.run(cmd, check=False).returncode


def _init_process_group(args):
    """Join the process group torchrun describes in the environment (none without torchrun)."""
    import torch
    import torch.distributed as dist

    from gahb.core.distributed import World

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and args.device != "cpu"
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return World()


def _write_outputs(args, out, est, desc, n_train, n_val, shape, steps_run, fit_s, wall_s, world) -> None:
    from gahb.core.cost import training_flops
    from gahb.report import Report

    model = out / "model.safetensors"
    est.save(model)
    flops = training_flops(est.network_, est.image_shape_, args.batch_size)
    rep = Report(out, "Training one denoiser (gahb fit)")
    rep.add_text(f"Model: `{model.name}` (load with `DiffusionDenoiser.load`); checkpoints in `checkpoints/` "
                 "(continue with `gahb fit --resume` and the same options)."
                 + (f" **Interrupted at step {est.n_iter_:,} of {args.steps:,}.**" if est.n_iter_ < args.steps else ""))
    rep.add_heading("Setup")
    rep.add_text(f"- data: {desc}; {n_train} training images, {n_val} held-out\n"
                 f"- model: bias-free {args.architecture}, width {args.width}, "
                 + (f"{args.n_blocks} levels" if args.architecture == "unet" else f"{args.n_layers} layers")
                 + f"; Adam lr {args.learning_rate}, {args.lr_schedule} schedule, batch {args.batch_size}, "
                 f"{args.steps:,} steps, {args.precision}\n"
                 f"- {world.size} process(es) on {est.device_}; command: `gahb {' '.join(getattr(args, '_argv', []) or [])}`")
    rep.add_heading("Training")
    rows = [{"step": min((i + 1) * args.log_every, est.n_iter_), "train loss": v,
             **({"held-out loss": est.validation_scores_[i]} if est.validation_scores_ else {})}
            for i, v in enumerate(est.loss_curve_)]
    stride = max(1, len(rows) // 20)
    rep.add_table(rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else []), precision=4,
                  caption="Mean training loss per logged window and the held-out loss at its end (every "
                          f"{stride}th window shown; all of them in report.json).")
    ips = args.batch_size * steps_run / fit_s if fit_s > 0 else float("nan")
    rep.add_text(f"{steps_run:,} steps (of {est.n_iter_:,} in total) in {fit_s:.1f} s of training: {ips:,.0f} images/s, "
                 f"{flops * steps_run / fit_s / 1e12:.3g} TFLOP/s (convolutions); wall time {wall_s:.1f} s.")
    rep.data.update(config={k: v for k, v in vars(args).items() if not k.startswith("_")},
                    data={"description": desc, "n_train": n_train, "n_val": n_val, "image_shape": list(shape)},
                    loss_curve=list(est.loss_curve_), validation_scores=est.validation_scores_, n_iter=est.n_iter_,
                    images_per_second=ips, flops_per_step=flops, fit_seconds=fit_s, wall_seconds_total=wall_s,
                    world_size=world.size)
    md, js = rep.write()
    say(args, f"wrote {model}, {md} and {js} ({wall_s:.0f} s)")
