"""The torch core: networks, training step, samplers, Jacobian tools and measurement operators.

Plain functions and modules on tensors ``(N, C, H, W)`` with explicit ``torch.Generator`` objects; no
scikit-learn here. Arguments are assumed valid: the estimators (``gahb.DiffusionDenoiser``, ...) check
them once before calling in.

- :mod:`gahb.core.nn`: bias-free BatchNorm, UNet, BF-CNN, ``build_network``, ``receptive_radius``
- :mod:`gahb.core.training`: noise levels, learning-rate schedules, the training loop (precision, no per-step sync)
- :mod:`gahb.core.batches`: training images on the device or streamed from host memory / ``np.memmap``
- :mod:`gahb.core.checkpoint`: training state as safetensors + JSON, atomic writes
- :mod:`gahb.core.distributed`: data-parallel training inside a ``torch.distributed`` process group
- :mod:`gahb.core.cost`: FLOPs, memory and measured step time of a network
- :mod:`gahb.core.sampling`: the paper's stochastic sampler and ODE samplers, one signature
- :mod:`gahb.core.jacobian`: dense and matrix-free Jacobians, Lanczos, Hutchinson
- :mod:`gahb.core.operators`: measurement operators of linear inverse problems, ``solve_inverse``
- :mod:`gahb.core.optimal`: the empirical optimal (memorizing) denoiser
- :mod:`gahb.core.random`: per-sample generators seeded from ``(seed, index)``
"""
