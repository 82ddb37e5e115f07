"""Sampling by optimizer step: datasets indexed by a global sample number, so that a resumed run sees
exactly the samples an uninterrupted one sees."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from torch.utils.data import Sampler


class StepSampler(Sampler[int]):
    """Global sample indices of one rank from the current optimizer step to ``max_steps``.

    Micro-batch ``m`` of step ``s`` on rank ``r`` holds ``((s * accumulate + m) * world + r) * batch + i``.
    ``start_step`` is read each time iteration starts (a callable returning the trainer's step), so a
    new pass after a resume continues where training is instead of replaying.
    """

    def __init__(self, start_step: Callable[[], int], max_steps: int, batch_size: int, accumulate: int,
                 rank: int, world: int) -> None:
        self.start, self.stop = start_step, max_steps
        self.batch, self.accumulate, self.rank, self.world = batch_size, accumulate, rank, world

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start(), self.stop):
            for micro in range(self.accumulate):
                base = ((step * self.accumulate + micro) * self.world + self.rank) * self.batch
                yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return max(0, self.stop - self.start()) * self.accumulate * self.batch
