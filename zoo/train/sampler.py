"""A resumable, distributed batch order: the same global sequence of samples whatever the number of
processes, and restartable at any step of an epoch."""
from __future__ import annotations

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Epoch ``e`` visits ``randperm(n, seed + e)`` in global batches of ``global_batch`` samples
    (a partial last batch is dropped); process ``rank`` of ``world`` takes positions
    ``rank, rank + world, ...`` of each global batch, so a torchrun job sees exactly the batches of a
    single-process run. ``start_batch`` skips batches already trained on (resume mid-epoch)."""

    def __init__(self, n: int, global_batch: int, seed: int, rank: int = 0, world: int = 1):
        if global_batch % world:
            raise ValueError(f"batch size {global_batch} must be divisible by the {world} processes")
        if n < global_batch:
            raise ValueError(f"the training set has {n} usable samples, fewer than one batch of {global_batch}")
        self.n, self.global_batch, self.seed, self.rank, self.world = n, global_batch, seed, rank, world
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.global_batch

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * (self.global_batch // self.world)

    def __iter__(self):
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        used = order[self.start_batch * self.global_batch: self.batches_per_epoch * self.global_batch]
        return iter(used.view(-1, self.global_batch)[:, self.rank::self.world].flatten().tolist())
