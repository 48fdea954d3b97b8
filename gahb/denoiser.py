"""`DiffusionDenoiser`: a blind bias-free denoiser as a scikit-learn transformer (and a prior to sample from)."""

from __future__ import annotations

import copy
import numbers
import os

import numpy as np
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from gahb._model_file import restore_estimator, write_model_file
from gahb._networks import build_module, check_architecture, check_output_shape, warn_if_not_bias_free
from gahb._sampling import SAMPLER_PARAMETER_CONSTRAINTS, SamplingMixin
from gahb._utils import fitted_rows, psnr, to_images, to_rows
from gahb.core.nn import Denoiser, init_weights_
from gahb.core.random import torch_generator

__all__ = ["DiffusionDenoiser"]

_FORMAT = "gahb.DiffusionDenoiser/1"


class DiffusionDenoiser(SamplingMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Blind, bias-free denoiser trained for all noise levels at once: the prior of a diffusion model.

    ``fit`` trains a bias-free UNet or BF-CNN (no additive constant anywhere, so f(a·y) = a·f(y)) to predict
    the noise of ``x + σz`` with σ drawn per image, as in Kadkhodaie et al. (ICLR 2024). ``transform``
    denoises images blindly (no σ needed), ``score`` reports denoising PSNR, and ``sample`` draws images
    from the prior implicit in the denoiser (the paper's stochastic coarse-to-fine sampler).

    Parameters
    ----------
    architecture : {"unet", "bfcnn"}, torch.nn.Module or torch.nn.Module subclass, default="unet"
        The network r(y) that predicts the noise: the paper's bias-free UNet, BF-CNN (a bias-free DnCNN),
        or your own module mapping ``(B, C, H, W)`` float32 tensors to the same shape (as skorch's
        ``module=``). An instance is deep-copied (never modified; its current weights are the starting
        point); a class is instantiated without arguments, under a torch RNG seeded by ``random_state`` (the
        global RNG is untouched), so its own initialisation is reproducible. ``fit`` checks once that the
        module keeps the shape (``ValueError`` otherwise) and that it is bias-free by homogeneity,
        ``r(a y) = a r(y)`` on a random input for a few scales ``a``, before and after training: a
        :class:`~gahb.exceptions.NotBiasFreeWarning` says when it is not. ``width``, ``n_blocks`` and
        ``n_layers`` apply to the built-in architectures only. A model with a custom module pickles as
        usual; :meth:`save` writes its weights and :meth:`load` needs the same module passed again.
    width : int, default=64
        Channels of the first level (UNet; doubled per level) or of every layer (BF-CNN).
    n_blocks : int, default=3
        UNet encoder/decoder blocks (1 / 2 / 3 / 4 in the paper for 20² / 40² / 80² / 160² images).
    n_layers : int, default=21
        BF-CNN convolution layers.
    image_shape : None or tuple of int, default=None
        ``(H, W)`` or ``(C, H, W)`` of each row of X. ``None`` takes the shape from image-shaped input
        (``X`` of shape ``(n, H, W)`` or ``(n, C, H, W)``) and otherwise treats each row as a one-channel
        ``1 × n_features`` strip (any array works, e.g. for scikit-learn's own estimator checks). When both
        are given they must agree.
    max_iter : int, default=2000
        Number of optimizer steps. It does not depend on the number of training images: the paper tiles
        small sets to a fixed epoch size, so N = 1 and N = 10^5 see the same number of gradient steps.
    batch_size : int, default=64
        Images per step, drawn uniformly with replacement from the training set (fresh noise each time).
    learning_rate : float, default=1e-3
        Adam learning rate.
    lr_schedule : {"halving", "cosine", "constant"}, default="halving"
        ``halving`` halves the rate at 10 %, 20 %, …, 90 % of ``max_iter`` (the paper's schedule).
    sigma_max : float, default=1.0
        Largest training noise standard deviation (images are nominally in [0, 1]).
    noise_distribution : {"quadratic", "uniform"}, default="quadratic"
        ``quadratic``: σ = σ_max·u² with u ~ U(0, 1) (the paper's code; over-samples small noise).
        ``uniform``: σ = σ_max·u.
    rescale : {None, "uniform"}, default=None
        ``"uniform"`` multiplies each clean training image by its own a ~ U(0, 1) before the noise is added
        (the paper's positive intensity rescaling, App. C.2, Fig. 19): one image then trains the denoiser on
        the whole ray {a·x}. ``None`` trains on the images as given.
    score_sigma : float, default=0.1
        Noise level at which :meth:`score` measures denoising PSNR.
    h0, beta, sigma_0, sigma_final, max_sample_steps, sample_init
        Sampler settings used by :meth:`sample` and :meth:`reconstruct` (paper defaults h0=0.01, β=0.1,
        σ0=1, σ_L=0.05, with σ_L < σ0); see :meth:`sample` and the sampling guide.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU. Resolved into ``device_``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch selection and training noise (and the noise of :meth:`score`).
        The same integer gives the same weights on the same device. Global RNGs are never touched.
        Streams of seed s: weights from ``s``, batch indices from ``s + 1`` (CPU), noise from ``s + 2`` (the
        device), the held-out split from ``numpy.random.default_rng(s + 3)``, held-out noise from ``s + 4``;
        under ``torch.distributed`` see the scale guide.
    verbose : int, default=0
        ``> 0`` shows progress bars: training steps with the running loss and images/s in :meth:`fit`,
        finished samples in :meth:`sample` and :meth:`reconstruct`.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Training arithmetic: autocast in bfloat16, or in float16 with gradient scaling. Weights, Adam and
        evaluation stay float32 (the trained network stays exactly homogeneous).
    log_every : int, default=50
        Steps per logged window: the loss is summed on the device and read back once per window (no sync
        per step); non-finite losses are detected and the held-out loss computed then.
    validation_fraction : float in (0, 1) or None, default=None
        Share of X held out (drawn with the seed) for ``validation_scores_``; or pass ``fit(X, X_val=...)``.
    channels_last, compile : bool, default=False
        Channels-last memory layout; training through ``torch.compile`` (a string names its backend).
    checkpoint_dir : str, path-like or None, default=None
        Folder for checkpoints (safetensors + JSON, written atomically, the newest two kept): at the end, on
        Ctrl-C and every ``checkpoint_every`` steps (an int, or None for none in between).
    checkpoint_every : int or None, default=None
        Steps between checkpoints (used only with ``checkpoint_dir``).
    warm_start : bool, default=False
        Continue an earlier ``fit`` or a checkpoint opened with :meth:`load` to ``max_iter`` steps in total,
        with the schedule of the whole run (bitwise the uninterrupted run, same device, fp32).

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained residual network r(y) (predicts the noise), in eval mode.
    denoiser_ : torch.nn.Module
        ``y ↦ y − r(y)``, a blind denoiser on ``(B, C, H, W)`` tensors: pass it to samplers and Jacobian tools.
    image_shape_ : tuple of int
        Resolved ``(C, H, W)``.
    device_ : torch.device
        Where the network lives and runs.
    train_mean_ : ndarray of shape (n_features,)
        Mean training image (the sampler's default initial mean).
    loss_curve_ : list of float
        Mean training loss of each logged window of ``log_every`` steps (the last may be shorter).
    validation_scores_ : list of float or None
        Held-out loss (eval mode, fixed noise) at the end of each window: lower is better, and its gap to
        ``loss_curve_`` is the memorization signal. None without a held-out set.
    n_iter_ : int
        Optimizer steps taken (less than ``max_iter`` if training was interrupted with Ctrl-C).
    n_features_in_ : int
        Number of pixels per image (``C·H·W``), whether X came as rows or as images.
    sample_info_ : dict
        Per-sample diagnostics of the last :meth:`sample` call (see its ``info``).
    reconstruct_info_ : dict
        The same for the last :meth:`reconstruct` call.

    See Also
    --------
    JacobianEigenbasis : The adaptive basis of a fitted denoiser (eigenvectors of its Jacobian).
    GAHBShrinkage : Denoising by shrinkage in the adaptive basis or a fixed one.
    MemorizingDenoiser : The perfect memorizer, the reference of the memorization metrics.
    gahb.metrics.score_generalization : Do two models trained on disjoint sets sample the same images?

    Notes
    -----
    Inputs are 2-D rows ``(n_samples, n_features)`` or images ``(n, H, W)`` / ``(n, C, H, W)``; outputs are
    always 2-D rows, as scikit-learn expects (reshape them with ``image_shape_``).

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import DiffusionDenoiser
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(32, 64))
    >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0)
    >>> den.fit(X).transform(X[:2]).shape
    (2, 64)
    >>> DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, random_state=0).fit(X.reshape(32, 8, 8)).image_shape_
    (1, 8, 8)

    Your own bias-free network (class or instance):

    >>> import torch
    >>> class TwoConv(torch.nn.Sequential):
    ...     def __init__(self):
    ...         super().__init__(torch.nn.Conv2d(1, 8, 3, padding=1, bias=False), torch.nn.ReLU(),
    ...                          torch.nn.Conv2d(8, 1, 3, padding=1, bias=False))
    >>> DiffusionDenoiser(architecture=TwoConv, max_iter=5, random_state=0).fit(X.reshape(32, 8, 8)).n_iter_
    5
    """

    _parameter_constraints: dict = {
        "architecture": [StrOptions({"unet", "bfcnn"}), torch.nn.Module, type],
        "width": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_blocks": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 2, None, closed="left")],
        "image_shape": [None, tuple, list],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"halving", "cosine", "constant"})],
        "sigma_max": [Interval(numbers.Real, 0, None, closed="neither")],
        "noise_distribution": [StrOptions({"quadratic", "uniform"})],
        "rescale": [None, StrOptions({"uniform"})],
        "score_sigma": [Interval(numbers.Real, 0, None, closed="neither")],
        **SAMPLER_PARAMETER_CONSTRAINTS,
        "random_state": ["random_state"],
        "precision": [StrOptions({"fp32", "bf16", "fp16"})],
        "log_every": [Interval(numbers.Integral, 1, None, closed="left")],
        "validation_fraction": [None, Interval(numbers.Real, 0, 1, closed="neither")],
        "channels_last": ["boolean"],
        "compile": ["boolean", str],
        "checkpoint_dir": [None, str, os.PathLike],
        "checkpoint_every": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        architecture="unet",
        width=64,
        n_blocks=3,
        n_layers=21,
        image_shape=None,
        max_iter=2000,
        batch_size=64,
        learning_rate=1e-3,
        lr_schedule="halving",
        sigma_max=1.0,
        noise_distribution="quadratic",
        rescale=None,
        score_sigma=0.1,
        h0=0.01,
        beta=0.1,
        sigma_0=1.0,
        sigma_final=0.05,
        max_sample_steps=1000,
        sample_init="mean",
        device="auto",
        random_state=None,
        verbose=0,
        precision="fp32",
        log_every=50,
        validation_fraction=None,
        channels_last=False,
        compile=False,
        checkpoint_dir=None,
        checkpoint_every=None,
        warm_start=False,
    ):
        self.architecture = architecture
        self.width = width
        self.n_blocks = n_blocks
        self.n_layers = n_layers
        self.image_shape = image_shape
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.sigma_max = sigma_max
        self.noise_distribution = noise_distribution
        self.rescale = rescale
        self.score_sigma = score_sigma
        self.h0 = h0
        self.beta = beta
        self.sigma_0 = sigma_0
        self.sigma_final = sigma_final
        self.max_sample_steps = max_sample_steps
        self.sample_init = sample_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.precision = precision
        self.log_every = log_every
        self.validation_fraction = validation_fraction
        self.channels_last = channels_last
        self.compile = compile
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, X_val=None):
        """Train the denoiser on clean images ``X``, values in [0, 1].

        Ctrl-C stops training after the current step, writes a checkpoint (with ``checkpoint_dir``) and
        keeps a usable model (``n_iter_`` tells how far it got). Inside an initialized ``torch.distributed``
        process group (as ``torchrun`` sets up) every process calls ``fit`` and training is data-parallel.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Clean training images, one per row, or as images (see ``image_shape``). Never modified; a
            float32 array or ``np.memmap`` is read in place (batches are gathered from it, never copied whole).
        y : None
            Ignored.
        X_val : array-like of shape (n_val, n_features) or image-shaped, default=None
            Held-out images for ``validation_scores_`` (instead of ``validation_fraction``).

        Returns
        -------
        self : DiffusionDenoiser
            The fitted estimator.

        Warns
        -----
        NotBiasFreeWarning
            When a custom ``architecture`` is not homogeneous of degree 1.

        See Also
        --------
        sample : Draw images from the trained prior.
        save : Write the trained model to a file.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import DiffusionDenoiser
        >>> X = np.random.default_rng(0).uniform(size=(16, 8, 8))  # 16 images of 8 x 8
        >>> den = DiffusionDenoiser(width=8, n_blocks=1, max_iter=10, random_state=0).fit(X)
        >>> den.n_iter_, den.image_shape_, den.n_features_in_
        (10, (1, 8, 8), 64)
        """
        from gahb._training import fit_denoiser

        return fit_denoiser(self, X, X_val)

    def _build_network(self, seed: int | None = None) -> torch.nn.Module:
        return build_module(self.architecture, self.image_shape_[0], self.width, self.n_blocks, self.n_layers, seed)

    def _init_network(self, seed: int):
        """Builds ``network_``; returns the probe input of a custom module still to check after training, or None."""
        net = self._build_network(seed)
        probe = None
        if isinstance(self.architecture, str):
            init_weights_(net, torch_generator(seed))  # every weight from our own generator
            self.network_ = net.to(self.device_)
        else:
            self.network_ = net.to(self.device_)
            probe = torch.rand((2,) + self.image_shape_, generator=torch_generator(seed + 3)).to(self.device_)
            check_output_shape(self.network_, probe)
            if warn_if_not_bias_free(self.network_, probe, "before training"):
                probe = None  # warned once
        self.denoiser_ = Denoiser(self.network_).eval()
        return probe

    # ---------------------------------------------------------------- inference
    def _check_X(self, X):
        return fitted_rows(self, X)

    @torch.no_grad()
    def _denoise_rows(self, X: np.ndarray, chunk: int = 256) -> np.ndarray:
        out = np.empty(X.shape, dtype=X.dtype)
        for start in range(0, X.shape[0], chunk):
            y = to_images(X[start : start + chunk], self.image_shape_, self.device_)
            out[start : start + chunk] = to_rows(self.denoiser_(y), dtype=X.dtype)
        return out

    def transform(self, X):
        """Denoise noisy images blindly (the noise level is not an input).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Noisy images, one per row or as images of shape ``image_shape_``.

        Returns
        -------
        X_denoised : ndarray of shape (n_samples, n_features)
            Denoised images as rows, same dtype as ``X`` (float32 or float64).

        See Also
        --------
        score : Denoising PSNR at ``score_sigma``.
        gahb.metrics.psnr_curve : Denoising PSNR over a range of noise levels.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import DiffusionDenoiser
        >>> X = np.random.default_rng(0).uniform(size=(32, 8, 8))
        >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, random_state=0).fit(X)
        >>> den.transform(X[:3]).shape
        (3, 64)
        """
        X = self._check_X(X)
        return self._denoise_rows(X)

    def score(self, X, y=None):
        """Mean PSNR (dB) of denoising ``X + score_sigma·z``, against ``X``; higher is better.

        The noise is drawn from a generator seeded by ``random_state`` (0 when it is not an int), so repeated
        calls give the same score and models are compared on the same noise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Clean images.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Average over images of 10·log10(1 / per-image MSE).

        See Also
        --------
        transform : Denoise noisy images.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import DiffusionDenoiser
        >>> X = np.random.default_rng(0).uniform(size=(32, 64))
        >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
        >>> bool(den.score(X) > 0)
        True
        """
        X = self._check_X(X)
        seed = self.random_state if isinstance(self.random_state, numbers.Integral) else 0
        z = torch.randn(X.shape, generator=torch_generator(seed), dtype=torch.float64).numpy()
        noisy = (X + self.score_sigma * z).astype(X.dtype)
        return float(np.mean(psnr(self._denoise_rows(noisy), X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags

    # -------------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        # weights travel as CPU tensors, so a model trained on a GPU unpickles on a CPU-only machine
        if "network_" in state:
            state["network_"] = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
            state.pop("denoiser_", None)
            state["device_"] = str(self.device_)
        return state

    def __setstate__(self, state):
        weights = state.pop("network_", None)
        self.__dict__.update(state)
        if weights is not None:
            self.device_ = _available_device(state.get("device_", "cpu"))
            self._restore_network(weights)

    def _restore_network(self, weights: dict) -> None:
        net = self._build_network()
        net.load_state_dict(weights)
        self.network_ = net.to(self.device_).eval()
        self.denoiser_ = Denoiser(self.network_).eval()

    def save(self, path, *, overwrite: bool = False) -> None:
        """Save parameters and weights to a ``.safetensors`` file (no pickle: loading runs no code).

        A model with a custom ``architecture`` module is saved too (its weights, and the module's class name
        for the error message of :meth:`load`); the module's code is not stored, so :meth:`load` needs it.
        The file is written to a temporary name and renamed, so a failure leaves an existing file intact.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file. An existing gahb model file there is replaced.
        overwrite : bool, default=False
            Also replace an existing file that is not a gahb model file (refused otherwise; an empty file is
            replaced).

        Raises
        ------
        OSError
            For file-system problems, as its subclasses: ``FileNotFoundError`` (the folder does not exist),
            ``IsADirectoryError``, ``PermissionError``, ``FileExistsError`` (a file that is not a gahb
            model, without ``overwrite``); a failed write (disk full) is an ``OSError`` too.

        See Also
        --------
        load : Read the file back.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from gahb import DiffusionDenoiser
        >>> X = np.random.default_rng(0).uniform(size=(32, 64))
        >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=5, image_shape=(8, 8), random_state=0).fit(X)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
        >>> den.save(path)
        >>> bool(np.array_equal(DiffusionDenoiser.load(path, device="cpu").transform(X), den.transform(X)))
        True
        """
        check_is_fitted(self)
        tensors, meta = self._payload()
        write_model_file(path, tensors, meta, overwrite)

    def _payload(self) -> tuple[dict, dict]:
        """The tensors and JSON metadata of a model file (a checkpoint adds the training state)."""
        arch = self.architecture
        params = {k: _plain(v) for k, v in self.get_params().items() if k != "architecture"}
        params["architecture"] = arch if isinstance(arch, str) else None
        params["device"] = str(params["device"])
        if params.get("checkpoint_dir") is not None:
            params["checkpoint_dir"] = os.fspath(params["checkpoint_dir"])
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None  # a RandomState instance cannot be stored; its draws are spent anyway
        meta = {
            "format": _FORMAT,
            "params": params,
            "image_shape_": list(self.image_shape_),
            "n_iter_": self.n_iter_,
            "n_features_in_": self.n_features_in_,
        }
        if not isinstance(arch, str):
            cls = arch if isinstance(arch, type) else type(arch)
            meta["custom_architecture"] = f"{cls.__module__}.{cls.__qualname__}"
        tensors = {f"network.{k}": v.detach().cpu().contiguous() for k, v in self.network_.state_dict().items()}
        tensors["train_mean_"] = torch.as_tensor(self.train_mean_)
        tensors["loss_curve_"] = torch.as_tensor(np.asarray(self.loss_curve_, dtype=np.float64))
        if getattr(self, "validation_scores_", None) is not None:
            tensors["validation_scores_"] = torch.as_tensor(np.asarray(self.validation_scores_, dtype=np.float64))
        return tensors, meta

    @classmethod
    def load(cls, path, device="auto", *, architecture=None) -> DiffusionDenoiser:
        """Load a model written by :meth:`save`, or a training checkpoint.

        A checkpoint (``checkpoint_dir``) also restores the training state: ``fit`` with ``warm_start=True``
        continues that run to ``max_iter`` steps.

        Loading never unpickles: the file holds tensors and JSON. A model saved with a custom
        ``architecture`` therefore needs the same module (class or instance) passed again; its weights are
        loaded into a copy of it.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save`, a checkpoint file, or a checkpoint folder (its newest checkpoint).
        device : str or torch.device, default="auto"
            Where to put the network (a GPU-trained model loads on a CPU machine).
        architecture : torch.nn.Module or torch.nn.Module subclass, default=None
            Required for, and only for, a model saved with a custom ``architecture``.

        Returns
        -------
        denoiser : DiffusionDenoiser
            A fitted estimator.

        Raises
        ------
        ValueError
            If the file is missing, not a safetensors file, not written by gahb, damaged (every field is
            checked: the parameters against the estimator's constraints, the image shape and mean image
            against the weights, the weights finite; the message names the field), or if ``architecture``
            is missing for a custom module (or given for a built-in one, or does not fit the saved weights).

        See Also
        --------
        save : Write a model file.

        Examples
        --------
        A model file: see :meth:`save`. A checkpoint, resumed:

        >>> import numpy as np, tempfile
        >>> from gahb import DiffusionDenoiser
        >>> X, folder = np.random.default_rng(0).uniform(size=(16, 64)), tempfile.mkdtemp()
        >>> _ = DiffusionDenoiser(width=4, n_blocks=2, max_iter=6, image_shape=(8, 8), random_state=0,
        ...                       checkpoint_dir=folder, checkpoint_every=3).fit(X)
        >>> resumed = DiffusionDenoiser.load(folder + "/checkpoint-000000003.safetensors")
        >>> resumed.n_iter_, resumed.set_params(warm_start=True, checkpoint_dir=None).fit(X).n_iter_
        (3, 6)
        """
        if isinstance(architecture, str):
            raise TypeError("architecture= of load must be a torch.nn.Module or a torch.nn.Module subclass (a built-in "
                            "architecture is named in the file itself).")
        if architecture is not None:
            check_architecture(architecture)
        from gahb.core.checkpoint import read

        path, meta, tensors = read(path)
        fmt = meta.get("format") if isinstance(meta, dict) else None
        if fmt != _FORMAT:
            raise ValueError(f"{path!r} was not written by DiffusionDenoiser.save (format {fmt!r}).")
        return restore_estimator(cls, path, meta, tensors, device, architecture)

    def __deepcopy__(self, memo):
        # clone() deep-copies parameters only; a full deepcopy of a fitted model goes through pickling's path
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new


def _plain(value):
    """JSON-ready copy of a parameter value: numpy scalars become Python numbers, tuples become lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _available_device(name: str) -> torch.device:
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return dev
