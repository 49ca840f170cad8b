"""Random search: sample architectures uniformly from the run's space, train each briefly, keep
the best.

Samples (``ctx.space.sample``: on the default ``darts`` space, cells whose nodes take two
distinct earlier states, each through an op drawn uniformly from ``space.darts.primitives``)
are drawn from the run's seed a round at a time and
trained through the executor (in parallel on Ray), until ``n_samples`` are done or
``max_seconds`` have passed (on the run's clock: simulated on a benchmark table).
"""

from __future__ import annotations

import random

from archai.common.seeding import derive_seed
from archai.search.conf_rules import COUNT, NON_NEGATIVE
from archai.search.searcher import Candidate, Searcher, SearchResult, register_searcher
from archai.space.model_desc import ModelDesc


@register_searcher("random")
class RandomSearcher(Searcher):
    """Uniform random sampling with a sample and time budget."""

    value_checks = {"n_samples": COUNT, "max_seconds": NON_NEGATIVE, "jobs_per_round": COUNT}
    defaults_file = "algos/random.yaml"
    budget_keys = ("max_seconds", "n_samples")
    toy_file = "algos/random_toy.yaml"

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        rng = random.Random(derive_seed(ctx.seed, "random/samples"))

        def draw(i: int) -> tuple[str, ModelDesc]:
            desc = ctx.space.sample(rng)
            desc.meta.update(searcher="random", sample=i)
            return f"sample_{i:03d}", desc

        n, start, budget = int(conf.n_samples), ctx.now(), float(conf.max_seconds)
        per_round = max(1, int(conf.jobs_per_round))
        candidates: list[Candidate] = []
        # drawn a round at a time (in the same order as all at once), so a huge n_samples costs
        # nothing up front and max_seconds applies from the first round
        for r in range(0, n, per_round):
            if budget > 0 and ctx.now() - start > budget:
                self.log.info(f"time budget of {budget:.0f}s reached after {len(candidates)} samples")
                break
            candidates += ctx.train_candidates([draw(i) for i in range(r, min(r + per_round, n))])
        ok = [c for c in candidates if not c.metrics.get("failed")]
        if not ok:
            raise RuntimeError("random search: every sampled architecture failed to train; see events.jsonl")
        ranked = sorted(ok, key=lambda c: -c.metrics["val_top1"])
        return SearchResult(candidates, final=[c.id for c in ranked])
