"""Training images as batches on the device: the whole set on the device when it fits, else streamed.

Streaming gathers each batch on the host from the caller's array (a numpy array or ``np.memmap``, never
copied whole), stages it in pinned memory and copies it to the device asynchronously.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["Batches", "host_images", "fits_on_device"]

# share of the free device memory the training set may take; the rest is for activations and the optimizer
DEVICE_SHARE = 0.5


def host_images(X: np.ndarray, image_shape) -> torch.Tensor:
    """``(n, C*H*W)`` array -> ``(n, C, H, W)`` CPU tensor sharing X's memory (no copy; X is never written)."""
    with warnings.catch_warnings():  # read-only or memory-mapped X: the tensor is only ever read
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(np.ascontiguousarray(X))
    return t.reshape((t.shape[0],) + tuple(image_shape))


def fits_on_device(n_bytes: int, device: torch.device) -> bool:
    """Whether ``n_bytes`` of training data may live on ``device`` (always on the CPU)."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return n_bytes <= DEVICE_SHARE * free


class Batches:
    """Rows ``rows`` (all when None) of ``images`` as float32 batches on ``device``.

    On a GPU, ``on_device=True`` copies those rows to the device once (chunk by chunk, so a float64 or
    memory-mapped source is never converted whole on the host) and ``False`` streams each batch; ``None``
    (the default) copies them when they fit (:func:`fits_on_device`). On the CPU batches are always gathered
    from the source itself: nothing is copied.
    """

    def __init__(self, images: torch.Tensor, device, rows: torch.Tensor | None = None, *,
                 on_device: bool | None = None, chunk: int = 4096):
        self.device = torch.device(device)
        self.rows = rows
        self.n = images.shape[0] if rows is None else rows.numel()
        if on_device is None:
            on_device = fits_on_device(self.n * images[0].numel() * 4, self.device)
        self.host, self.data = images, None
        self._staging, self._events, self._turn = [], [], 0
        if self.device.type == "cpu":
            if rows is None and images.dtype == torch.float32:
                self.data = images  # the caller's memory itself
        elif on_device:
            self.data = torch.empty((self.n, *images.shape[1:]), dtype=torch.float32, device=self.device)
            for a in range(0, self.n, chunk):
                sel = images[a : a + chunk] if rows is None else images[rows[a : a + chunk]]
                self.data[a : a + chunk] = sel.to(self.device, torch.float32)

    def get(self, idx: torch.Tensor) -> torch.Tensor:
        """Batch of the images at positions ``idx`` (a CPU index tensor), float32 on the device."""
        if self.data is not None:
            return self.data[idx.to(self.data.device)]
        src = idx if self.rows is None else self.rows[idx]
        if self.device.type == "cpu":
            return self.host[src].to(torch.float32)
        return self._stream(src)

    def _stream(self, src: torch.Tensor) -> torch.Tensor:
        shape = (src.numel(), *self.host.shape[1:])
        cuda = self.device.type == "cuda"
        # two pinned buffers in turn: the host fills one while the device still copies from the other
        k = self._turn = (self._turn + 1) % 2
        if len(self._staging) < 2 or self._staging[k].shape != shape:
            self._staging = [torch.empty(shape, dtype=torch.float32, pin_memory=cuda) for _ in range(2)]
            self._events = [None, None]
        if self._events[k] is not None:
            self._events[k].synchronize()  # the copy issued two batches ago: long finished
        if self.host.dtype == torch.float32:
            torch.index_select(self.host, 0, src, out=self._staging[k])  # gathered straight into pinned memory
        else:
            self._staging[k].copy_(self.host[src])
        if not cuda:
            return self._staging[k]
        out = self._staging[k].to(self.device, non_blocking=True)
        self._events[k] = torch.cuda.Event()
        self._events[k].record()
        return out
