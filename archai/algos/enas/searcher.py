"""ENAS (Pham et al., ICML 2018), micro search space, as a registered searcher.

Each epoch: the shared-weights child trains on training batches, each with an architecture
sampled from the controller (a trainer hook's ``before_step``); then the controller takes
``controller_steps`` REINFORCE updates of ``samples_per_update`` architectures each, rewarded by
the child's accuracy on a validation batch with the shared weights (``after_epoch``). Controller,
its optimizer and baseline are saved in the trainer's checkpoint, so resume is exact. Derive:
sample ``derive_samples`` architectures, score each on the same validation batches, keep the best.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from archai.algos.enas.child import EnasChild, arch_to_cell
from archai.algos.enas.controller import Controller, Reinforce
from archai.common.checks import Range
from archai.common.metrics import topk_correct
from archai.common.seeding import derive_seed, seed_everything
from archai.search.conf_rules import COUNT, NON_NEGATIVE, POSITIVE
from archai.search.searcher import Candidate, Searcher, SearchResult, register_searcher
from archai.search.trainer import Trainer, TrainerHook
from archai.space.builder import TemplateBuilder
from archai.space.cost import measure_cost
from archai.space.genotypes import GenotypeError, desc_to_genotype, format_genotype
from archai.space.ops import frozen_bn_stats


class EnasHook(TrainerHook):
    """Samples the child's architecture per step; trains the controller after each epoch."""

    def __init__(
        self, child: EnasChild, reinforce: Reinforce, val_loader: DataLoader, *, steps: int, seed: int
    ) -> None:
        self.child, self.reinforce, self.val_loader, self.steps, self.seed = (
            child,
            reinforce,
            val_loader,
            steps,
            seed,
        )
        self._val_iter = None

    def before_step(self, trainer: Trainer, step: int, batch) -> None:
        with torch.no_grad():
            self.child.arch = self.reinforce.controller().arch

    def restart_validation(self, epoch: int) -> None:
        """Starts a fresh, seeded pass over the validation batches."""
        gen = getattr(self.val_loader, "generator", None)
        if isinstance(gen, torch.Generator):
            gen.manual_seed(derive_seed(self.seed, f"enas/reward batches/epoch {epoch}"))
        self._val_iter = iter(self.val_loader)

    def val_batch(self, trainer: Trainer):
        try:
            x, y = next(self._val_iter)
        except (StopIteration, TypeError):
            self._val_iter = iter(self.val_loader)
            x, y = next(self._val_iter)
        return trainer.to_device(x), y.to(trainer.device)

    def reward(self, trainer: Trainer, arch, batches=None) -> float:
        """Accuracy of ``arch`` with the shared weights on the next validation batch, or on
        ``batches`` (a list of device batches) when given."""
        batches = batches if batches is not None else [self.val_batch(trainer)]
        self.child.arch = arch
        correct = total = 0
        with torch.no_grad(), frozen_bn_stats(self.child):
            for x, y in batches:
                correct += topk_correct(self.child(x), y, (1,))[0]
                total += len(y)
        return correct / total

    def after_epoch(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        self.restart_validation(epoch)
        was_training = self.child.training
        self.child.train()
        stats = [self.reinforce.update(lambda arch: self.reward(trainer, arch)) for _ in range(self.steps)]
        self.child.train(was_training)
        for key in ("reward", "baseline", "entropy"):
            metrics[f"controller/{key}"] = sum(s[key] for s in stats) / len(stats)
        if trainer.logger is not None:
            with torch.no_grad():
                best = self.reinforce.controller(greedy=True).arch
            trainer.logger.event(
                "controller",
                epoch=epoch + 1,
                most_likely=best,
                data={k: metrics[f"controller/{k}"] for k in ("reward", "baseline", "entropy")},
            )

    def state_dict(self) -> dict:
        return self.reinforce.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.reinforce.load_state_dict(state)


@register_searcher("enas")
class EnasSearcher(Searcher):
    """ENAS micro search: LSTM controller, REINFORCE, shared weights."""

    value_checks = {
        "derive_samples": COUNT,
        "derive_batches": COUNT,
        "controller.hidden": COUNT,
        "controller.lr": POSITIVE,
        "controller.tanh_constant": POSITIVE,
        "controller.op_tanh_reduce": POSITIVE,
        "controller.temperature": Range(0, lo_open=True, allow_none=True),
        "controller.entropy_weight": NON_NEGATIVE,
        "controller.baseline_decay": Range(0, 1),
        "controller.steps_per_epoch": COUNT,
        "controller.samples_per_update": COUNT,
    }
    defaults_file = "algos/enas.yaml"
    toy_file = "algos/enas_toy.yaml"

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        loaders, val = ctx.held_out_loaders("rewards its controller")
        seed_everything(ctx.seed)
        args = ctx.builder_args("search")
        ops = list(conf.primitives)
        child = EnasChild(
            init_channels=args["init_channels"],
            n_cells=args["n_cells"],
            n_nodes=args["n_nodes"],
            ops=ops,
            in_channels=args["in_channels"],
            n_classes=args["n_classes"],
            stem_multiplier=args["stem_multiplier"],
            stem_stride=args["stem_stride"],
            skeleton=args["skeleton"],
            image_size=args["image_size"],
        )
        c = conf.controller
        controller = Controller(
            ops,
            args["n_nodes"],
            hidden=int(c.hidden),
            tanh_constant=float(c.tanh_constant),
            op_tanh_reduce=float(c.op_tanh_reduce),
            temperature=c.temperature,
            op_prior=list(c.op_prior),
            normal_op_bias=list(c.normal_op_bias),
        )
        reinforce = Reinforce(
            controller,
            lr=float(c.lr),
            entropy_weight=float(c.entropy_weight),
            baseline_decay=float(c.baseline_decay),
            samples_per_update=int(c.samples_per_update),
        )
        hook = EnasHook(child, reinforce, val, steps=int(c.steps_per_epoch), seed=ctx.seed)
        trainer = Trainer(
            child,
            ctx.conf.search.trainer,
            device=ctx.device,
            hooks=[hook],
            checkpoint_path=ctx.run_dir / "search" / "child.pt",
            seed=ctx.seed,
            logger=self.log,
            scope="child",
        )
        trainer.fit(loaders.train)
        return self._derive(trainer, hook, args, int(conf.derive_samples))

    def _derive(self, trainer: Trainer, hook: EnasHook, args: dict, n: int) -> SearchResult:
        """Samples ``n`` architectures and scores each on the same ``derive_batches`` validation
        batches (the published code drew a new batch per sample: batch-to-batch noise then
        decides between close architectures)."""
        torch.manual_seed(derive_seed(self.ctx.seed, "enas/derive"))
        hook.restart_validation(-1)
        batches = [hook.val_batch(trainer) for _ in range(max(1, int(self.conf.derive_batches)))]
        scored = []
        with torch.no_grad():
            for _ in range(n):
                arch = hook.reinforce.controller().arch
                scored.append((hook.reward(trainer, arch, batches), arch))
        candidates = []
        for i, (score, arch) in enumerate(sorted(scored, key=lambda t: -t[0])):
            desc = TemplateBuilder(
                arch_to_cell(arch["normal"], "normal"), arch_to_cell(arch["reduction"], "reduction"), **args
            ).build()
            desc.meta.update(searcher="enas", shared_weight_val_top1=score)
            try:
                desc.meta["genotype"] = format_genotype(desc_to_genotype(desc))
            except GenotypeError:
                pass
            cost = measure_cost(desc)
            cand = Candidate(
                f"derived_{i:02d}", desc, {"val_top1": score, "params": cost.params, "macs": cost.macs}
            )
            self.log_candidate(cand)
            candidates.append(cand)
        self.log.info(f"best derived architecture: {candidates[0].desc.meta.get('genotype')}")
        return SearchResult(candidates, final=[c.id for c in candidates])
