"""Jacobian tools for a denoiser callable ``f``: (B, C, H, W) -> (B, C, H, W), at one image ``y`` (C, H, W).

A bias-free denoiser is piecewise linear and positively homogeneous, so f(y) = J(y) y
= sum_k lambda_k <y, e_k> e_k (GAHB eq. 6): shrinkage in an orthonormal basis adapted to y.
This module computes J exactly (dense, batched vector-Jacobian products in chunks under a memory cap,
compressed by the receptive field when it is smaller than the image) or matrix-free (JVP / VJP linear
operators, Lanczos top-k eigenpairs, Hutchinson trace, probe asymmetry).

Every function evaluates an ``nn.Module`` in eval mode (so BatchNorm uses running statistics and the
network is exactly piecewise linear), never leaves ``requires_grad`` changed on its parameters and
restores the module's training flag afterwards. Products are batched with ``torch.func`` (one forward
pass at y, then ``vmap`` over many cotangents or tangents).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gahb._checks import resolve_seed

from .nn import receptive_radius
from .random import torch_generator

__all__ = [
    "eval_mode",
    "full_jacobian",
    "jacobian_by_loop",
    "symmetric_eigh",
    "asymmetry",
    "homogeneity_error",
    "jvp",
    "vjp",
    "JacobianOperator",
    "top_eigenpairs",
    "hutchinson_trace",
    "probe_asymmetry",
    "TraceEstimate",
]

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


class _GatedNetwork:
    """v -> J(y) v for gahb's networks: each ReLU replaced by its 0/1 gate at y (exact: f is piecewise linear).

    Recorded from one forward pass at y; a plain batched forward pass per product, no autograd.
    ``_GatedNetwork.of`` returns ``None`` for a module that is not one of gahb's networks.
    """

    def __init__(self, f: nn.Module, y: torch.Tensor):
        self.f = f
        self.relus = [m for m in f.modules() if isinstance(m, nn.ReLU)]
        self.gates = {m: [] for m in self.relus}

        def record(module, inputs, out):
            self.gates[module].append((out > 0).to(out.dtype))

        hooks = [m.register_forward_hook(record) for m in self.relus]
        try:
            with torch.no_grad():
                f(y.unsqueeze(0))
        finally:
            for h in hooks:
                h.remove()

    @classmethod
    def of(cls, f, y):
        return cls(f, y) if isinstance(f, nn.Module) and receptive_radius(f) is not None else None

    def __call__(self, V: torch.Tensor) -> torch.Tensor:
        saved = [(m, m.__dict__.get("forward")) for m in self.relus]
        try:
            for m in self.relus:
                # shadow the ReLU's forward (no hooks: ~10 % cheaper); in place exactly where the ReLU was
                m.forward = _gate(iter(self.gates[m]), m.inplace)
            with torch.no_grad():
                return self.f(V)
        finally:
            for m, forward in saved:
                if forward is None:
                    del m.forward
                else:
                    m.forward = forward


def _gate(gates, inplace):
    def forward(x):
        g = next(gates)
        return x.mul_(g) if inplace else x * g

    return forward


class JacobianOperator:
    """J(y), J(y)^T or the symmetric part (J + J^T)/2 as a scipy ``LinearOperator`` (float64 interface).

    Each product runs the denoiser in its own dtype on its own device; ``n_products`` counts the
    Jacobian-vector plus vector-Jacobian products spent so far. Jᵀu is the VJP of one stored forward
    pass; J v is the VJP of that VJP, or, for gahb's own networks, one forward pass with every ReLU
    frozen to its 0/1 gate at y (exact for a piecewise-linear network; checked against the VJP's VJP on
    a random vector before use). ``forward_method`` says which ("vjp-of-vjp" or "gated").

    See Also
    --------
    top_eigenpairs : Lanczos on this operator.
    full_jacobian : The dense matrix.

    Examples
    --------
    >>> import numpy as np, torch
    >>> shift = lambda v: torch.roll(v, 1, dims=-1)
    >>> op = JacobianOperator(shift, torch.zeros(1, 1, 4), part="transpose")
    >>> op.as_linear_operator() @ np.arange(4.0), op.n_products
    (array([1., 2., 3., 0.]), 1)
    """

    def __init__(self, f, y, *, part="symmetric", chunk_size=None, max_memory=DEFAULT_MAX_MEMORY):
        if part not in ("symmetric", "forward", "transpose"):
            raise ValueError(f"part must be 'symmetric', 'forward' or 'transpose'; got {part!r}.")
        self.f, self.y, self.part = f, _check_image(y), part
        self.chunk_size, self.max_memory = chunk_size, max_memory
        self.d = self.y.numel()
        self.n_products = 0
        self._step = self._vjp = self._jvp = None  # chunk size and products of one forward pass, reused
        self.forward_method = "vjp-of-vjp"  # how J v is computed; "gated" for gahb's networks after the first product

    def _batch(self, M: np.ndarray) -> torch.Tensor:
        V = torch.as_tensor(np.ascontiguousarray(M.T), dtype=self.y.dtype, device=self.y.device)
        return V.reshape((-1,) + tuple(self.y.shape))

    def _cache(self):
        """One forward pass at y; the VJP u -> J^T u, and v -> J v by the gated network or the VJP's VJP."""
        if self._vjp is None:
            _, fn = torch.func.vjp(_single(self.f), self.y)
            self._vjp = (fn, torch.func.vmap(fn))
            # J v as the VJP of the (linear) VJP: reuses the stored forward pass; 2x cheaper than forward mode
            _, fn2 = torch.func.vjp(lambda u: fn(u)[0], torch.zeros_like(self.y))
            self._jvp = (fn2, torch.func.vmap(fn2))
            gated = _GatedNetwork.of(self.f, self.y)
            if gated is not None:
                # 2.3x cheaper again (measured at 64 x 64: 5.3 against 12.4 ms), once checked against the VJP's VJP
                v = torch.randn(self.y.shape, generator=torch_generator(0), dtype=torch.float64).to(self.y)
                ref, got = fn2(v)[0].double(), gated(v.unsqueeze(0))[0].double()
                if float(torch.linalg.norm(got - ref)) <= 1e-4 * float(torch.linalg.norm(ref)):
                    self._jvp = (lambda v: (gated(v.unsqueeze(0))[0],), lambda V: (gated(V),))  # as the VJPs' tuples
                    self.forward_method = "gated"

    def _product(self, pair, V):
        with eval_mode(self.f):
            self._cache()
            single, batched = getattr(self, pair)
            if V.shape[0] == 1:  # Lanczos: one vector at a time, where vmap's overhead is not worth it
                return single(V[0])[0].detach().unsqueeze(0)
            return torch.cat([batched(V[s : s + self._step])[0].detach() for s in range(0, V.shape[0], self._step)])

    def _transpose(self, U):
        return self._product("_vjp", U)

    def _forward(self, V):
        return self._product("_jvp", V)

    def _apply(self, M: np.ndarray, part: str) -> np.ndarray:
        if self._step is None:
            with eval_mode(self.f):
                self._step = _chunk_size(self.f, self.y, self.max_memory, self.chunk_size)
        V = self._batch(M)
        if part == "forward":
            out = self._forward(V)
        elif part == "transpose":
            out = self._transpose(V)
        else:
            out = 0.5 * (self._forward(V).double() + self._transpose(V).double())
        self.n_products += (2 if part == "symmetric" else 1) * V.shape[0]
        return out.reshape(V.shape[0], -1).to("cpu", torch.float64).numpy().T

    def matmat(self, M) -> np.ndarray:
        """``A @ M`` for ``M`` of shape (d, m)."""
        M = np.asarray(M, dtype=np.float64)
        return self._apply(M.reshape(self.d, -1), self.part)

    def as_linear_operator(self):
        """The scipy ``LinearOperator`` (matvec, rmatvec, matmat) of this operator."""
        from scipy.sparse.linalg import LinearOperator

        adjoint = {"symmetric": "symmetric", "forward": "transpose", "transpose": "forward"}[self.part]
        return LinearOperator(
            (self.d, self.d),
            matvec=lambda v: self._apply(np.asarray(v, np.float64).reshape(self.d, 1), self.part)[:, 0],
            rmatvec=lambda v: self._apply(np.asarray(v, np.float64).reshape(self.d, 1), adjoint)[:, 0],
            matmat=lambda M: self._apply(np.asarray(M, np.float64), self.part),
            dtype=np.float64,
        )


def top_eigenpairs(f, y, k, *, method="lanczos", tol=1e-6, maxiter=None, ncv=None, random_state=0,
                   chunk_size=None, max_memory=DEFAULT_MAX_MEMORY):
    """Top-``k`` eigenpairs of the symmetric part of J(y), matrix-free, eigenvalues descending.

    ``method="lanczos"``: implicitly restarted Lanczos (scipy ``eigsh``, ``which="LA"``), one symmetric
    product per iteration. ``method="lobpcg"``: scipy ``lobpcg`` on blocks of ``k`` vectors (batched
    products; needs ``3k < d``). Returns ``(eigenvalues (k,), eigenvectors (d, k), n_products)``.

    See Also
    --------
    symmetric_eigh : All eigenpairs of a dense J.
    hutchinson_trace : The sum of all eigenvalues.

    Examples
    --------
    >>> import torch
    >>> w = torch.linspace(0.1, 1.6, 16).reshape(1, 4, 4)  # a diagonal J: its eigenvalues are the weights
    >>> lam, E, n_products = top_eigenpairs(lambda v: w * v, torch.zeros(1, 4, 4), 2)
    >>> lam, E.shape
    (tensor([1.6000, 1.5000], dtype=torch.float64), torch.Size([16, 2]))
    """
    y = _check_image(y)
    d = y.numel()
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k < d:
        raise ValueError(f"k must be an integer with 1 <= k < d = {d}; got {k!r}.")
    op = JacobianOperator(f, y, part="symmetric", chunk_size=chunk_size, max_memory=max_memory)
    gen = np.random.default_rng(resolve_seed(random_state))
    v0 = gen.standard_normal(d)
    if method == "lanczos":
        from scipy.sparse.linalg import eigsh

        lam, E = eigsh(op.as_linear_operator(), k=int(k), which="LA", tol=tol, maxiter=maxiter, ncv=ncv, v0=v0)
        lam, E = torch.from_numpy(lam.copy()), torch.from_numpy(E.copy())
    elif method == "lobpcg":
        if 3 * k >= d:
            raise ValueError(f"method='lobpcg' needs 3k < d; got k={k}, d={d}. Use 'lanczos' or 'full'.")

        from scipy.sparse.linalg import lobpcg

        X0 = gen.standard_normal((d, int(k)))
        # lobpcg's tol is a residual norm, not eigsh's relative accuracy: keep scipy's default
        lam, E = lobpcg(op.as_linear_operator(), X0, largest=True, maxiter=maxiter or 200)
        lam, E = torch.from_numpy(lam.copy()), torch.from_numpy(E.copy())
    else:
        raise ValueError(f"method must be 'lanczos' or 'lobpcg'; got {method!r}.")
    order = torch.argsort(lam, descending=True)
    return lam[order], _fix_signs(E[:, order]), op.n_products


@dataclass(frozen=True)
class TraceEstimate:
    """A Monte-Carlo estimate with its standard error (std of the probe values / sqrt(n_probes)).

    See Also
    --------
    hutchinson_trace : Returns one.

    Examples
    --------
    >>> TraceEstimate(estimate=12.5, std_error=0.3, n_probes=32).estimate
    12.5
    """

    estimate: float
    std_error: float
    n_probes: int


def _probes(d, n, dtype, device, random_state, kind="rademacher"):
    gen = torch_generator(resolve_seed(random_state))
    if kind == "rademacher":
        Z = torch.randint(0, 2, (n, d), generator=gen, dtype=torch.int64) * 2 - 1
        return Z.to(dtype=dtype, device=device)
    return torch.randn((n, d), generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)


def hutchinson_trace(f, y, n_probes=32, *, random_state=0, chunk_size=None,
                     max_memory=DEFAULT_MAX_MEMORY) -> TraceEstimate:
    """Effective dimension tr J(y) = sum_k lambda_k by Hutchinson: mean of z^T J z over Rademacher z.

    Uses ``n_probes`` vector-Jacobian products; ``std_error`` is the sample standard deviation of the
    probe values over sqrt(n_probes), so the exact trace lies within ~3 std errors in 99.7 % of runs.

    See Also
    --------
    TraceEstimate : The result.
    full_jacobian : The exact trace, at the cost of d products.

    Examples
    --------
    >>> import torch
    >>> hutchinson_trace(lambda v: 0.5 * v, torch.zeros(1, 4, 4), 4)  # J = I / 2 on 16 pixels: exact
    TraceEstimate(estimate=8.0, std_error=0.0, n_probes=4)
    """
    y = _check_image(y)
    if not isinstance(n_probes, (int, np.integer)) or n_probes < 2:
        raise ValueError(f"n_probes must be an integer >= 2; got {n_probes!r}.")
    d = y.numel()
    Z = _probes(d, int(n_probes), y.dtype, y.device, random_state)
    JtZ = vjp(f, y, Z.reshape((-1,) + tuple(y.shape)), chunk_size=chunk_size, max_memory=max_memory)
    vals = (JtZ.reshape(n_probes, -1).double() * Z.double()).sum(dim=1)
    return TraceEstimate(float(vals.mean()), float(vals.std(unbiased=True) / math.sqrt(n_probes)), int(n_probes))


def probe_asymmetry(f, y, n_probes=32, *, random_state=0, chunk_size=None,
                    max_memory=DEFAULT_MAX_MEMORY) -> float:
    """``||J - J^T||_F / ||J||_F`` from Gaussian probes: E||(J - J^T) z||^2 / E||J z||^2, one JVP + one VJP each.

    See Also
    --------
    asymmetry : The exact value from a dense J.

    Examples
    --------
    >>> import torch
    >>> shift = lambda v: torch.roll(v, 1, dims=-1)  # ||J - J^T|| / ||J|| = sqrt(2) for a cyclic shift
    >>> round(probe_asymmetry(shift, torch.zeros(1, 4, 4), 64), 1)
    1.4
    """
    y = _check_image(y)
    if not isinstance(n_probes, (int, np.integer)) or n_probes < 1:
        raise ValueError(f"n_probes must be a positive integer; got {n_probes!r}.")
    Z = _probes(y.numel(), int(n_probes), y.dtype, y.device, random_state, kind="gaussian")
    Z = Z.reshape((-1,) + tuple(y.shape))
    kw = dict(chunk_size=chunk_size, max_memory=max_memory)
    Jz = jvp(f, y, Z, **kw).reshape(n_probes, -1).double()
    JTz = vjp(f, y, Z, **kw).reshape(n_probes, -1).double()
    return float(torch.sqrt(((Jz - JTz) ** 2).sum() / (Jz**2).sum().clamp_min(1e-300)))
