"""What weight-sharing searchers share: a trainer hook that runs one sampled path of a supernet
per weight step, the accuracy of one path with the shared weights, and the held-out batches of
architecture steps.

Example:
    >>> import random, torch
    >>> from archai.space.spaces import make_space
    >>> from archai.space.supernet import Supernet
    >>> space = make_space("nb201", shape={"in_channels": 1, "image_size": 8, "init_channels": 4}, cells_per_stage=1)
    >>> net = Supernet(space.supernet_desc())
    >>> sampler = PathSampler(net, lambda rng: space.path(net.desc, space.sample(rng)), seed=0, phase="demo")
    >>> sampler.before_epoch(None, 0); sampler.before_step(None, 0, None)
    >>> len(net.path["normal"])  # one tuple of candidates per mixed edge of the cell
    6
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from archai.common.seeding import derive_seed
from archai.search.trainer import Trainer, TrainerHook, split_logits
from archai.space.ops import frozen_bn_stats
from archai.space.supernet import Supernet, SupernetPath


class HeldOutBatches:
    """Batches of a held-out loader for architecture steps, one at a time: :meth:`start_epoch`
    reseeds the loader's order from ``seed``, ``label`` and the epoch (a resumed epoch sees the
    same batches) and :meth:`next` starts the loader again when it runs out."""

    def __init__(self, loader: Iterable, seed: int, label: str) -> None:
        self.loader, self.seed, self.label = loader, seed, label
        self._iter = None

    def start_epoch(self, epoch: int) -> None:
        gen = getattr(self.loader, "generator", None)
        if isinstance(gen, torch.Generator):
            gen.manual_seed(derive_seed(self.seed, f"{self.label}/epoch {epoch}"))
        self._iter = iter(self.loader)

    def next(self):
        if self._iter is None:
            self._iter = iter(self.loader)
        try:
            return next(self._iter)
        except StopIteration:
            self._iter = iter(self.loader)
            return next(self._iter)


class PathSampler(TrainerHook):
    """Before every weight step, ``net`` runs the path ``draw(rng)`` returns: the candidates off
    the path are neither computed nor updated. ``rng`` is reseeded at every epoch from ``seed``
    and ``phase``, so a resumed epoch draws the same paths."""

    def __init__(
        self, net: Supernet, draw: Callable[[random.Random], SupernetPath], seed: int, phase: str
    ) -> None:
        self.net, self.draw, self.seed, self.phase = net, draw, seed, phase
        self.rng = random.Random()

    def before_epoch(self, trainer: Trainer | None, epoch: int) -> None:
        self.rng.seed(derive_seed(self.seed, f"{self.phase} paths/epoch {epoch}"))

    def before_step(self, trainer: Trainer | None, step: int, batch) -> None:
        self.net.context.gates = None
        self.net.path = self.draw(self.rng)


@torch.no_grad()
def path_accuracy(net: Supernet, path: SupernetPath, batches: Iterable, trainer: Trainer) -> dict[str, float]:
    """Loss and top-1 of ``net`` on one ``path`` over ``batches``, with the shared weights; BatchNorm normalizes by each batch's statistics and leaves its running ones
    as they were (a supernet's running statistics mix every path's)."""
    net.context.gates, net.path = None, path
    loss, correct, n = 0.0, 0, 0
    was_training = net.training
    net.train()
    try:
        with frozen_bn_stats(net):
            for x, y in batches:
                x, y = trainer.to_device(x), y.to(trainer.device)
                logits, _ = split_logits(net(x))
                loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
                correct += int((logits.argmax(1) == y).sum())
                n += len(y)
    finally:
        net.train(was_training)
    return {"loss": loss / max(n, 1), "top1": correct / max(n, 1)}


@contextlib.contextmanager
def frozen_params(params: list[torch.Tensor]) -> Iterator[None]:
    """``params`` do not require gradients inside the block (autograd then keeps nothing for them)."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
