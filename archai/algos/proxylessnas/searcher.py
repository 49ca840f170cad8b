"""ProxylessNAS (Cai et al., ICLR 2019) as a registered searcher: binarized paths, so a step
holds one path's activations, and a latency-aware loss from a table measured on the run's
device.

The search trains the space's supernet with the one trainer in two phases: a warm-up of weight
steps only (one path per step drawn from the path probabilities, uniform then), and the search,
where every ``arch_every`` weight steps (from its second epoch on) an architecture step
(:class:`ProxylessArchStep`) samples two paths per layer on a held-out batch, takes the gates'
gradients to the architecture weights (:mod:`~archai.algos.proxylessnas.binarize`), adds the
latency loss's gradient when a target is set, steps them with Adam and rescales them. The found
architecture is each layer's strongest candidate; its latency is measured on the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from archai.algos.darts.searcher import AlphaLog
from archai.algos.proxylessnas.binarize import (
    pair_probs,
    rescale_pair,
    sample_one,
    sample_pair,
    two_path_grad,
)
from archai.algos.proxylessnas.latency import LOSSES, LatencyTable, latency_loss, load_or_measure
from archai.algos.shared_weights import HeldOutBatches, PathSampler, frozen_params, path_accuracy
from archai.common.checks import OneOf, Range
from archai.common.config import Config, ConfigError
from archai.common.errors import UserError
from archai.common.seeding import derive_seed, seed_everything
from archai.search.conf_rules import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE
from archai.search.searcher import Candidate, Searcher, SearchResult, register_searcher
from archai.search.trainer import Trainer, TrainerHook, split_logits
from archai.space.cost import measure_cost, measure_latency
from archai.space.model import build_model
from archai.space.supernet import Supernet, SupernetPath


class ProxylessArchStep(TrainerHook):
    """Architecture steps after every ``every``-th weight step (``steps`` of them; none in the
    first ``skip_epochs`` epochs), and after each epoch the validation accuracy of the derived
    path with the shared weights (BatchNorm on batch statistics, as the published code
    validates) and the expected and derived latencies."""

    def __init__(
        self,
        net: Supernet,
        arch_loader: DataLoader,
        val_loader: DataLoader,
        *,
        table: LatencyTable,
        target_ms: float | None,
        loss: dict[str, Any],
        lr: float,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float,
        every: int,
        steps: int,
        skip_epochs: int,
        seed: int,
        derive_path: Callable[[], SupernetPath] | None = None,
    ) -> None:
        self.net, self.val_loader = net, val_loader
        self.table, self.target_ms, self.loss = table, target_ms, loss
        self.every, self.steps, self.skip_epochs, self.seed = every, steps, skip_epochs, seed
        self.derive_path = derive_path
        self.optimizer = torch.optim.Adam(
            net.arch_parameters(), lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay
        )
        self.generator = torch.Generator()
        self.batches = HeldOutBatches(arch_loader, seed, "proxylessnas/architecture batches")
        self.epoch = 0

    def before_epoch(self, trainer: Trainer, epoch: int) -> None:
        self.epoch = epoch
        self.generator.manual_seed(derive_seed(self.seed, f"proxylessnas/architecture paths/epoch {epoch}"))
        self.batches.start_epoch(epoch)

    def after_step(self, trainer: Trainer, step: int, batch, loss: float) -> None:
        if self.epoch >= self.skip_epochs and (step + 1) % self.every == 0:
            for _ in range(self.steps):
                self.arch_step(trainer)

    def arch_step(self, trainer: Trainer) -> dict[str, float]:
        """One architecture step on the next held-out batch; returns its loss and expected latency.

        Each row of architecture weights (a mixed edge; the edges of repeated cells share one)
        draws its pair; a row whose active candidate is ``none`` learns nothing this step (as
        published: the skipped layer's weights get no gradient)."""
        net, alphas = self.net, dict(self.net.alphas.items())
        x, y = self.batches.next()
        x, y = trainer.to_device(x), y.to(trainer.device)
        pairs = {g: [sample_pair(row, self.generator) for row in a] for g, a in alphas.items()}
        gates = {}
        for g, a in alphas.items():
            gate = torch.zeros_like(a)
            for r, pair in enumerate(pairs[g]):
                gate[r, pair[0]] = 1.0
            gates[g] = gate.requires_grad_(True)
        net.path = pairs
        net.context.gates = gates
        names = list(alphas)
        try:
            with frozen_params(net.weight_parameters()):
                logits, _ = split_logits(net(x))
                ce = F.cross_entropy(logits, y)
                probs = {
                    g: torch.stack([pair_probs(row, p) for row, p in zip(a, pairs[g])])
                    for g, a in alphas.items()
                }
                expected = self.table.expected(probs)
                loss = self._loss(ce, expected)
                grads = torch.autograd.grad(
                    loss, [gates[g] for g in names] + [alphas[g] for g in names], allow_unused=True
                )
        finally:
            net.context.gates = None
        self.optimizer.zero_grad(set_to_none=True)
        old = {}
        for i, g in enumerate(names):
            a, lat = alphas[g], grads[len(names) + i]
            live = [r for r, p in enumerate(pairs[g]) if net.candidates[g][p[0]] != "none"]
            if not live:
                continue  # the optimizer leaves a tensor without a gradient alone
            grad = torch.zeros_like(a)
            for r in live:
                grad[r] = two_path_grad(a[r], pairs[g][r], grads[i][r]) + (lat[r] if lat is not None else 0)
            a.grad = grad
            old[g] = {r: a.detach()[r, list(pairs[g][r])].clone() for r in live}
        self.optimizer.step()
        for g, rows in old.items():
            for r, before in rows.items():
                rescale_pair(alphas[g].data[r], pairs[g][r], before)
        return {"loss": float(loss.detach()), "expected_latency_ms": float(expected.detach())}

    def derived_path(self) -> SupernetPath:
        """The path of the architecture the weights choose now (``derive_path``, or each row's
        strongest candidate)."""
        if self.derive_path is not None:
            return self.derive_path()
        return {g: [(int(row.argmax()),) for row in w] for g, w in self.net.mixing_weights().items()}

    def after_epoch(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        path = self.derived_path()
        metrics.update(
            {f"val/{k}": v for k, v in path_accuracy(self.net, path, self.val_loader, trainer).items()}
        )
        metrics["expected_latency_ms"] = float(self.table.expected(self.net.mixing_weights()))
        metrics["derived_latency_ms"] = self.table.latency(path)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])

    def _loss(self, ce: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
        if self.target_ms is None:
            return ce
        o = self.loss
        return latency_loss(
            ce, expected, self.target_ms, o["kind"], alpha=o["alpha"], beta=o["beta"], lam=o["lambda"]
        )


@register_searcher("proxylessnas")
class ProxylessNasSearcher(Searcher):
    """ProxylessNAS on the one-shot view of the run's space (``mobilenet`` by default)."""

    space_needs = ("one_shot",)
    value_checks = {
        "alpha_init": NON_NEGATIVE,
        "warmup.epochs": NON_NEGATIVE_INT,
        "warmup.lr": POSITIVE,
        "arch_every": Range(1, integer=True),
        "arch_steps": Range(1, integer=True),
        "arch_skip_epochs": NON_NEGATIVE_INT,
        "arch_optimizer.lr": POSITIVE,
        "arch_optimizer.eps": POSITIVE,
        "arch_optimizer.weight_decay": NON_NEGATIVE,
        "latency.loss": OneOf(lambda: LOSSES),
        "latency.alpha": POSITIVE,
        "latency.beta": POSITIVE,
        "latency.lambda": POSITIVE,
        "latency.batch_size": Range(1, integer=True),
        "latency.runs": Range(1, integer=True),
        "latency.turns": Range(1, integer=True),
    }
    defaults_file = "algos/proxylessnas.yaml"
    toy_file = "algos/proxylessnas_toy.yaml"

    @classmethod
    def check_conf(cls, conf: Config) -> None:
        lat = conf.algos.proxylessnas.latency
        target = lat.target_ms
        if target is not None and float(target) <= 0:
            raise ConfigError(f"algos.proxylessnas.latency.target_ms must be positive (ms), got {target}")
        if target is not None and lat.loss == "mul#log" and float(target) <= 1:
            raise ConfigError(
                f"algos.proxylessnas.latency.target_ms {target}: the mul#log loss divides by log(target), "
                "which needs a target above 1 ms; set latency.loss add#linear for faster networks"
            )

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        loaders, arch_loader = ctx.held_out_loaders("steps its architecture weights")
        seed_everything(ctx.seed)
        space = ctx.space
        sdesc = space.supernet_desc()
        net = Supernet(sdesc, alpha_init=float(conf.alpha_init))
        lat = conf.latency
        table, measured = load_or_measure(
            ctx.run_dir / "search" / "latency_table.json",
            sdesc,
            device=ctx.device,
            batch_size=int(lat.batch_size),
            runs=int(lat.runs),
            turns=int(lat.turns),
        )
        self.log.info(
            f"latency table {'measured' if measured else 'reused'} on {table.device} (batch {table.batch_size}): "
            f"fixed {table.fixed_ms:.3f} ms, {len(table.edges)} mixed edges, networks from {table.minimum():.3f} ms"
        )
        target = None if lat.target_ms is None else float(lat.target_ms)
        if target is not None and lat.loss == "mul#log" and table.minimum() <= 1.0:
            raise UserError(
                f"the mul#log latency loss needs latencies above 1 ms; networks of this space measure "
                f"from {table.minimum():.3f} ms on {table.device}: set algos.proxylessnas.latency.loss add#linear"
            )
        search_conf = ctx.conf.search.trainer

        def draw(rng):  # a weight step's path: one candidate per layer from its probabilities
            return {g: [(sample_one(row, rng),) for row in a] for g, a in net.alphas.items()}

        warm = conf.warmup
        if int(warm.epochs) > 0:
            warm_conf = search_conf.with_overrides(
                {"epochs": int(warm.epochs), "optimizer.lr": float(warm.lr), "lr_schedule.min_lr": 0.0}
            )
            Trainer(
                net,
                warm_conf,
                device=ctx.device,
                hooks=[PathSampler(net, draw, ctx.seed, "proxylessnas/warmup")],
                checkpoint_path=ctx.run_dir / "search" / "warmup.pt",
                seed=derive_seed(ctx.seed, "proxylessnas/warmup"),
                logger=self.log,
                scope="warmup",
            ).fit(loaders.train)
        arch = conf.arch_optimizer
        step = ProxylessArchStep(
            net,
            arch_loader,
            loaders.val,
            table=table,
            target_ms=target,
            loss={
                "kind": str(lat.loss),
                "alpha": float(lat.alpha),
                "beta": float(lat.beta),
                "lambda": float(lat["lambda"]),
            },
            lr=float(arch.lr),
            betas=tuple(arch.betas),
            eps=float(arch.eps),
            weight_decay=float(arch.weight_decay),
            every=int(conf.arch_every),
            steps=int(conf.arch_steps),
            skip_epochs=int(conf.arch_skip_epochs),
            seed=ctx.seed,
            derive_path=lambda: space.path(sdesc, space.derive(sdesc, net.mixing_weights())),
        )
        trainer = Trainer(
            net,
            search_conf,
            device=ctx.device,
            hooks=[PathSampler(net, draw, ctx.seed, "proxylessnas/search"), step, AlphaLog(net, space)],
            checkpoint_path=ctx.run_dir / "search" / "supernet.pt",
            seed=ctx.seed,
            logger=self.log,
            scope="supernet",
        )
        history = trainer.fit(loaders.train)
        final = space.derive(net.desc, net.mixing_weights())
        label = space.label(final)
        final.meta.update(searcher="proxylessnas", architecture=label, target_ms=target)
        cost = measure_cost(final)
        shape = (final.in_channels, final.image_size, final.image_size)
        cost.latency_ms = measure_latency(  # as the table's blocks were measured, with a longer warm-up
            build_model(final),
            shape,
            batch_size=table.batch_size,
            device=ctx.device,
            warmup=10,
            runs=int(lat.runs),
        )
        predicted = table.latency(space.path(sdesc, final))
        self.log.info(
            f"found {label}: {cost.latency_ms:.3f} ms measured, {predicted:.3f} ms by the table"
            + ("" if target is None else f" (target {target:g} ms)")
        )
        cand = Candidate(
            "proxylessnas",
            final,
            {
                "val_top1": history.last.get("val/top1", math.nan),
                "params": cost.params,
                "macs": cost.macs,
                "latency_ms": cost.latency_ms,
                "table_latency_ms": predicted,
                "expected_latency_ms": history.last.get("expected_latency_ms"),
                "target_ms": target,
                "supernet_epochs": len(history.history),
            },
        )
        self.log_candidate(cand)
        return SearchResult([cand], final=["proxylessnas"])
