"""DARTS' bilevel step: update the architecture weights on a validation batch before each
weight step (Liu et al., 2019, Algorithm 1), as a trainer hook.

First order: the gradient of the validation loss with respect to the alphas at the current
weights. Second order: at the weights after one virtual SGD step,
``w' = w - lr * (momentum * buffer + grad_train(w) + weight_decay * w)``, minus the implicit
term ``lr * (grad_alpha L_train(w+) - grad_alpha L_train(w-)) / (2 R)`` with
``w+- = w +- R * grad_w' L_val(w')`` and ``R = r / ||grad_w' L_val(w')||`` (finite-difference
Hessian-vector product). Either step leaves the network's weights and BatchNorm statistics as
they were: only the alphas change.

Each pass asks autograd only for what it uses: the first-order architecture pass and the
second order's finite-difference passes run with the weights frozen; the weight step and the
second order's virtual step with the alphas frozen. No pass keeps the activations that only
gradients it does not take need (less memory, the same updates).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from archai.algos.shared_weights import HeldOutBatches, frozen_params
from archai.search.trainer import Trainer, TrainerHook, split_logits
from archai.space.supernet import Supernet


class DartsArchStep(TrainerHook):
    """Steps ``net``'s alphas with Adam on batches of ``val_loader`` before every weight step.

    Args:
        order: 1 (first-order approximation) or 2 (unrolled, second order).
        lr, betas, weight_decay: Adam on the alphas (DARTS: 3e-4, (0.5, 0.999), 1e-3).
        unrolled_r: ``r`` of the finite-difference step (DARTS: 0.01).
        frozen_passes: freeze what a pass does not update (module docstring); False keeps every
            parameter trainable throughout, as a plain transcription does (the same updates,
            more memory: ``bench/darts_step.py --impl reference``).
    """

    def __init__(
        self,
        net: Supernet,
        val_loader: DataLoader,
        *,
        order: int = 1,
        lr: float = 3e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 1e-3,
        unrolled_r: float = 0.01,
        seed: int = 0,
        frozen_passes: bool = True,
    ) -> None:
        if order not in (1, 2):
            raise ValueError(f"algos.darts.order must be 1 or 2, got {order}")
        self.net, self.order, self.r = net, order, unrolled_r
        self.optimizer = torch.optim.Adam(
            net.arch_parameters(), lr=lr, betas=tuple(betas), weight_decay=weight_decay
        )
        self.batches = HeldOutBatches(val_loader, seed, "darts/architecture batches")
        self.frozen_passes = frozen_passes

    # ------------------------------------------------------------------ hook API

    def before_epoch(self, trainer: Trainer, epoch: int) -> None:
        self.batches.start_epoch(epoch)

    def before_step(self, trainer: Trainer, step: int, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        for a in self.net.arch_parameters():  # trainable again even if the last weight step raised
            a.requires_grad_(True)
        xv, yv = self.batches.next()
        xv, yv = trainer.to_device(xv), yv.to(trainer.device)
        self.optimizer.zero_grad(set_to_none=True)
        buffers = [b.detach().clone() for b in self.net.buffers()]
        try:
            if self.order == 1:
                with frozen_params(self.net.weight_parameters() if self.frozen_passes else []):
                    grads = torch.autograd.grad(self._loss(xv, yv), self.net.arch_parameters())
            else:
                grads = self._unrolled_grads(trainer, batch, (xv, yv))
        finally:
            with torch.no_grad():  # the architecture step leaves BatchNorm statistics as they were
                for b, b0 in zip(self.net.buffers(), buffers):
                    b.copy_(b0)
        for a, g in zip(self.net.arch_parameters(), grads):
            a.grad = g
        self.optimizer.step()
        for a in self.net.arch_parameters() if self.frozen_passes else []:  # the weight step needs none
            a.requires_grad_(False)

    def after_step(self, trainer: Trainer, step: int, batch, loss: float) -> None:
        for a in self.net.arch_parameters():
            a.requires_grad_(True)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])

    # ------------------------------------------------------------------ internals

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits, _ = split_logits(self.net(x))
        return F.cross_entropy(logits, y)

    def _unrolled_grads(self, trainer: Trainer, train_batch, val_batch) -> list[torch.Tensor]:
        weights = self.net.weight_parameters()
        alphas = self.net.arch_parameters()
        group = trainer.optimizer.param_groups[0]
        eta, momentum, wd = (
            trainer.lr,
            float(group.get("momentum", 0.0)),
            float(group.get("weight_decay", 0.0)),
        )
        # the weights move as one list (torch._foreach_*): a supernet has a thousand small tensors
        with torch.no_grad():
            saved = torch._foreach_mul(weights, 1.0)
        try:
            # w' = w - eta * (momentum * buffer + dL_train/dw + wd * w)
            with frozen_params(alphas if self.frozen_passes else []):
                g_train = torch.autograd.grad(self._loss(*train_batch), weights, allow_unused=True)
            with torch.no_grad():
                g_train = [g if g is not None else torch.zeros_like(w) for g, w in zip(g_train, weights)]
                step = torch._foreach_add(g_train, weights, alpha=wd)
                bufs = [trainer.optimizer.state.get(w, {}).get("momentum_buffer") for w in weights]
                moving = [(s, buf) for s, buf in zip(step, bufs) if buf is not None]
                if moving:
                    torch._foreach_add_([s for s, _ in moving], [buf for _, buf in moving], alpha=momentum)
                torch._foreach_add_(weights, step, alpha=-eta)
            loss_val = self._loss(*val_batch)
            grads = torch.autograd.grad(loss_val, [*alphas, *weights], allow_unused=True)
            d_alpha = [
                g if g is not None else torch.zeros_like(a) for g, a in zip(grads[: len(alphas)], alphas)
            ]
            d_w = [g if g is not None else torch.zeros_like(w) for g, w in zip(grads[len(alphas) :], weights)]
            R = self.r / torch.linalg.vector_norm(torch.stack(torch._foreach_norm(d_w))).clamp_min(1e-12)
            offset = torch._foreach_mul(d_w, R)
            implicit = []
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    torch._foreach_copy_(weights, torch._foreach_add(saved, offset, alpha=sign))
                with frozen_params(weights if self.frozen_passes else []):
                    implicit.append(torch.autograd.grad(self._loss(*train_batch), alphas))
            return [da - eta * (gp - gn) / (2 * R) for da, gp, gn in zip(d_alpha, *implicit)]
        finally:
            with torch.no_grad():
                torch._foreach_copy_(weights, saved)
