"""The machinery of a training-set-size sweep: groups of fits, the worker task, the fit cache, the runner.

A sweep is a list of fits ``(N, role)``. Fits are packed into groups (one model each, or several trained as
one network by :func:`gahb.fit_vectorized`); each group is one joblib task, so any joblib backend runs the
sweep. A worker stores every finished fit in the cache folder at once (written atomically), so a killed
sweep loses only the fits in flight.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from gahb._files import replacing
from gahb.experiments._engines import pinned_threads, worker_device
from gahb.metrics import psnr_curve

__all__ = ["FitSpec", "plan_groups", "run_group", "SweepCache", "SweepCacheError", "run_tasks"]

_SWEEP_FORMAT = "gahb.sweep/1"
_FIT_FORMAT = "gahb.sweep-fit/1"
_ARRAYS = ("samples", "psnr_train", "psnr_test", "n_steps", "converged", "diverged")
_SCALARS = ("fit_seconds", "sample_seconds", "psnr_seconds", "cpu_seconds")


@dataclass
class FitSpec:
    """One fit of the sweep: model ``role`` at training-set size ``n``."""

    n: int
    role: str
    X_fit: np.ndarray
    X_test: np.ndarray
    fit_seed: int | None

    @property
    def key(self):
        return (self.n, self.role)

    @property
    def name(self) -> str:
        return f"N{self.n}_{self.role}"


def plan_groups(specs, per_group: int):
    """Consecutive groups of at most ``per_group`` fits, in the order given (all A models, then all B)."""
    return [specs[i : i + per_group] for i in range(0, len(specs), per_group)]


# ----------------------------------------------------------------------------- the worker task


def _sample(est, n_samples, seed):
    params = inspect.signature(est.sample).parameters
    if "return_info" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):  # a user's own
        return np.asarray(est.sample(n_samples, random_state=seed), dtype=np.float32), {}
    out = est.sample(n_samples, random_state=seed, return_info=True)  # a TypeError inside is a real error
    if isinstance(out, tuple):
        X, info = out
        return np.asarray(X, dtype=np.float32), dict(info or {})
    return np.asarray(out, dtype=np.float32), {}


def _sample_and_score(est, spec, n_samples, sample_seed, sigmas, n_psnr, psnr_seed):
    t0 = time.perf_counter()
    samples, info = _sample(est, n_samples, sample_seed)
    t1 = time.perf_counter()
    out = {"samples": samples, "sample_seconds": t1 - t0}
    for key in ("n_steps", "converged", "diverged"):
        if key in info:
            out[key] = np.asarray(info[key])
    if sigmas is not None and len(sigmas) and hasattr(est, "transform"):
        for name, X in (("psnr_train", spec.X_fit), ("psnr_test", spec.X_test)):
            out[name] = psnr_curve(est, X, sigmas=sigmas, n_images=n_psnr, random_state=psnr_seed).output_psnr
    out["psnr_seconds"] = time.perf_counter() - t1
    return out


def run_group(estimator, specs, group_index, *, vectorize, n_samples, sample_seed, sigmas, n_psnr, psnr_seed, keep,
              threads=None, cache=None):
    """Fit, sample and score the fits of one group (runs in a worker); store each in ``cache`` when done.

    Returns ``[(key, outputs), ...]``.
    """
    with pinned_threads(threads):
        ests = []
        for spec in specs:
            est = clone(estimator)
            if spec.fit_seed is not None:
                est.set_params(random_state=spec.fit_seed)
            if "device" in est.get_params():
                device = est.get_params()["device"]
                est.set_params(device=worker_device(None if device is None else str(device), group_index))
            ests.append(est)
        joint = vectorize and len(ests) > 1
        fit_times = []
        if joint:
            from gahb._vectorized import fit_vectorized

            t0, c0 = time.perf_counter(), time.process_time()
            fit_vectorized(ests, [s.X_fit for s in specs])
            share = ((time.perf_counter() - t0) / len(ests), (time.process_time() - c0) / len(ests))
            fit_times = [share] * len(ests)
        results = []
        for i, (est, spec) in enumerate(zip(ests, specs)):
            c0 = time.process_time()
            if not joint:
                t0 = time.perf_counter()
                est.fit(spec.X_fit)
                fit_times.append((time.perf_counter() - t0, 0.0))
                if getattr(est, "n_iter_", None) is not None and est.n_iter_ < getattr(est, "max_iter", 0):
                    # Ctrl-C in the main thread ends DiffusionDenoiser.fit early with a usable model; in a
                    # sweep it means stop: a partly trained fit is never stored or scored as finished
                    raise KeyboardInterrupt
            out = _sample_and_score(est, spec, n_samples, sample_seed, sigmas, n_psnr, psnr_seed)
            # CPU seconds of this fit in its worker process: what the sweep costs on idle cores
            out["fit_seconds"] = fit_times[i][0]
            out["cpu_seconds"] = fit_times[i][1] + time.process_time() - c0
            out["device"] = str(getattr(est, "device_", "cpu"))
            out["visible_gpus"] = os.environ.get("CUDA_VISIBLE_DEVICES")
            out["trained_with"] = [s.name for s in specs] if joint else [spec.name]
            out["from_cache"] = False
            if cache is not None:
                cache.store(spec, out, est)
            if keep:
                out["estimator"] = est
            results.append((spec.key, out))
    return results


def run_tasks(tasks, n_jobs, on_result) -> None:
    """Run joblib ``tasks``, calling ``on_result`` as each finishes (or all at the end on backends, such as
    Ray's, that return lists only)."""
    from joblib import Parallel

    try:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    except ValueError as exc:
        if "return_as" not in str(exc):
            raise
        parallel = Parallel(n_jobs=n_jobs)
    for result in parallel(tasks):
        on_result(result)


# ----------------------------------------------------------------------------- the cache folder


class SweepCacheError(ValueError):
    """The cache folder holds another sweep's fits or files gahb did not write: nothing is trained, nothing deleted.

    (A damaged fit file of this sweep, cut short or altered, is not an error: that fit is trained again.)"""


def _plain(value):
    """A JSON-ready form of a setting: numbers, strings, lists; anything else by its repr."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def data_digest(X) -> str:
    """SHA-256 of an array's shape, dtype and bytes."""
    X = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{X.shape}{X.dtype.str}".encode())
    h.update(X.tobytes())
    return h.hexdigest()


def _atomic_write(path: str, write) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX)."""
    with replacing(path) as tmp:
        write(tmp)


class SweepCache:
    """A folder of finished fits: ``sweep.json`` (the settings) and, per fit, ``N{n}_{role}.safetensors``
    (samples, PSNR curves, sampler info; metadata as JSON in its header) and ``N{n}_{role}.model.safetensors``
    (the model, when the estimator has ``save``).

    ``settings`` are everything that changes a fit's numbers except its training images and the float
    rounding (device, threads, vectorization, engine): a folder written with other settings is refused.
    """

    def __init__(self, folder, settings: dict):
        self.folder = os.fspath(folder)
        self.settings = _plain(settings)
        self.digest = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def _refuse(self, what: str):
        raise SweepCacheError(f"cache folder {self.folder!r} holds {what}; finished fits are never mixed with another "
                         "sweep's. Use another folder (nothing in it was changed or deleted).")

    def open(self, specs) -> dict:
        """Check the folder against this sweep and load its finished fits: ``{key: outputs}``.

        Raises ValueError, before any training, if the folder holds another sweep's fits.
        """
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise SweepCacheError(f"cache folder {self.folder!r} is a file, not a folder.")
        os.makedirs(self.folder, exist_ok=True)
        sweep = self._path("sweep.json")
        if os.path.exists(sweep):
            try:
                with open(sweep, encoding="utf-8") as f:
                    stored = json.load(f)
            except (OSError, ValueError) as exc:
                raise SweepCacheError(f"cache folder {self.folder!r} has an unreadable sweep.json: {exc}") from exc
            if not isinstance(stored, dict) or stored.get("format") != _SWEEP_FORMAT:
                self._refuse("a sweep.json that gahb's sweeps did not write")
            if stored.get("settings") != self.settings:
                self._refuse(f"fits of another sweep (different {_differences(stored.get('settings'), self.settings)})")
        else:
            _atomic_write(sweep, lambda tmp: _write_json(tmp, {"format": _SWEEP_FORMAT, "settings": self.settings}))
        finished = {}
        for spec in specs:
            found = self._read(spec)
            if found is None:
                continue
            meta = found[0]
            if meta.get("settings_sha256") != self.digest:
                self._refuse(f"{spec.name} from a sweep with other settings")
            if meta.get("train_sha256") != data_digest(spec.X_fit) or meta.get("test_sha256") != data_digest(spec.X_test):
                self._refuse(f"{spec.name} trained or tested on other images (another data set, pool or split)")
            finished[spec.key] = found
        return finished

    def _read(self, spec):
        """``(metadata, arrays)`` of a stored fit, read and checked once; None when absent or damaged."""
        path = self._path(spec.name + ".safetensors")
        if not os.path.exists(path):
            return None
        from safetensors import safe_open

        try:
            with safe_open(path, framework="numpy") as f:
                meta = (f.metadata() or {}).get("gahb")
                arrays = {key: f.get_tensor(key) for key in f.keys()}  # a file cut short is damaged too
            meta = None if meta is None else json.loads(meta)
            if isinstance(meta, dict) and meta.get("format") == _FIT_FORMAT and \
                    meta.get("arrays_sha256") != _arrays_digest(arrays):
                raise ValueError("its arrays do not match the checksum written with them")
        except Exception as exc:  # safetensors raises its own error types for damaged files
            # never trusted, never fatal: the fit is trained again and its file replaced when it is stored
            warnings.warn(f"cache file {path!r} is damaged ({type(exc).__name__}: {exc}); that fit is trained again.",
                          stacklevel=5)
            return None
        if not isinstance(meta, dict) or meta.get("format") != _FIT_FORMAT:
            self._refuse(f"a file {spec.name}.safetensors that gahb's sweeps did not write")
        return meta, arrays

    def load(self, spec, found, estimator=None) -> dict:
        """The stored outputs of ``spec`` from ``found`` (its entry of :meth:`open`), with the model as
        ``estimator`` when ``estimator`` is given."""
        meta, out = found[0], dict(found[1])
        for key in ("converged", "diverged"):
            if key in out:
                out[key] = out[key].astype(bool)
        out.update(meta["outputs"])
        out["from_cache"] = True
        if estimator is not None:
            out["estimator"] = type(estimator).load(self._path(spec.name + ".model.safetensors"))
        return out

    def store(self, spec, out: dict, est) -> None:
        """Write one finished fit: the model first, then its outputs (whose file marks the fit finished)."""
        from safetensors.numpy import save_file

        if hasattr(est, "save"):
            _atomic_write(self._path(spec.name + ".model.safetensors"), est.save)
        arrays = {k: np.ascontiguousarray(out[k]) for k in _ARRAYS if k in out}
        for key in ("converged", "diverged"):
            if key in arrays:
                arrays[key] = arrays[key].astype(np.uint8)
        meta = {"format": _FIT_FORMAT, "settings_sha256": self.digest, "n": spec.n, "role": spec.role,
                "arrays_sha256": _arrays_digest(arrays),
                "train_sha256": data_digest(spec.X_fit), "test_sha256": data_digest(spec.X_test),
                "outputs": {k: _plain(out[k]) for k in (*_SCALARS, "device", "visible_gpus", "trained_with")
                            if k in out}}
        _atomic_write(self._path(spec.name + ".safetensors"),
                      lambda tmp: save_file(arrays, tmp, metadata={"gahb": json.dumps(meta)}))


def _arrays_digest(arrays: dict) -> str:
    """SHA-256 of a fit's stored arrays (names, dtypes, shapes, bytes): a flipped byte is found, not trusted."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _write_json(path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def _differences(old, new, limit: int = 4) -> str:
    """``"max_iter: 3000 there, 2000 here; ..."`` for the settings that differ."""
    def flat(d, prefix=""):
        items = {}
        for k, v in (d or {}).items():
            if isinstance(v, dict):
                items.update(flat(v, f"{prefix}{k}."))
            else:
                items[prefix + k] = v
        return items

    a, b = flat(old if isinstance(old, dict) else {}), flat(new)
    diff = [f"{k}: {a.get(k, '(unset)')!r} there, {b.get(k, '(unset)')!r} here" for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]
    return "; ".join(diff[:limit]) + (f"; and {len(diff) - limit} more" if len(diff) > limit else "")
