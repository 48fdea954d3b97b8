"""Settings of each figure's computation at three scales, and the paper-scale cost estimate.

``quick``: seconds, checks the plumbing (no science). ``cpu``: minutes on one or two CPU cores, the scale
of the gallery. ``paper``: the paper's settings (image size, network, 1000 epochs of batch 512, its
sampler); the estimate counts training and sampling convolutions (``gahb.core.cost``) at an assumed
sustained throughput.
"""

from __future__ import annotations

__all__ = ["CONFIGS", "ASSUMED_TFLOPS", "estimate"]

# Sustained throughput assumed for the paper-scale estimate: a guess for one current data-centre GPU running
# these convolutions with bf16 autocast (about a fifth of an H100's dense bf16 peak), not a measurement.
ASSUMED_TFLOPS = 200.0

_UNET_CPU = dict(architecture="unet", width=16, n_blocks=2, max_iter=3000, batch_size=64)
_BFCNN_CPU = dict(architecture="bfcnn", width=16, n_layers=8, max_iter=1000, batch_size=32)
_BFCNN_QUICK = dict(architecture="bfcnn", width=8, n_layers=4, max_iter=30, batch_size=16)
_UNET_QUICK = dict(architecture="unet", width=8, n_blocks=2, max_iter=60, batch_size=16)
_SAMPLER_CPU = dict(beta=1.0, h0=0.01, max_sample_steps=1000)
_SAMPLER_QUICK = dict(beta=1.0, h0=0.05, max_sample_steps=60)
_SAMPLER_PAPER = dict(beta=0.1, h0=0.01, sigma_final=0.05, max_sample_steps=2000)
_EPOCHS = 1000
_UNET_PAPER = dict(architecture="unet", width=64, n_blocks=3, batch_size=512, max_iter=_EPOCHS * 250_000 // 512)
_BFCNN_PAPER = dict(architecture="bfcnn", width=64, n_layers=21, batch_size=512)

_TRANSITION = {
    "quick": dict(image_size=8, sizes=(1, 4, 16), n_samples=6, n_psnr_images=16, estimator={**_UNET_QUICK,
                  **_SAMPLER_QUICK}, small_n=4),
    "cpu": dict(image_size=12, sizes=(1, 10, 100, 1000, 10000), n_samples=32, n_psnr_images=100,
                estimator={**_UNET_CPU, "max_iter": 1000, **_SAMPLER_CPU}, small_n=10),
    "paper": dict(image_size=80, sizes=(1, 10, 100, 1000, 10000, 99325), n_samples=64, n_psnr_images=300,
                  estimator={**_UNET_PAPER, **_SAMPLER_PAPER}, small_n=10, dedup=0.95),
}
_TRANSITION_BFCNN = {
    "quick": {**_TRANSITION["quick"], "estimator": {**_BFCNN_QUICK, **_SAMPLER_QUICK}},
    "cpu": {**_TRANSITION["cpu"], "sizes": (1, 10, 100, 1000), "estimator": {**_BFCNN_CPU, **_SAMPLER_CPU}},
    "paper": dict(image_size=40, sizes=(1, 10, 100, 1000, 10000), n_samples=64, n_psnr_images=300, small_n=10,
                  estimator={**_BFCNN_PAPER, "max_iter": _EPOCHS * 1_000_000 // 512, **_SAMPLER_PAPER}),
}
_C_ALPHA = {
    "quick": dict(alphas=(1, 2), image_size=8, n_train=100, n_test=8, n_psnr_images=8, estimator=_UNET_QUICK),
    "cpu": dict(alphas=(1, 2, 3, 5), image_size=16, n_train=2000, n_test=100, n_psnr_images=100,
                estimator={**_UNET_CPU, "max_iter": 800}),
    "paper": dict(alphas=(1, 2, 3, 4, 5), image_size=80, n_train=100_000, n_test=300, n_psnr_images=300,
                  estimator={**_UNET_PAPER, "max_iter": _EPOCHS * 100_000 // 512}),
}
_C_ALPHA_BFCNN = {
    "quick": {**_C_ALPHA["quick"], "alphas": (2, 3, 4), "estimator": _BFCNN_QUICK},
    "cpu": {**_C_ALPHA["cpu"], "alphas": (2, 3, 4), "n_train": 2000, "estimator": _BFCNN_CPU},
    "paper": {**_C_ALPHA["paper"], "alphas": (2, 3, 4), "image_size": 40,
              "estimator": {**_BFCNN_PAPER, "max_iter": _EPOCHS * 100_000 // 512}},
}
_MANIFOLD = {
    "quick": dict(image_size=8, n_train=100, n_test=8, estimator=_BFCNN_QUICK),
    "cpu": dict(image_size=16, n_train=1000, n_test=100, estimator=_BFCNN_CPU),
    "paper": dict(image_size=40, n_train=100_000, n_test=300,
                  estimator={**_BFCNN_PAPER, "max_iter": _EPOCHS * 100_000 // 512}),
}
_RESOLUTION = {
    "quick": dict(image_sizes=(4, 8), n_blocks={4: 1, 8: 2}, sizes=(1, 8), n_psnr_images=8,
                  estimator=_UNET_QUICK, threshold=1.0),
    "cpu": dict(image_sizes=(8, 16, 32), n_blocks={8: 1, 16: 2, 32: 3}, sizes=(1, 10, 100, 1000), n_psnr_images=100,
                estimator={**_UNET_CPU, "width": 8, "max_iter": 800, "batch_size": 32}, threshold=1.0),
    "paper": dict(image_sizes=(20, 40, 80, 160), n_blocks={20: 1, 40: 2, 80: 3, 160: 4},
                  sizes=(1, 10, 100, 1000, 10000, 100000), n_psnr_images=300, estimator=_UNET_PAPER, threshold=1.0),
}

CONFIGS = {
    "transition": _TRANSITION, "transition_bfcnn": _TRANSITION_BFCNN, "data_baseline": _TRANSITION,
    "c_alpha": _C_ALPHA, "disks": {k: {**v, "alphas": ()} for k, v in _C_ALPHA.items()},
    "shuffled": _TRANSITION, "c_alpha_bfcnn": _C_ALPHA_BFCNN, "regularities": _MANIFOLD, "rescaling": _MANIFOLD,
    "sines": _MANIFOLD, "resolution": _RESOLUTION,
}


def _train_flops(est: dict, side: int) -> float:
    from gahb.core.cost import training_flops
    from gahb.core.nn import build_network

    net = build_network(est["architecture"], 1, est["width"], est.get("n_blocks", 3), est.get("n_layers", 21))
    return float(training_flops(net, (1, side, side), est["batch_size"])) * est["max_iter"]


def _forward_flops(est: dict, side: int) -> float:
    from gahb.core.cost import forward_flops
    from gahb.core.nn import build_network

    net = build_network(est["architecture"], 1, est["width"], est.get("n_blocks", 3), est.get("n_layers", 21))
    return float(forward_flops(net, (1, side, side)))


def estimate(experiment: str, scale: str = "paper", tflops: float = ASSUMED_TFLOPS):
    """``(operations, seconds, lines)``: training plus sampling convolutions of one experiment at ``scale``."""
    cfg = CONFIGS[experiment][scale]
    est, lines, total = cfg["estimator"], [], 0.0
    if experiment in ("transition", "transition_bfcnn", "shuffled"):
        side, n_models = cfg["image_size"], 2 * len(cfg["sizes"]) if experiment != "shuffled" else 1
        train = _train_flops(est, side) * n_models
        sample = _forward_flops(est, side) * cfg["n_samples"] * n_models * 100  # ~100 sampler steps (beta 0.1)
        total = train + sample
        lines.append(f"{n_models} models x {est['max_iter']:,} steps of batch {est['batch_size']} at {side}x{side}: "
                     f"{train:.3g} operations; sampling {sample:.3g}")
    elif experiment == "resolution":
        for side in cfg["image_sizes"]:
            e = {**est, "n_blocks": cfg["n_blocks"][side]}
            t = _train_flops(e, side) * len(cfg["sizes"])
            total += t
            lines.append(f"{len(cfg['sizes'])} models at {side}x{side} ({e['n_blocks']} levels): {t:.3g} operations")
    elif experiment == "data_baseline":
        lines.append("no training: nearest-neighbour search between the two training sets")
    else:
        side = cfg["image_size"]
        n_models = {"c_alpha": len(cfg.get("alphas", ())), "c_alpha_bfcnn": len(cfg.get("alphas", ())),
                    "regularities": 3, "rescaling": 2}.get(experiment, 1)
        total = _train_flops(est, side) * n_models
        lines.append(f"{n_models} model(s) x {est['max_iter']:,} steps of batch {est['batch_size']} at {side}x{side}: "
                     f"{total:.3g} operations")
    seconds = total / (tflops * 1e12)
    lines.append(f"at an assumed sustained {tflops:g} TFLOP/s: {seconds / 3600:.1f} GPU-hours (Jacobians and PSNR "
                 "curves come on top, a few per cent)")
    return total, seconds, lines
