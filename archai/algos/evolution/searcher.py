"""Regularized (aging) evolution (Real et al., 2019), asynchronous on the executor.

Over the run's space (``ctx.space``: ``sample`` and ``mutate``). Each cycle draws ``sample``
living models (with replacement), mutates the best of the draw (one change: on DARTS cells one
op or one input), trains the child, adds it and removes the oldest, for ``cycles`` models or
until ``max_seconds`` have passed (on the run's clock: simulated on a benchmark table). On Ray, ``parallel``
trainings run at once, each handled as it finishes. Jobs are named by architecture digest: a
repeated architecture trains once, and a resumed search reuses the jobs it finished.
"""

from __future__ import annotations

import collections
import random

from archai.search import (
    COUNT,
    NON_NEGATIVE,
    Candidate,
    Searcher,
    SearchResult,
    derive_seed,
    register_searcher,
)
from archai.space import ModelDesc


@register_searcher("evolution")
class EvolutionSearcher(Searcher):
    """Aging evolution: random initial population, tournament selection, oldest removed."""

    space_needs = ("sample", "mutate")
    value_checks = {
        "population": COUNT,
        "sample": COUNT,
        "cycles": COUNT,
        "parallel": COUNT,
        "max_seconds": NON_NEGATIVE,
    }
    budget_keys = ("max_seconds", "cycles")
    defaults_file = "algos/evolution.yaml"
    toy_file = "algos/evolution_toy.yaml"

    def child(self, rng: random.Random, population: collections.deque, started: int) -> ModelDesc | None:
        """A random model for the first ``population``, then the mutated winner of a tournament
        (None while every living model is still training)."""
        conf, space = self.conf, self.ctx.space
        if started < int(conf.population):
            return space.sample(rng)
        if not population:
            return None
        winner = max((rng.choice(population) for _ in range(int(conf.sample))), key=_fitness)
        child = space.mutate(rng, winner.desc)
        child.meta["parent"] = winner.id
        return child

    def search(self) -> SearchResult:
        ctx, cycles, parallel = self.ctx, int(self.conf.cycles), int(self.conf.parallel)
        ctx.require_held_out("ranks models by validation accuracy")
        if ctx.executor.kind == "local":  # as many as it trains at once (one: breed from all)
            parallel = min(parallel, ctx.executor.slots)
        rng = random.Random(derive_seed(ctx.seed, "evolution"))
        population: collections.deque[Candidate] = collections.deque(maxlen=int(self.conf.population))
        history: list[Candidate] = []
        running: dict = {}  # handle -> [(id, desc)]: every model waiting for that architecture's job
        start, budget = ctx.now(), float(self.conf.max_seconds)
        while len(history) < cycles:
            if budget > 0 and ctx.now() - start > budget:
                cycles = len(history) + sum(map(len, running.values()))  # no new model; the running finish
                if not running:
                    self.log.info(f"time budget of {budget:.0f}s reached after {len(history)} models")
                    break
            while len(running) < parallel and len(history) + sum(map(len, running.values())) < cycles:
                started = len(history) + sum(map(len, running.values()))
                if (desc := self.child(rng, population, started)) is None:
                    break
                item, digest = (f"model_{started:04d}", desc), desc.digest()
                if same := [h for h, items in running.items() if items[0][1].digest() == digest]:
                    running[same[0]].append(item)  # one folder per architecture: never two jobs in it
                else:
                    running[ctx.submit_training(*item, job=ctx.train_job(f"arch_{digest}", desc))] = [item]
            if not running:
                raise RuntimeError(
                    "evolution: every model of the population failed to train; see events.jsonl"
                )
            handle = next(ctx.executor.as_completed(list(running)))
            for cid, desc in running.pop(handle):
                history.append(cand := ctx.candidate(cid, desc, handle.result()))
                if not cand.metrics.get("failed"):
                    population.append(cand)  # aging: a full deque drops its oldest, however good
        ranked = sorted((c for c in history if not c.metrics.get("failed")), key=_fitness, reverse=True)
        if not ranked:
            raise RuntimeError("evolution: every model failed to train; see events.jsonl")
        return SearchResult(history, final=[c.id for c in ranked])


def _fitness(cand: Candidate) -> float:
    return cand.metrics["val_top1"]
