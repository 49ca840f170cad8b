"""Real runs for :func:`archai.search.compare.compare`: each searcher's whole experiment (search,
final training, summary; :func:`~archai.search.experiment.run_experiment`) once per seed, in
``OUT/runs/ALGO_seedS``, and what the report reads back from its run folder.

- Searchers with a time budget (``Searcher.budget_keys``: random, evolution, local) get the same
  wall-clock search seconds; the others (DARTS, ENAS, Petridish) run their own protocol, and
  without ``--budget`` the budget of a seed is the median of their search times on it.
- A run folder that holds a finished run is reused, an unfinished one is resumed (``--resume``):
  a report over many seeds can be stopped and started again without losing a run.
- The anytime curve of a run is read from its ``events.jsonl``: each evaluated candidate at the
  search seconds it was logged at (the time of earlier sessions of a resumed search included,
  the pauses between them not).
- ``eval.final_descs`` of the searcher's chosen candidates are trained with the final protocol;
  the first (the best on validation) is the run's result, all of them pair the validation
  figure the search saw with the test figure of the final training (how far the search's
  proxy can be trusted).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from archai.common.config import ConfigError
from archai.common.jsonio import write_json
from archai.search.baselines import BASELINES, train_baseline
from archai.search.experiment import ExperimentOptions, build_config, run_experiment
from archai.search.searcher import SEARCHERS

#: the count limit of a searcher with a time budget: high enough that the time decides
UNLIMITED = 1_000_000


def budget_overrides(algo: str, seconds: float) -> list[str]:
    """The overrides that give ``algo`` ``seconds`` of search and lift its count limit."""
    time_key, count_key = SEARCHERS.get(algo).budget_keys
    return [f"--algos.{algo}.{time_key}", f"{seconds:g}", f"--algos.{algo}.{count_key}", str(UNLIMITED)]


def split_by_budget(algos: Sequence[str]) -> tuple[list[str], list[str]]:
    """(searchers with a time budget, searchers that run their own protocol)."""
    timed = [a for a in algos if SEARCHERS.get(a).budget_keys is not None]
    return timed, [a for a in algos if a not in timed]


def run_once(
    algo: str, seed: int, out: Path, extra: Sequence[str], full: bool, plugins: Sequence[str]
) -> dict[str, Any]:
    """``algo``'s experiment with ``seed`` in ``out/runs/ALGO_seedS`` (reused or resumed when
    it is there); the run's row for the report."""
    exp = out / "runs" / f"{algo}_seed{seed}"
    opts = ExperimentOptions(
        algos=[algo],
        full=full,
        exp_dir=str(exp),
        resume=(exp / algo).is_dir(),
        overrides=["--common.seed", str(seed), "--common.quiet", "true", *extra],
        plugins=list(plugins),
    )
    summary = run_experiment(opts)[0]
    run_dir = exp / algo
    return {
        "seed": seed,
        "val_top1": _num(summary.get("val_top1")),
        "test_top1": _num(summary.get("test_top1")),
        "search_seconds": _num(summary.get("search_seconds")),
        "params": summary.get("params"),
        "evaluations": summary.get("n_candidates"),
        "architecture": summary.get("architecture") or summary.get("genotype"),
        "run_dir": str(run_dir),
        "points": search_points(run_dir / "events.jsonl"),
        "pairs": proxy_pairs(run_dir, summary),
    }


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else math.nan


def search_points(events: Path) -> list[tuple[float, float]]:
    """(search seconds, validation top-1) of each candidate a run's search logged, in order:
    seconds since the search began, each earlier session of a resumed search counted up to its
    last event. Candidates replayed on resume and failed ones are left out."""
    points: list[tuple[float, float]] = []
    offset = begin = last = None
    for line in events.read_text().splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        scope, t = e.get("scope", ""), e.get("time")
        if scope == "search" and e.get("kind") == "begin":
            offset = 0.0 if offset is None else offset + (last - begin)
            begin = last = t
            continue
        if begin is None or not (scope == "search" or scope.startswith("search/")):
            continue
        last = t
        val = (e.get("data") or {}).get("val_top1")
        replayed = (e.get("fields") or {}).get("replayed")
        if e.get("kind") == "candidate" and not replayed and isinstance(val, (int, float)) and val == val:
            points.append((offset + t - begin, float(val)))
    return points


def proxy_pairs(run_dir: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """For each candidate the run trained finally: the validation top-1 its search saw and the
    test top-1 of its final training."""
    saw = {
        c["id"]: c["metrics"].get("val_top1")
        for c in json.loads((run_dir / "search_result.json").read_text())["candidates"]
    }
    pairs = []
    for e in summary.get("eval") or []:
        val, test = saw.get(e["candidate"]), e.get("test_top1")
        if e.get("ok") and isinstance(val, (int, float)) and isinstance(test, (int, float)):
            pairs.append({"candidate": e["candidate"], "search_val": float(val), "final_test": float(test)})
    return pairs


def baseline_row(conf: Any, name: str, seed: int, out: Path) -> dict[str, Any]:
    """``name`` trained with ``seed`` (its result kept in ``out/baselines``, reused)."""
    path = out / "baselines" / f"{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_')}_seed{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    row = train_baseline(conf, name, seed)
    write_json(path, row)
    return row


def wall_clock_runs(
    algos: Sequence[str],
    seeds: Sequence[int],
    budget: float | None,
    out: Path,
    overrides: Sequence[str] = (),
    *,
    final_descs: int = 3,
    baselines: bool = True,
    full: bool = False,
    plugins: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> tuple[dict[str, list[dict]], dict[int, float], dict[str, list[dict]]]:
    """Every run of the report: (algo -> its rows per seed, seed -> the time budget given,
    baseline name -> its rows per seed). Settings are checked for every searcher before the
    first run starts."""
    timed, fixed = split_by_budget(algos)
    if budget is None and not fixed:
        raise ConfigError(
            f"{', '.join(algos)} all take a time budget: give it with --budget SECONDS (or add a "
            f"searcher that runs its own protocol, such as darts, whose search time becomes the budget)"
        )
    if budget is not None and budget <= 0:
        raise ConfigError(f"--budget {budget}: give a positive number of seconds")
    common = ["--eval.final_descs", str(final_descs), *overrides]
    for algo in algos:  # bad keys or values fail now, not after hours of runs
        extra = budget_overrides(algo, 1.0) if algo in timed else []
        build_config(algo, ExperimentOptions(algos=[algo], full=full, overrides=[*extra, *common]))
    # the baselines: the final protocol without any searcher's layers
    protocol = build_config(None, ExperimentOptions(algos=[], full=full, overrides=common))
    runs: dict[str, list[dict]] = {a: [] for a in algos}
    budgets: dict[int, float] = {}
    base_rows: dict[str, list[dict]] = {n: [] for n in BASELINES} if baselines else {}
    for seed in seeds:
        for algo in fixed:
            runs[algo].append(run_once(algo, seed, out, common, full, plugins))
            say(f"{algo} seed {seed}: {_said(runs[algo][-1])}")
        if budget is None:
            budgets[seed] = round(
                max(0.1, statistics.median(runs[a][-1]["search_seconds"] for a in fixed)), 1
            )
        else:
            budgets[seed] = float(budget)
        for algo in timed:
            extra = [*budget_overrides(algo, budgets[seed]), *common]
            runs[algo].append({**run_once(algo, seed, out, extra, full, plugins), "budget": budgets[seed]})
            say(f"{algo} seed {seed} ({budgets[seed]:g} s budget): {_said(runs[algo][-1])}")
        for name in base_rows:
            base_rows[name].append(baseline_row(protocol, name, seed, out))
            say(f"{name} seed {seed}: test {100 * base_rows[name][-1]['test_top1']:.2f}%")
    return runs, budgets, base_rows


def _said(row: dict) -> str:
    return f"test {100 * row['test_top1']:.2f}%, search {row['search_seconds']:.0f} s"
