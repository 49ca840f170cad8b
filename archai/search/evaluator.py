"""Final training: the chosen descriptions trained from scratch with the eval protocol, then tested."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archai.common.config import ConfigError
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
    network, as found), else ``desc`` at its own shape scaled by ``eval.depth_multiplier`` and
    ``eval.width_multiplier`` (both 1: as found)."""
    conf = ctx.conf.eval
    if bool(conf.expand):
        return ctx.space.rebuild(desc, ctx.builder_args("eval"))
    return scale_desc(ctx, desc, int(conf.depth_multiplier), int(conf.width_multiplier))


def check_eval_shape(conf) -> None:
    """Raises :class:`ConfigError` before the run when ``eval.depth_multiplier`` or
    ``eval.width_multiplier`` would scale a found model the run's space cannot rebuild (only
    DARTS-style cell networks are scaled)."""
    space = str(conf.space.name)
    scaled = [k for k in ("depth_multiplier", "width_multiplier") if int(conf.eval[k]) != 1]
    if scaled and not bool(conf.eval.expand) and space != "darts":
        raise ConfigError(
            f"eval.{scaled[0]} {conf.eval[scaled[0]]}: the final training rebuilds DARTS-style cell "
            f"networks only; on --space {space} set --eval.depth_multiplier 1 --eval.width_multiplier 1"
        )


def scale_desc(ctx: RunContext, desc: ModelDesc, depth: int, width: int) -> ModelDesc:
    """``desc`` with ``depth`` times its normal cells (each run between reductions ``depth``
    times longer) and ``width`` times its channels, rebuilt by the run's space from its own
    cells (Petridish's final training: depth 2, width 2); ``desc`` itself when both are 1."""
    if depth == 1 and width == 1:
        return desc
    if not desc.skeleton_def.expandable or ctx.space.name != "darts":
        raise ConfigError(
            f"eval.depth_multiplier/width_multiplier rebuild DARTS-style cell networks; the found "
            f"model is a {desc.skeleton} network of the {ctx.space.name} space: set both to 1"
        )
    reductions = sum(c.kind == "reduction" for c in desc.cells)
    shape = {
        "n_cells": (len(desc.cells) - reductions) * depth + reductions,
        "init_channels": desc.init_channels * width,
        "aux_head": bool(ctx.conf.eval.model.aux_head),
    }
    out = ctx.space.rebuild(desc, shape)
    out.meta["scaled"] = {"depth_multiplier": depth, "width_multiplier": width}
    return out


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
