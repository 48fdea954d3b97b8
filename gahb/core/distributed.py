"""Data-parallel training inside an initialized ``torch.distributed`` process group (as ``torchrun`` sets up).

Random streams: process ``rank`` draws batch indices and noise from its own pair of generators. Rank 0 uses
the single-process streams (seeds ``seed + 1`` on the CPU and ``seed + 2`` on the device), so a one-process
group trains exactly like a plain fit; rank ``r > 0`` uses seeds derived from ``(seed, r)`` by
``numpy.random.SeedSequence``. Each process draws ``batch_size // world_size`` images (the first
``batch_size % world_size`` ranks one more), DDP averages the gradients, and BatchNorm statistics are those
of each process's share (as with the paper's ``DataParallel``); running statistics are rank 0's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["World", "rank_seeds"]


def rank_seeds(seed: int, rank: int, step: int = 0) -> tuple[int, int]:
    """Seeds of the (batch, noise) generators of process ``rank`` starting at ``step`` (0 for a fresh run;
    a resumed run under a different number of processes starts new streams at its step)."""
    if rank == 0 and step == 0:
        return seed + 1, seed + 2
    key = (int(rank),) if step == 0 else (int(rank), int(step))
    state = np.random.SeedSequence(entropy=int(seed), spawn_key=key).generate_state(4, dtype=np.uint32)
    return int(state[:2].view(np.uint64)[0] >> 1), int(state[2:].view(np.uint64)[0] >> 1)


class World:
    """The process group as the training loop sees it: one process unless ``torch.distributed`` is initialized."""

    def __init__(self):
        self.active = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.active else 0
        self.size = dist.get_world_size() if self.active else 1

    def share(self, batch_size: int) -> int:
        """This process's part of the global batch."""
        return batch_size // self.size + (1 if self.rank < batch_size % self.size else 0)

    def wrap(self, net: nn.Module, device: torch.device) -> nn.Module:
        """``net`` in DDP under a process group (the identity otherwise)."""
        if not self.active:
            return net
        ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)

    def reduce_window(self, window_sum: torch.Tensor, stop: bool) -> tuple[float, bool]:
        """Mean over processes of the summed window loss, and whether any process asked to stop (one host read)."""
        if not self.active:
            return float(window_sum.item()), stop
        t = torch.stack([window_sum.float(), torch.tensor(float(stop), device=window_sum.device)])
        dist.all_reduce(t)
        total, n_stop = t.tolist()
        return total / self.size, n_stop > 0

    def sync_buffers(self, net: nn.Module) -> None:
        """Give every process rank 0's buffers (BatchNorm running statistics)."""
        if self.active:
            for b in net.buffers():
                dist.broadcast(b, src=0)

    def gather_bytes(self, t: torch.Tensor) -> list[torch.Tensor]:
        """``t`` (a CPU byte tensor, e.g. a generator state) from every process, in rank order."""
        if not self.active:
            return [t]
        out = [None] * self.size
        dist.all_gather_object(out, t)
        return out

    def barrier(self) -> None:
        if self.active:
            dist.barrier()
