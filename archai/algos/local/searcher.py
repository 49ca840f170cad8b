"""Local search (White et al., 2021): climb to the best neighbour, restart at a local optimum.

Start from the best of ``n_init`` random architectures; train its neighbours (every one, or
``neighbours`` drawn at random), move to the best when it beats the current one, else restart;
up to ``max_models`` trainings or ``max_seconds`` of search (on the run's clock).
Architectures the space calls equal (``space.digest``) train once. Written against the public
API only: the run's space and ``ctx.train_candidates``.
"""

from __future__ import annotations

import random

from archai.search import (
    COUNT,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    Searcher,
    SearchResult,
    derive_seed,
    register_searcher,
)


@register_searcher("local")
class LocalSearcher(Searcher):
    """Best-improvement local search with random restarts, up to ``max_models`` trainings."""

    space_needs = ("sample", "neighbours")
    defaults = {"max_models": 100, "n_init": 10, "neighbours": 0, "max_seconds": 0.0}
    value_checks = {
        "max_models": COUNT,
        "n_init": COUNT,
        "neighbours": NON_NEGATIVE_INT,
        "max_seconds": NON_NEGATIVE,
    }
    budget_keys = ("max_seconds", "max_models")
    toy_file = "algos/local_toy.yaml"

    def search(self) -> SearchResult:
        ctx, space, budget = self.ctx, self.ctx.space, int(self.conf.max_models)
        ctx.require_held_out("ranks models by validation accuracy")
        rng = random.Random(derive_seed(ctx.seed, "local search"))
        seen, trained = {}, []  # space digest -> candidate; every candidate in training order
        start, seconds = ctx.now(), float(self.conf.max_seconds)

        def out_of_time() -> bool:
            return seconds > 0 and ctx.now() - start > seconds

        def train(descs):  # the candidates of descs, training those not seen yet (within budget)
            new = {space.digest(d): d for d in descs if space.digest(d) not in seen}
            items = [] if out_of_time() else list(new.items())[: budget - len(trained)]
            named = [(f"model_{len(trained) + i:04d}", d) for i, (_, d) in enumerate(items)]
            for (key, _), cand in zip(items, ctx.train_candidates(named)):
                seen[key] = cand
                trained.append(cand)
            return [seen[k] for k in map(space.digest, descs) if k in seen]

        def score(cand):
            return -1.0 if cand.metrics.get("failed") else cand.metrics["val_top1"]

        while len(trained) < budget:
            before = len(trained)
            current = max(train([space.sample(rng) for _ in range(int(self.conf.n_init))]), key=score)
            while len(trained) < budget and not out_of_time():
                nbrs = space.neighbours(current.desc)
                if int(self.conf.neighbours) and len(nbrs) > int(self.conf.neighbours):
                    nbrs = rng.sample(nbrs, int(self.conf.neighbours))
                best = max(train(nbrs), key=score, default=current)
                if score(best) <= score(current):
                    self.log.info(f"local optimum {current.id} ({score(current):.4f}); restarting")
                    break
                current = best
            if len(trained) == before or out_of_time():  # nothing new (the space is exhausted), or time is up
                break
        ranked = sorted((c for c in trained if not c.metrics.get("failed")), key=score, reverse=True)
        if not ranked:
            raise RuntimeError("local search: every model failed to train; see events.jsonl")
        return SearchResult(trained, final=[c.id for c in ranked])
