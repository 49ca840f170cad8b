"""Final training: the chosen descriptions trained from scratch with the eval protocol, then tested."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archai.search.jobs import run_train_job
from archai.search.searcher import RunContext, SearchResult
from archai.space.model_desc import ModelDesc


@dataclass
class EvalOutcome:
    """One finally trained description: which candidate it came from, what was trained, how it did."""

    candidate: str
    desc: ModelDesc
    metrics: dict[str, Any]
    ok: bool = True
    error: str | None = None


def eval_desc(ctx: RunContext, desc: ModelDesc) -> ModelDesc:
    """The network the eval protocol trains for a searched ``desc``: the same architecture
    rebuilt by the run's space at the shape of ``eval.model`` when ``eval.expand`` is true
    (DARTS cells: into a deeper, wider network; chain: at its width; nb201: the benchmark's
    network, as found), else ``desc`` as is."""
    if not bool(ctx.conf.eval.expand):
        return desc
    return ctx.space.rebuild(desc, ctx.builder_args("eval"))


def evaluate_final(ctx: RunContext, result: SearchResult) -> list[EvalOutcome]:
    """Trains the first ``eval.final_descs`` of ``result.final`` through the executor."""
    chosen = result.final[: max(1, int(ctx.conf.eval.final_descs))]
    descs = [eval_desc(ctx, result.get(cid).desc) for cid in chosen]
    # the only jobs that measure the test split
    jobs = [ctx.train_job(f"eval_{cid}", d, "eval", test=True).as_args() for cid, d in zip(chosen, descs)]
    outcomes = []
    for cid, desc, res in zip(
        chosen, descs, ctx.run_jobs(run_train_job, jobs, names=[f"eval_{c}" for c in chosen])
    ):
        if res.ok:
            ctx.logger.event("eval_result", data=res.value, candidate=cid)
            outcomes.append(EvalOutcome(cid, desc, res.value))
        else:
            ctx.logger.error(
                f"final training of {cid} failed after {res.attempts} attempt(s)", traceback=res.error
            )
            outcomes.append(EvalOutcome(cid, desc, {}, ok=False, error=res.error))
    return outcomes
