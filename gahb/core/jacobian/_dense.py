"""Jacobian products and the dense Jacobian: VJP / JVP in memory-capped chunks, compressed by the receptive field."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from gahb._checks import resolve_seed

from ..nn import receptive_radius
from ..random import torch_generator

DEFAULT_MAX_MEMORY = 2 * 2**30  # bytes of autograd buffers one chunk of the dense Jacobian may hold


@contextlib.contextmanager
def eval_mode(f):
    """Evaluate ``f`` in eval mode with frozen parameters; restore both flags on exit.

    See Also
    --------
    full_jacobian : Runs the network inside this context.

    Examples
    --------
    >>> from gahb.core.nn import Denoiser, UNet
    >>> f = Denoiser(UNet(width=4, n_blocks=1))
    >>> with eval_mode(f):
    ...     f.training, next(f.parameters()).requires_grad
    (False, False)
    >>> f.training, next(f.parameters()).requires_grad
    (True, True)
    """
    if not isinstance(f, nn.Module):
        yield f
        return
    # touch only what needs changing: products call this hundreds of times inside one Lanczos run
    training = [m for m in f.modules() if m.training]
    frozen = [p for p in f.parameters() if p.requires_grad]
    for m in training:
        m.training = False
    for p in frozen:
        p.requires_grad_(False)
    try:
        yield f
    finally:
        for p in frozen:
            p.requires_grad_(True)
        for m in training:
            m.training = True


def _check_image(y) -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of shape (C, H, W); got {type(y).__name__}.")
    if y.ndim != 3:
        raise ValueError(f"y must have shape (C, H, W); got shape {tuple(y.shape)}.")
    if not torch.is_floating_point(y):
        raise TypeError(f"y must be a floating-point tensor; got dtype {y.dtype}.")
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y contains NaN or infinite values.")
    return y.detach()


def _bytes_per_image(f, y: torch.Tensor) -> int:
    """Bytes autograd saves for one image: measured with saved-tensor hooks on one forward pass."""
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t

    x = y.unsqueeze(0).clone().requires_grad_(True)
    # enable_grad: under a caller's no_grad nothing would be saved and the estimate would be ~20x too small
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = f(x)
    # saved activations + output + input gradient + the cotangent, for each image of a chunk
    return total[0] + 3 * out.numel() * out.element_size() + 1


# Measured on CPU (one thread): per-row cost is flat up to ~64 rows per vectorised pass while the chunk's
# autograd buffers stay under ~64 MiB, and up to 3x higher beyond (the chunk falls out of cache), e.g. a
# BF-CNN at 96 x 96 (35 MB per image): 16 ms per row in chunks of 1-2, 50 ms in chunks of 64.
CPU_MAX_CHUNK = 64
CPU_CHUNK_BYTES = 64 * 2**20


def _chunk_size(f, y, max_memory, chunk_size) -> int:
    d = y.numel()
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive integer; got {chunk_size}.")
        return min(int(chunk_size), d)
    if max_memory is None or max_memory <= 0:
        raise ValueError(f"max_memory must be a positive number of bytes; got {max_memory}.")
    per_image = _bytes_per_image(f, y)
    cap = min(CPU_MAX_CHUNK, CPU_CHUNK_BYTES // per_image) if y.device.type == "cpu" else d
    return int(max(1, min(d, cap, max_memory // per_image)))


def _single(f):
    return lambda x: f(x.unsqueeze(0))[0]


def vjp(f, y, U, *, chunk_size=None, max_memory=DEFAULT_MAX_MEMORY) -> torch.Tensor:
    """Rows ``J(y)^T u`` for a batch of cotangents ``U`` (m, C, H, W) -> (m, C, H, W).

    One forward pass at y, then the backward pass vectorised (``torch.func.vmap``) over chunks of U.

    See Also
    --------
    jvp : Columns ``J v``.
    full_jacobian : All rows.

    Examples
    --------
    >>> import torch
    >>> shift = lambda v: torch.roll(v, 1, dims=-1)  # a linear map: J is a permutation, J^T shifts back
    >>> U = torch.arange(4.0).reshape(1, 1, 1, 4)
    >>> vjp(shift, torch.zeros(1, 1, 4), U)
    tensor([[[[1., 2., 3., 0.]]]])
    """
    y = _check_image(y)
    U = U.to(device=y.device, dtype=y.dtype).reshape((-1,) + tuple(y.shape))
    with eval_mode(f):
        step = _chunk_size(f, y, max_memory, chunk_size)
        _, vjp_fn = torch.func.vjp(_single(f), y)
        if step == 1:  # vmap over one row only adds overhead
            return torch.stack([vjp_fn(u)[0].detach() for u in U])
        batched = torch.func.vmap(vjp_fn)
        out = [batched(U[s : s + step])[0].detach() for s in range(0, U.shape[0], step)]
    return torch.cat(out)


def jvp(f, y, V, *, chunk_size=None, max_memory=DEFAULT_MAX_MEMORY) -> torch.Tensor:
    """Columns ``J(y) v`` for a batch of tangents ``V`` (m, C, H, W) -> (m, C, H, W), forward mode.

    The primal y is shared; the tangents are vectorised (``torch.func.vmap``) over chunks of V.

    See Also
    --------
    vjp : Rows ``J^T u``.
    JacobianOperator : Products as a scipy ``LinearOperator``.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.nn import BFCNN, Denoiser
    >>> f, y = Denoiser(BFCNN(width=4, n_layers=3)).eval(), torch.rand(1, 6, 6)
    >>> Jy = jvp(f, y, y.unsqueeze(0))[0]  # J(y) y = f(y): the network is positively homogeneous (eq. 6)
    >>> bool(torch.allclose(Jy, f(y.unsqueeze(0))[0], atol=1e-5))
    True
    """
    y = _check_image(y)
    V = V.to(device=y.device, dtype=y.dtype).reshape((-1,) + tuple(y.shape))
    with eval_mode(f):
        step = _chunk_size(f, y, max_memory, chunk_size)
        g = _single(f)
        batched = torch.func.vmap(lambda v: torch.func.jvp(g, (y,), (v,))[1])
        out = [batched(V[s : s + step]).detach() for s in range(0, V.shape[0], step)]
    return torch.cat(out)


def full_jacobian(f, y, *, receptive_field="auto", chunk_size=None, max_memory=DEFAULT_MAX_MEMORY) -> torch.Tensor:
    """Dense ``J[i, j] = d f_i / d y_j`` (d, d), d = C*H*W: one forward pass, then vectorised VJPs.

    ``chunk_size`` rows share one vectorised backward pass; by default the largest number whose
    autograd buffers fit in ``max_memory`` bytes (measured on one image), and on CPU at most 64 rows
    and 64 MiB of buffers (larger chunks fall out of cache and run slower per row).

    ``receptive_field`` r: output pixels depend only on inputs at most r rows and columns away, so
    row i of J vanishes outside a (2r+1)^2 window and the rows of pixels 2r+1 apart never overlap:
    one VJP of their summed cotangents gives all of them (Curtis-Powell-Reid compression), i.e.
    C * min(H, 2r+1) * min(W, 2r+1) VJPs instead of d. ``"auto"``: the exact radius of gahb's own
    networks (``gahb.core.nn.receptive_radius``), none for other callables; ``None``: one VJP per row.
    A compressed J is checked against one direct VJP of a random probe; a radius that is too small
    raises ``ValueError``.

    See Also
    --------
    symmetric_eigh : The adaptive basis and shrinkage factors of J.
    top_eigenpairs : The top of the spectrum without forming J.
    gahb.JacobianEigenbasis : The same analysis as a scikit-learn estimator.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.nn import Denoiser, UNet, init_weights_
    >>> f = init_weights_(Denoiser(UNet(width=4, n_blocks=1)), torch.Generator().manual_seed(0)).eval()
    >>> y = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> J = full_jacobian(f, y)
    >>> J.shape, bool(torch.allclose(J, jacobian_by_loop(f, y), atol=1e-5))
    (torch.Size([64, 64]), True)
    """
    y = _check_image(y)
    r = _radius(f, receptive_field)
    C, H, W = y.shape
    d = y.numel()
    s = None if r is None else 2 * r + 1
    if s is None or C * min(s, H) * min(s, W) >= d:
        eye = torch.eye(d, device=y.device, dtype=y.dtype).reshape((d,) + tuple(y.shape))
        return vjp(f, y, eye, chunk_size=chunk_size, max_memory=max_memory).reshape(d, d)
    sa, sb = min(s, H), min(s, W)
    U = torch.zeros((C, sa, sb, C, H, W), device=y.device, dtype=y.dtype)
    for c in range(C):
        for a in range(sa):
            for b in range(sb):
                U[c, a, b, c, a::s, b::s] = 1
    R = vjp(f, y, U.reshape((-1,) + tuple(y.shape)), chunk_size=chunk_size, max_memory=max_memory).reshape(-1, d)
    c_, i1, i2 = torch.meshgrid(*(torch.arange(n, device=y.device) for n in (C, H, W)), indexing="ij")
    J = R[((c_ * sa + i1 % s) * sb + i2 % s).reshape(-1)]  # row i = the VJP of its group, then cut to its window
    rows, cols = (torch.arange(n, device=y.device) for n in (H, W))
    band_h, band_w = ((a[:, None] - a).abs() <= r for a in (rows, cols))
    J.view(C, H, W, C, H, W).mul_(band_h.view(1, H, 1, 1, H, 1)).mul_(band_w.view(1, 1, W, 1, 1, W))
    _check_compressed(f, y, J, r)
    return J


def _radius(f, receptive_field):
    if isinstance(receptive_field, str):
        if receptive_field != "auto":
            raise ValueError(f"receptive_field must be 'auto', None or a non-negative integer; got {receptive_field!r}.")
        return receptive_radius(f) if isinstance(f, nn.Module) else None
    if receptive_field is None:
        return None
    if isinstance(receptive_field, bool) or not isinstance(receptive_field, (int, np.integer)) or receptive_field < 0:
        raise ValueError(f"receptive_field must be 'auto', None or a non-negative integer; got {receptive_field!r}.")
    return int(receptive_field)


def _check_compressed(f, y, J, r, rtol=1e-4):
    """One direct VJP of a fixed Rademacher probe must match J^T z: catches a radius that is too small."""
    z = _probes(y.numel(), 1, y.dtype, y.device, 0)
    direct = vjp(f, y, z.reshape((1,) + tuple(y.shape)), chunk_size=1)[0].reshape(-1).double()  # no memory probe
    JTz = (z[0] @ J).double()  # in J's dtype: a float64 copy of J would double the peak memory
    err = float(torch.linalg.norm(JTz - direct) / torch.linalg.norm(direct).clamp_min(1e-300))
    if err > rtol:
        raise ValueError(f"receptive_field={r} is smaller than the denoiser's receptive field: the compressed "
                         f"Jacobian misses {err:.1e} of a probe product (tolerance {rtol:g}). Pass a larger "
                         "receptive_field, or None for one VJP per row.")


def jacobian_by_loop(f, y) -> torch.Tensor:
    """Reference dense Jacobian, one backward pass per output pixel (the official code's method).

    See Also
    --------
    full_jacobian : The same matrix from batched, compressed products.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    >>> J = jacobian_by_loop(lin, torch.zeros(1, 4, 4))  # a linear map: J is its matrix, 16 x 16
    >>> J.shape
    torch.Size([16, 16])
    """
    y = _check_image(y)
    d = y.numel()
    rows = []
    with eval_mode(f):
        x = y.unsqueeze(0).clone().requires_grad_(True)
        with torch.enable_grad():
            fx = f(x).reshape(-1)
            for i in range(d):
                (g,) = torch.autograd.grad(fx[i], x, retain_graph=i < d - 1)
                rows.append(g.reshape(-1))
    return torch.stack(rows)


def symmetric_eigh(J):
    """Eigenpairs of the symmetric part (J + J^T)/2 in float64, eigenvalues descending (GAHB eq. 6).

    Returns ``(eigenvalues (d,), eigenvectors (d, d))`` with eigenvectors as columns; each column's sign
    is fixed so that its largest-magnitude entry is positive (the sign is otherwise arbitrary).

    See Also
    --------
    full_jacobian : The matrix J.
    asymmetry : How far J is from its symmetric part.

    Examples
    --------
    >>> import torch
    >>> lam, E = symmetric_eigh(torch.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> lam
    tensor([3., 1.], dtype=torch.float64)
    >>> E[:, 0]
    tensor([0.7071, 0.7071], dtype=torch.float64)
    """
    J = torch.as_tensor(J).to(torch.float64)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"J must be a square matrix; got shape {tuple(J.shape)}.")
    S = 0.5 * (J + J.T)
    lam, E = torch.linalg.eigh(S)
    lam, E = lam.flip(0), E.flip(1)
    return lam, _fix_signs(E)


def _fix_signs(E: torch.Tensor) -> torch.Tensor:
    idx = E.abs().argmax(dim=0)
    signs = torch.sign(E[idx, torch.arange(E.shape[1], device=E.device)])
    signs[signs == 0] = 1
    return E * signs


def asymmetry(J) -> float:
    """Relative asymmetry ``||J - J^T||_F / ||J||_F`` (0 for an exactly symmetric Jacobian).

    See Also
    --------
    probe_asymmetry : The same without forming J.

    Examples
    --------
    >>> import torch
    >>> asymmetry(torch.eye(3)), round(asymmetry(torch.tensor([[1.0, 1.0], [0.0, 1.0]])), 3)
    (0.0, 0.816)
    """
    J = torch.as_tensor(J).to(torch.float64)
    return float(torch.linalg.norm(J - J.T) / torch.linalg.norm(J).clamp_min(1e-300))


def homogeneity_error(f, y, J=None) -> float:
    """Relative Euler-identity error ``||J(y) y - f(y)|| / ||f(y)||`` (0 for a bias-free net, eq. 6).

    See Also
    --------
    jvp : Computes ``J(y) y`` when ``J`` is not given.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.nn import Denoiser, UNet
    >>> y = torch.rand(1, 8, 8)
    >>> homogeneity_error(Denoiser(UNet(width=4, n_blocks=1)).eval(), y) < 1e-5
    True
    >>> homogeneity_error(torch.nn.Conv2d(1, 1, 3, padding=1), y) > 1e-3  # an additive bias breaks it
    True
    """
    y = _check_image(y)
    with eval_mode(f), torch.no_grad():
        fy = f(y.unsqueeze(0))[0].reshape(-1).to(torch.float64)
    if J is None:
        Jy = jvp(f, y, y.unsqueeze(0))[0].reshape(-1).to(torch.float64)
    else:
        Jy = torch.as_tensor(J).to(torch.float64) @ y.reshape(-1).to(torch.float64)
    return float(torch.linalg.norm(Jy - fy) / torch.linalg.norm(fy).clamp_min(1e-300))


def _probes(d, n, dtype, device, random_state, kind="rademacher"):
    gen = torch_generator(resolve_seed(random_state))
    if kind == "rademacher":
        Z = torch.randint(0, 2, (n, d), generator=gen, dtype=torch.int64) * 2 - 1
        return Z.to(dtype=dtype, device=device)
    return torch.randn((n, d), generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
