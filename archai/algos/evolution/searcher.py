"""Regularized (aging) evolution (Real et al., 2019), asynchronous on the executor.

A population of ``population`` trained models; each cycle draws ``sample`` of them at random,
mutates the best of the draw (one op or one input, :func:`archai.space.mutate_desc`), trains the
child, adds it and removes the oldest model. ``parallel`` children train at once; each is handled
the moment it finishes. A child's job is named by its architecture's digest, so a resumed search
reuses every finished training, whatever order the jobs finished in.
"""

from __future__ import annotations

import collections
import random

from archai.search import COUNT, Candidate, Searcher, SearchResult, derive_seed, register_searcher
from archai.space import ModelDesc, mutate_desc, sample_desc


@register_searcher("evolution")
class EvolutionSearcher(Searcher):
    """Aging evolution: random initial population, tournament selection, oldest removed."""

    value_checks = {"population": COUNT, "sample": COUNT, "cycles": COUNT, "parallel": COUNT}
    defaults_file = "algos/evolution.yaml"
    toy_file = "algos/evolution_toy.yaml"

    def child(self, rng: random.Random, population: collections.deque, started: int) -> ModelDesc | None:
        """A random model while the first ``population`` are drawn, then the mutated winner of a
        tournament; None when every living model is still training."""
        conf, args = self.conf, self.ctx.builder_args("search")
        if started < int(conf.population):
            return sample_desc(rng, list(conf.primitives), **args)
        if not population:
            return None
        draw = rng.sample(list(population), min(int(conf.sample), len(population)))
        winner = max(draw, key=lambda c: c.metrics["val_top1"])
        child = mutate_desc(rng, winner.desc, list(conf.primitives))
        child.meta["parent"] = winner.id
        return child

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        rng = random.Random(derive_seed(ctx.seed, "evolution"))
        population: collections.deque[Candidate] = collections.deque()
        history: list[Candidate] = []
        pending: dict = {}  # handle -> (id, desc)
        while len(history) < int(conf.cycles):
            while len(pending) < int(conf.parallel) and len(history) + len(pending) < int(conf.cycles):
                desc = self.child(rng, population, len(history) + len(pending))
                if desc is None:
                    break
                cid = f"model_{len(history) + len(pending):04d}"
                job = ctx.train_job(f"arch_{desc.digest()}", desc)
                pending[ctx.submit_training(cid, desc, job=job)] = (cid, desc)
            if not pending:
                raise RuntimeError(
                    "evolution: every model of the population failed to train; see events.jsonl"
                )
            handle = next(ctx.executor.as_completed(list(pending)))
            cand = ctx.candidate(*pending.pop(handle), handle.result())
            history.append(cand)
            if not cand.metrics.get("failed"):
                population.append(cand)
                if len(population) > int(conf.population):
                    population.popleft()  # aging: the oldest goes, however good it is
        ranked = sorted(
            (c for c in history if not c.metrics.get("failed")), key=lambda c: -c.metrics["val_top1"]
        )
        return SearchResult(history, final=[c.id for c in ranked])
