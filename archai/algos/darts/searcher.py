"""DARTS: differentiable architecture search (Liu et al., ICLR 2019), as a registered searcher.

The run's space gives its one-shot view: a supernet whose edges mix every candidate op by
softmax weights, trained with the one trainer while the
:class:`~archai.algos.darts.arch_step.DartsArchStep` hook updates the mixing weights on held-out
data before every weight step (first or second order); then the space derives the found
architecture from the weights (``darts``: per node the two strongest incoming edges, each with
its strongest op other than ``none``; ``nb201``: each edge's strongest op).
"""

from __future__ import annotations

from archai.algos.darts.arch_step import DartsArchStep
from archai.algos.darts.plots import plot_alphas
from archai.common.checks import Range
from archai.common.seeding import seed_everything
from archai.search.conf_rules import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE
from archai.search.searcher import Candidate, Searcher, SearchResult, register_searcher
from archai.search.trainer import Trainer, TrainerHook
from archai.space.cost import measure_cost
from archai.space.spaces import SearchSpace
from archai.space.supernet import MixedOpOptions, Supernet


class AlphaLog(TrainerHook):
    """Logs the softmax of the alphas and the architecture they derive after every epoch."""

    def __init__(self, net: Supernet, space: SearchSpace) -> None:
        self.net, self.space = net, space

    def after_epoch(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        if trainer.logger is None:
            return
        weights = self.net.mixing_weights()
        genotype = self.space.label(self.space.derive(self.net.desc, weights))
        trainer.logger.event(  # the matrices go to events.jsonl and TensorBoard, not the console
            "alphas",
            level="debug",
            data={k: w.tolist() for k, w in weights.items()},
            epoch=epoch + 1,
            genotype=genotype,
            candidates=self.net.candidates,
        )
        trainer.logger.info(f"epoch {epoch + 1}: current architecture {genotype}")
        scalars = {
            f"alpha/{kind}/edge{e}/{op}": float(w[e, j])
            for kind, w in weights.items()
            for e in range(w.shape[0])
            for j, op in enumerate(self.net.candidates[kind])
        }
        trainer.logger.metrics(scalars, step=epoch + 1, epoch=epoch + 1)


@register_searcher("darts")
class DartsSearcher(Searcher):
    """First- or second-order DARTS on the one-shot view of the run's space."""

    space_needs = ("one_shot",)
    value_checks = {
        "order": Range(1, 2, integer=True),
        "unrolled_r": POSITIVE,
        "arch_optimizer.lr": POSITIVE,
        "arch_optimizer.weight_decay": NON_NEGATIVE,
        "supernet.checkpoint_cells": NON_NEGATIVE_INT,
    }
    defaults_file = "algos/darts.yaml"
    toy_file = "algos/darts_toy.yaml"

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        loaders, arch_loader = ctx.held_out_loaders("steps its architecture weights")
        seed_everything(ctx.seed)
        space = ctx.space
        net = Supernet(space.supernet_desc(), options=MixedOpOptions(**conf.supernet))
        arch = conf.arch_optimizer
        hooks = [
            DartsArchStep(
                net,
                arch_loader,
                order=int(conf.order),
                lr=arch.lr,
                betas=tuple(arch.betas),
                weight_decay=arch.weight_decay,
                unrolled_r=float(conf.unrolled_r),
                seed=ctx.seed,
            ),
            AlphaLog(net, space),
        ]
        trainer = Trainer(
            net,
            ctx.conf.search.trainer,
            device=ctx.device,
            hooks=hooks,
            checkpoint_path=ctx.run_dir / "search" / "supernet.pt",
            seed=ctx.seed,
            logger=self.log,
            scope="supernet",
        )
        history = trainer.fit(loaders.train, loaders.val)
        final = space.derive(net.desc, net.mixing_weights())
        label = space.label(final)
        final.meta.update(searcher="darts", order=int(conf.order), architecture=label)
        if space.name == "darts":
            final.meta["genotype"] = label
        plot_alphas(net.mixing_weights(), net.candidates, ctx.run_dir / "alphas.png")
        self.log.info(f"found {label}")
        cost = measure_cost(final)
        cand = Candidate(
            "darts",
            final,
            {
                "val_top1": history.last.get("val/top1"),
                "params": cost.params,
                "macs": cost.macs,
                "supernet_epochs": len(history.history),
            },
        )
        self.log_candidate(cand)
        return SearchResult([cand], final=["darts"])
