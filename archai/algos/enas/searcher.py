"""ENAS (Pham et al., ICML 2018) on the one-shot view of the run's space, as a registered searcher.

The shared-weights child is the space's supernet run one path at a time (``Supernet.path``):
only the ops of the sampled architecture compute, with the weights every architecture that
picks the same (node, input, op) shares. Each epoch: the child trains on training batches, each
with an architecture sampled from the controller (a trainer hook's ``before_step``); then the
controller takes ``controller_steps`` REINFORCE updates of ``samples_per_update`` architectures
each, rewarded by the child's accuracy on a validation batch with the shared weights
(``after_epoch``). Controller, its optimizer and baseline are saved in the trainer's checkpoint,
so resume is exact. Derive: sample ``derive_samples`` architectures, score each on the same
validation batches, keep the best.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from archai.algos.enas.controller import Controller, Reinforce
from archai.common.checks import Each, OneOf, Pair, Range
from archai.common.config import ConfigError
from archai.common.metrics import topk_correct
from archai.common.seeding import derive_seed, seed_everything
from archai.search.conf_rules import COUNT, NON_NEGATIVE, POSITIVE
from archai.search.searcher import Candidate, Searcher, SearchResult, register_searcher
from archai.search.trainer import Trainer, TrainerHook
from archai.space.cost import measure_cost
from archai.space.model_desc import ModelDesc
from archai.space.ops import OPS, frozen_bn_stats
from archai.space.spaces import SearchSpace
from archai.space.supernet import Supernet


class EnasHook(TrainerHook):
    """Samples the child's path per step; trains the controller after each epoch."""

    def __init__(
        self,
        child: Supernet,
        space: SearchSpace,
        reinforce: Reinforce,
        val_loader: DataLoader,
        *,
        steps: int,
        seed: int,
    ) -> None:
        self.child, self.space, self.reinforce, self.val_loader = child, space, reinforce, val_loader
        self.steps, self.seed = steps, seed
        self._val_iter = None

    def use(self, values: list) -> ModelDesc:
        """Sets the child's path to the architecture of the decision ``values``; returns it."""
        desc = self.space.from_decisions(values)
        self.child.path = self.space.path(self.child.desc, desc)
        return desc

    def before_step(self, trainer: Trainer, step: int, batch) -> None:
        with torch.no_grad():
            self.use(self.reinforce.controller().values)

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

    def reward(self, trainer: Trainer, values: list, batches=None) -> float:
        """Accuracy of the architecture of ``values`` with the shared weights on the next
        validation batch, or on ``batches`` (a list of device batches) when given; BatchNorm
        normalises with each batch's statistics (as the published child does) and keeps its
        running ones."""
        batches = batches if batches is not None else [self.val_batch(trainer)]
        self.use(values)
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
        stats = [self.reinforce.update(lambda v: self.reward(trainer, v)) for _ in range(self.steps)]
        self.child.train(was_training)
        for key in ("reward", "baseline", "entropy"):
            metrics[f"controller/{key}"] = sum(s[key] for s in stats) / len(stats)
        if trainer.logger is not None:
            with torch.no_grad():
                best = self.space.label(
                    self.space.from_decisions(self.reinforce.controller(greedy=True).values)
                )
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
    """ENAS: LSTM controller, REINFORCE, a shared child (the space's supernet, one path a step)."""

    space_needs = ("one_shot", "decisions")
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
        "controller.op_prior": Each(Pair(OneOf(OPS.names), Range())),
        "controller.normal_op_bias": Each(Pair(OneOf(OPS.names), Range())),
    }
    defaults_file = "algos/enas.yaml"
    toy_file = "algos/enas_toy.yaml"

    def search(self) -> SearchResult:
        ctx, conf, space = self.ctx, self.conf, self.ctx.space
        loaders, val = ctx.held_out_loaders("rewards its controller")
        seed_everything(ctx.seed)
        child = Supernet(space.supernet_desc())
        c = conf.controller
        controller = Controller(
            space.decisions(),
            hidden=int(c.hidden),
            tanh_constant=float(c.tanh_constant),
            op_tanh_reduce=float(c.op_tanh_reduce),
            temperature=c.temperature,
            op_prior=self._prior(c.op_prior, "op_prior", space),
            normal_op_bias=self._prior(c.normal_op_bias, "normal_op_bias", space),
        )
        reinforce = Reinforce(
            controller,
            lr=float(c.lr),
            entropy_weight=float(c.entropy_weight),
            baseline_decay=float(c.baseline_decay),
            samples_per_update=int(c.samples_per_update),
        )
        hook = EnasHook(child, space, reinforce, val, steps=int(c.steps_per_epoch), seed=ctx.seed)
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
        return self._derive(trainer, hook, int(conf.derive_samples))

    def _prior(self, pairs: list, key: str, space: SearchSpace) -> dict[str, float]:
        """The controller's ``key`` as ``{op: value}``; a prior written for other ops (one that
        names an op the space does not offer, such as the published one on nb201) is left out."""
        values = _op_values(pairs, key)
        ops = {o for d in space.decisions() if d.what == "op" for o in d.options}
        if not set(values) <= ops:
            self.log.info(f"controller.{key} names ops the {space.name} space lacks: not applied")
            return {}
        return values

    def _derive(self, trainer: Trainer, hook: EnasHook, n: int) -> SearchResult:
        """Samples ``n`` architectures and scores each on the same ``derive_batches`` validation
        batches (the published code drew a new batch per sample: batch-to-batch noise then
        decides between close architectures)."""
        torch.manual_seed(derive_seed(self.ctx.seed, "enas/derive"))
        hook.restart_validation(-1)
        batches = [hook.val_batch(trainer) for _ in range(max(1, int(self.conf.derive_batches)))]
        scored = []
        with torch.no_grad():
            for _ in range(n):
                values = hook.reinforce.controller().values
                scored.append((hook.reward(trainer, values, batches), values))
        candidates = []
        for i, (score, values) in enumerate(sorted(scored, key=lambda t: -t[0])):
            desc = hook.space.from_decisions(values)
            desc.meta.update(
                searcher="enas", shared_weight_val_top1=score, architecture=hook.space.label(desc)
            )
            cost = measure_cost(desc)
            cand = Candidate(
                f"derived_{i:02d}", desc, {"val_top1": score, "params": cost.params, "macs": cost.macs}
            )
            self.log_candidate(cand)
            candidates.append(cand)
        self.log.info(f"best derived architecture: {candidates[0].desc.meta['architecture']}")
        return SearchResult(candidates, final=[c.id for c in candidates])


def _op_values(pairs: list, key: str) -> dict[str, float]:
    """``[[op, value], ...]`` (``algos.enas.controller.<key>``) as ``{op: value}``."""
    out = {}
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ConfigError(
                f"algos.enas.controller.{key}: {pair!r} is not an [op, value] pair, e.g. [sep_conv_3x3, 10.0]"
            )
        out[pair[0]] = float(pair[1])
    return out
