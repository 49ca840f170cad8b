"""Comparing searchers fairly: many seeds, one budget, one report.

On a tabular benchmark (``table`` given) each searcher runs once per seed on the table
(:mod:`archai.search.tabular`), unchanged, with its time budget (``Searcher.budget_keys``) set
to ``budget`` simulated seconds and its count limit lifted, so every searcher gets the same
training time. Only the trainings finished within the budget count. From each run's sequence of
answered trainings the report takes:

- the anytime curves: the best validation accuracy found so far, and the test accuracy of that
  incumbent (the table's mean over its seeds), against the simulated seconds; mean over the
  seeds and a 95% band (Student's t), drawn from the first moment every seed has a result;
- at the budget: the incumbent's test accuracy (mean +- 95% CI), its rank in the table, and a
  paired comparison with random search over the same seeds (t-test and Wilcoxon signed-rank);
- the oracle: the table's best mean test accuracy.

Without a table every run is real (:mod:`archai.search.compare_runs`): each searcher's whole
experiment per seed, searchers with a time budget at the same wall-clock seconds, the others with
their own protocol; the report adds hand-made baselines trained with the same final protocol
and, for each searcher, the rank correlation between the validation figure its search saw of a
candidate and that candidate's final test accuracy. The anytime curve is the best validation
so far against wall-clock search seconds (the test set is only seen by final trainings).

Selection is on validation only; test figures are reported as they come. On a table the numbers
depend on nothing but the table, the searchers' settings and the seeds: the same command writes
the same files.

Example (two seeds of random search on the shipped table; a second):
    >>> import tempfile
    >>> report = compare(["random"], "nb201_mini", seeds=[0, 1], budget=60, out=tempfile.mkdtemp())
    >>> row = report.final["random"]
    >>> row["seeds"], 0 < row["test_mean"] <= report.oracle
    (2, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archai.common.config import ConfigError
from archai.common.logger import RunLogger
from archai.search.compare_report import Report, write_report
from archai.search.compare_runs import budget_overrides, wall_clock_runs
from archai.search.experiment import ExperimentOptions, build_config
from archai.search.searcher import SEARCHERS, RunContext
from archai.search.stats import mean_ci, paired_test, rank_correlation
from archai.search.table import BenchmarkTable
from archai.search.tabular import resolve_table, tabular_executor

__all__ = ["Report", "compare", "default_budget", "incumbent_curves", "parse_seeds", "run_trace"]


def parse_seeds(text: str) -> list[int]:
    """``"0-99"``, ``"0,3,5"`` or ``"0-4,10"`` as a list of seeds."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give seeds as 0-99, 0,3,5 or 0-4,10") from None
    if not seeds:
        raise ConfigError(f"--seeds {text!r}: no seed given")
    return seeds


def default_budget(table: BenchmarkTable) -> float:
    """A tenth of the time the table's architectures took to train (first seed, full budget): a
    search may train about a tenth of the space."""
    return round(0.1 * float(np.nansum(table.seconds[:, 0, -1])))


def run_trace(conf: Any, algo: str, table: BenchmarkTable, seed: int, budget: float) -> dict[str, Any]:
    """One searcher's run on the table with ``seed``: its answered trainings within ``budget``
    (``seconds``, ``val``, ``test`` arrays) and the table keys they were of."""
    conf = conf.with_overrides({"common.seed": seed})
    ctx = RunContext(conf, algo, Path("unwritten") / f"{algo}_{seed}", RunLogger(None, console=False))
    ctx.executor = executor = tabular_executor(conf, ctx.space, table)
    SEARCHERS.get(algo)(ctx).search()
    kept = [t for t in executor.trace if t["seconds"] <= budget]
    return {
        "seconds": np.array([t["seconds"] for t in kept]),
        "val": np.array([t["val_top1"] for t in kept]),
        "test": np.array([t["test_top1"] for t in kept]),
        "keys": [t["key"] for t in kept],
    }


def incumbent_curves(trace: dict[str, Any], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Best-so-far validation accuracy and its model's test accuracy (None when ``trace`` has
    no ``test``) at each ``grid`` time (NaN before the first result), and the index of the
    final incumbent (-1: none). Ties keep the model found first."""
    val = np.asarray(trace["val"], dtype=float)
    test = trace.get("test")
    if not len(val):
        nan = np.full(len(grid), np.nan)
        return nan, None if test is None else nan.copy(), -1
    best = np.zeros(len(val), dtype=int)
    for i in range(1, len(val)):
        best[i] = i if val[i] > val[best[i - 1]] else best[i - 1]
    n = np.searchsorted(trace["seconds"], grid, side="right")
    inc = np.where(n > 0, best[np.maximum(n - 1, 0)], -1)
    got = inc >= 0
    v = np.where(got, val[inc], np.nan)
    t = None if test is None else np.where(got, np.asarray(test)[inc], np.nan)
    return v, t, int(best[-1])


def compare(
    algos: Sequence[str],
    table: str | None,
    seeds: Sequence[int],
    budget: float | None = None,
    out: str | Path = "runs/compare",
    overrides: Sequence[str] = (),
    points: int = 200,
    **real: Any,
) -> Report:
    """Runs each of ``algos`` once per seed and writes the report to ``out`` (see the module
    docstring). On ``table`` (a path or a shipped table's name) ``budget`` is in simulated
    seconds (default :func:`default_budget`); with ``table`` None every run is real, ``budget``
    is in wall-clock seconds and ``real`` goes to
    :func:`~archai.search.compare_runs.wall_clock_runs` (``final_descs``, ``baselines``,
    ``full``, ``plugins``, ``say``). ``overrides`` (``--a.b.c VALUE``) apply to every run."""
    if table is None:
        return _compare_real(algos, seeds, budget, Path(out), overrides, points, **real)
    if real:
        raise ConfigError(f"{', '.join(real)}: settings of real runs; a table's runs take none")
    path = resolve_table(table)
    data = BenchmarkTable.load(path)
    budget = float(default_budget(data) if budget is None else budget)
    if budget <= 0:
        raise ConfigError(f"--budget {budget}: give a positive number of seconds")
    confs = {}
    for algo in algos:
        if SEARCHERS.get(algo).budget_keys is None:
            raise ConfigError(
                f"{algo} has no time budget to set, so it cannot be compared at an equal budget; run it "
                f"with main.py --algos {algo} --benchmark {table} (its summary gives the found "
                f"architecture's table accuracy and rank)"
            )
        extra = [*budget_overrides(algo, budget), *overrides]
        confs[algo] = build_config(
            algo, ExperimentOptions(algos=[algo], benchmark=str(path), overrides=extra)
        )
    grid = np.linspace(0.0, budget, points + 1)[1:]
    _, oracle = data.oracle()
    report = Report(str(path), budget, list(seeds), oracle, grid, {}, {})
    for algo in algos:
        vals, tests, rows = [], [], []
        for seed in seeds:
            trace = run_trace(confs[algo], algo, data, seed, budget)
            v, t, last = incumbent_curves(trace, grid)
            vals.append(v)
            tests.append(t)
            key = trace["keys"][last] if last >= 0 else None
            rows.append(
                {
                    "seed": seed,
                    "val_top1": float(trace["val"][last]) if key else math.nan,
                    "test_top1": float(trace["test"][last]) if key else math.nan,
                    "rank": data.rank(key) if key else None,
                    "evaluations": len(trace["val"]),
                    "architecture": key,
                }
            )
        report.curves[algo] = {"val": np.array(vals), "test": np.array(tests)}
        report.runs[algo] = rows
    _summarise(report, len(data))
    write_report(report, Path(out))
    return report


def _compare_real(
    algos: Sequence[str],
    seeds: Sequence[int],
    budget: float | None,
    out: Path,
    overrides: Sequence[str],
    points: int,
    **real: Any,
) -> Report:
    runs, budgets, baselines = wall_clock_runs(algos, seeds, budget, out, overrides, **real)
    # the curves run to the longest search (a searcher with its own protocol may pass the budget)
    longest = max([*budgets.values(), *(r["search_seconds"] for rows in runs.values() for r in rows)])
    grid = np.linspace(0.0, longest, points + 1)[1:]
    report = Report("real runs", longest, list(seeds), None, grid, {}, {}, clock="wall")
    report.budgets, report.baselines = budgets, baselines
    for algo, rows in runs.items():
        curves = []
        for r in rows:
            pts = r.pop("points")
            trace = {"seconds": np.array([p[0] for p in pts]), "val": np.array([p[1] for p in pts])}
            curves.append(incumbent_curves(trace, grid)[0])
        report.curves[algo] = {"val": np.array(curves)}
        report.runs[algo] = rows
        pairs = [p for r in rows for p in r["pairs"]]
        report.proxy[algo] = rank_correlation(
            [p["search_val"] for p in pairs], [p["final_test"] for p in pairs]
        )
    _summarise(report)
    write_report(report, out)
    return report


def _summarise(report: Report, size: int | None = None) -> None:
    base = report.runs.get("random")
    for algo, rows in report.runs.items():
        test = np.array([r["test_top1"] for r in rows])
        mean, half = mean_ci(test)
        row = {
            "algo": algo,
            "seeds": len(rows),
            "test_mean": float(mean),
            "test_ci95": float(half),
            "val_mean": float(np.mean([r["val_top1"] for r in rows])),
            "evaluations_mean": float(np.mean([r["evaluations"] or 0 for r in rows])),
        }
        if size is not None:  # on a table
            row.update(
                regret_mean=float(report.oracle - mean),
                rank_median=float(np.median([r["rank"] if r["rank"] else size for r in rows])),
                table_size=size,
            )
        else:
            row.update(
                search_seconds_mean=float(np.mean([r["search_seconds"] for r in rows])),
                params_mean=float(np.mean([r["params"] or 0 for r in rows])),
            )
        if base is not None and algo != "random":
            row.update(paired_test(test, np.array([r["test_top1"] for r in base])))
        report.final[algo] = row
