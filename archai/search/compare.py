"""Comparing searchers fairly on a tabular benchmark: many seeds, one budget, one report.

Each searcher runs once per seed on the table (:mod:`archai.search.tabular`), unchanged, with
its time budget (``Searcher.budget_keys``) set to ``budget`` simulated seconds and its count
limit lifted, so every searcher gets the same training time. Only the trainings finished within
the budget count. From each run's sequence of answered trainings the report takes:

- the anytime curves: the best validation accuracy found so far, and the test accuracy of that
  incumbent (the table's mean over its seeds), against the simulated seconds; mean over the
  seeds and a 95% band (Student's t), drawn from the first moment every seed has a result;
- at the budget: the incumbent's test accuracy (mean +- 95% CI), its rank in the table, and a
  paired comparison with random search over the same seeds (t-test and Wilcoxon signed-rank);
- the oracle: the table's best mean test accuracy.

Selection is on validation only; test figures are reported as they come. The numbers depend on
nothing but the table, the searchers' settings and the seeds: the same command writes the same
files.

Example (two seeds of random search; a second):
    >>> import tempfile
    >>> report = compare(["random"], "nb201_mini", seeds=[0, 1], budget=60, out=tempfile.mkdtemp())
    >>> row = report.final["random"]
    >>> row["seeds"], 0 < row["test_mean"] <= report.oracle
    (2, True)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from archai.common.config import ConfigError
from archai.common.logger import RunLogger
from archai.search.experiment import ExperimentOptions, build_config
from archai.search.searcher import SEARCHERS, RunContext
from archai.search.table import BenchmarkTable
from archai.search.tabular import resolve_table, tabular_executor

#: the count limit of a compared searcher: high enough that the time budget decides
UNLIMITED = 1_000_000


@dataclass
class Report:
    """What :func:`compare` found; the files it wrote are listed in ``files``."""

    table: str
    budget: float
    seeds: list[int]
    oracle: float
    grid: np.ndarray
    #: algo -> {"val": [seeds, grid], "test": [seeds, grid]} (NaN before a run's first result)
    curves: dict[str, dict[str, np.ndarray]]
    #: algo -> one row per seed: seed, val_top1, test_top1, rank, evaluations
    runs: dict[str, list[dict[str, Any]]]
    #: algo -> summary row (means, CI, paired test against random)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


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


def incumbent_curves(trace: dict[str, Any], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Best-so-far validation accuracy and its model's test accuracy at each ``grid`` time (NaN
    before the first result), and the index of the final incumbent (-1: none). Ties keep the
    model found first."""
    val = trace["val"]
    if not len(val):
        nan = np.full(len(grid), np.nan)
        return nan, nan.copy(), -1
    best = np.zeros(len(val), dtype=int)
    for i in range(1, len(val)):
        best[i] = i if val[i] > val[best[i - 1]] else best[i - 1]
    n = np.searchsorted(trace["seconds"], grid, side="right")
    inc = np.where(n > 0, best[np.maximum(n - 1, 0)], -1)
    got = inc >= 0
    v = np.where(got, val[inc], np.nan)
    t = np.where(got, trace["test"][inc], np.nan)
    return v, t, int(best[-1])


def mean_ci(x: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the half-width of its 95% confidence interval (Student's t) along ``axis``."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis=axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    half = stats.t.ppf(0.975, n - 1) * x.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, half


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """``a`` against ``b`` over the same seeds: mean difference, paired t-test and Wilcoxon
    signed-rank p-values, two-sided (1.0 where the two never differ; seeds on which they tie
    are left out of the Wilcoxon test)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if len(d) < 2 or not np.any(d):
        return {"diff_mean": float(d.mean()) if len(d) else math.nan, "p_ttest": 1.0, "p_wilcoxon": 1.0}
    p_t = float(stats.ttest_rel(a, b).pvalue) if np.std(d) > 0 else 0.0
    # the normal approximation (with the tie correction): exact where n is large, deterministic always
    p_w = float(stats.wilcoxon(a, b, method="approx").pvalue)
    return {"diff_mean": float(d.mean()), "p_ttest": p_t, "p_wilcoxon": p_w}


def compare(
    algos: Sequence[str],
    table: str,
    seeds: Sequence[int],
    budget: float | None = None,
    out: str | Path = "runs/compare",
    overrides: Sequence[str] = (),
    points: int = 200,
) -> Report:
    """Runs each of ``algos`` once per seed on ``table`` (a path or a shipped table's name) with
    ``budget`` simulated seconds (default :func:`default_budget`) and writes the report to
    ``out``; see the module docstring. ``overrides`` (``--a.b.c VALUE``) apply to every run."""
    path = resolve_table(table)
    data = BenchmarkTable.load(path)
    budget = float(default_budget(data) if budget is None else budget)
    if budget <= 0:
        raise ConfigError(f"--budget {budget}: give a positive number of seconds")
    confs = {}
    for algo in algos:
        cls = SEARCHERS.get(algo)
        if cls.budget_keys is None:
            raise ConfigError(
                f"{algo} has no time budget to set, so it cannot be compared at an equal budget; run it "
                f"with main.py --algos {algo} --benchmark {table} (its summary gives the found "
                f"architecture's table accuracy and rank)"
            )
        seconds, count = cls.budget_keys
        confs[algo] = build_config(
            algo,
            ExperimentOptions(
                algos=[algo],
                benchmark=str(path),
                overrides=[
                    f"--algos.{algo}.{seconds}",
                    str(budget),
                    f"--algos.{algo}.{count}",
                    str(UNLIMITED),
                    *overrides,
                ],
            ),
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
    _write(report, Path(out))
    return report


def _summarise(report: Report, size: int) -> None:
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
            "regret_mean": float(report.oracle - mean),
            "rank_median": float(np.median([r["rank"] if r["rank"] else size for r in rows])),
            "evaluations_mean": float(np.mean([r["evaluations"] for r in rows])),
            "table_size": size,
        }
        if base is not None and algo != "random":
            row.update(paired_test(test, np.array([r["test_top1"] for r in base])))
        report.final[algo] = row


def _write(report: Report, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cols = ["algo", "seeds", "test_mean", "test_ci95", "val_mean", "regret_mean", "rank_median"]
    cols += ["evaluations_mean", "diff_mean", "p_ttest", "p_wilcoxon"]
    with open(out / "final.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows([{k: _fmt(row.get(k)) for k in cols} for row in report.final.values()])
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["algo", "seed", "val_top1", "test_top1", "rank", "evaluations", "architecture"])
        for algo, rows in report.runs.items():
            for r in rows:
                w.writerow(
                    [
                        algo,
                        r["seed"],
                        _fmt(r["val_top1"]),
                        _fmt(r["test_top1"]),
                        r["rank"],
                        r["evaluations"],
                        r["architecture"],
                    ]
                )
    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["algo", "seconds", "val_mean", "val_ci95", "test_mean", "test_ci95"])
        for algo, c in report.curves.items():
            cols = [report.grid, *bands(c["val"]), *bands(c["test"])]
            w.writerows([algo, *(_fmt(float(x)) for x in row)] for row in zip(*cols))
    report.files = [out / "final.csv", out / "runs.csv", out / "curves.csv", _plot(report, out)]
    (out / "report.md").write_text(_markdown(report))
    report.files.append(out / "report.md")


def bands(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95% half-width over the seeds (rows) at each time (column); NaN until every
    seed has a result, so that a mean of best-so-far curves never decreases."""
    mean, half = mean_ci(curves)
    missing = np.isnan(curves).any(axis=0)
    return np.where(missing, np.nan, mean), np.where(missing, np.nan, half)


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return "" if v is None else v


def _plot(report: Report, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for ax, what, title in zip(axes, ("val", "test"), ("best validation so far", "test of the incumbent")):
        for algo, c in report.curves.items():
            mean, half = bands(c[what])
            (line,) = ax.plot(report.grid, 100 * mean, label=algo)
            ax.fill_between(
                report.grid,
                100 * (mean - half),
                100 * (mean + half),
                color=line.get_color(),
                alpha=0.2,
                linewidth=0,
            )
        if what == "test":
            ax.axhline(
                100 * report.oracle, color="k", linestyle="--", linewidth=1, label="oracle (table best)"
            )
        ax.set_title(f"{title} (mean, 95% band over {len(report.seeds)} seeds)", fontsize=9)
        ax.set_xlabel("simulated search seconds")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path = out / "anytime.png"
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def _markdown(report: Report) -> str:
    seeds = report.seeds
    span = (
        f"{seeds[0]}-{seeds[-1]}"
        if seeds == list(range(seeds[0], seeds[-1] + 1))
        else ",".join(map(str, seeds))
    )
    lines = [
        f"# Searchers on {Path(report.table).name}",
        "",
        f"{len(seeds)} seeds ({span}), a budget of {report.budget:g} simulated seconds each; the "
        f"table's best architecture (oracle) tests at {100 * report.oracle:.2f}%. Test accuracy is "
        "the table's mean over its seeds for the model each search ranks first on validation "
        "within the budget; p-values compare with random search on the same seeds.",
        "",
        "| searcher | test top-1 (mean +- 95% CI) | regret | median rank | trainings | vs random | p (t) | p (Wilcoxon) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for algo, r in report.final.items():
        vs = f"{100 * r['diff_mean']:+.2f} pts" if "diff_mean" in r else "-"
        pt = f"{r['p_ttest']:.3g}" if "p_ttest" in r else "-"
        pw = f"{r['p_wilcoxon']:.3g}" if "p_wilcoxon" in r else "-"
        lines.append(
            f"| {algo} | {100 * r['test_mean']:.2f} +- {100 * r['test_ci95']:.2f}% | "
            f"{100 * r['regret_mean']:.2f} pts | {r['rank_median']:g} of {r['table_size']} | "
            f"{r['evaluations_mean']:.1f} | {vs} | {pt} | {pw} |"
        )
    lines += [
        "",
        "![anytime curves](anytime.png)",
        "",
        "Files: final.csv, runs.csv (per seed), curves.csv.",
        "",
    ]
    return "\n".join(lines)
