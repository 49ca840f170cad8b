"""The report of :func:`archai.search.compare.compare`: what it holds (:class:`Report`) and the
files it writes (report.md, anytime.png, final.csv, runs.csv, curves.csv; for real runs also
proxy.csv and baselines.csv)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archai.search.stats import bands, mean_ci


@dataclass
class Report:
    """What :func:`~archai.search.compare.compare` found; the files it wrote are in ``files``."""

    #: the table's path, or ``"real runs"``
    table: str
    #: seconds of search per run (the largest of ``budgets`` for real runs)
    budget: float
    seeds: list[int]
    #: the table's best mean test accuracy (None for real runs)
    oracle: float | None
    grid: np.ndarray
    #: algo -> {"val": [seeds, grid], "test": [seeds, grid]} (NaN before a run's first result;
    #: real runs have no "test": the search never sees the test set)
    curves: dict[str, dict[str, np.ndarray]]
    #: algo -> one row per seed: seed, val_top1, test_top1, rank (tables), search_seconds (real
    #: runs), evaluations, architecture
    runs: dict[str, list[dict[str, Any]]]
    #: algo -> summary row (means, CI, paired test against random)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: "simulated" (a table) or "wall" (real runs)
    clock: str = "simulated"
    #: real runs: seed -> the time budget of the searchers that take one
    budgets: dict[int, float] = field(default_factory=dict)
    #: real runs: algo -> rank correlation between search-time validation and final test
    proxy: dict[str, dict[str, float]] = field(default_factory=dict)
    #: real runs: baseline name -> one row per seed (test_top1, params, seconds)
    baselines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def write_report(report: Report, out: Path) -> None:
    """Writes the report's files to ``out`` and lists them in ``report.files``."""
    out.mkdir(parents=True, exist_ok=True)
    real = report.clock == "wall"
    cols = ["algo", "seeds", "test_mean", "test_ci95", "val_mean"]
    cols += ["search_seconds_mean", "params_mean"] if real else ["regret_mean", "rank_median"]
    cols += ["evaluations_mean", "diff_mean", "p_ttest", "p_wilcoxon"]
    _csv(out / "final.csv", cols, [[row.get(k) for k in cols] for row in report.final.values()])
    run_cols = ["seed", "val_top1", "test_top1"]
    run_cols += ["search_seconds", "budget", "params"] if real else ["rank"]
    run_cols += ["evaluations", "architecture"]
    _csv(
        out / "runs.csv",
        ["algo", *run_cols],
        [[algo, *(r.get(k) for k in run_cols)] for algo, rows in report.runs.items() for r in rows],
    )
    curve_rows = []
    for algo, c in report.curves.items():
        cols_ = [report.grid, *bands(c["val"]), *(bands(c["test"]) if "test" in c else ())]
        curve_rows += [[algo, *(float(x) for x in row)] for row in zip(*cols_)]
    head = ["algo", "seconds", "val_mean", "val_ci95"] + ([] if real else ["test_mean", "test_ci95"])
    _csv(out / "curves.csv", head, curve_rows)
    report.files = [out / "final.csv", out / "runs.csv", out / "curves.csv"]
    if real:
        pairs = [
            [algo, r["seed"], p["candidate"], p["search_val"], p["final_test"]]
            for algo, rows in report.runs.items()
            for r in rows
            for p in r.get("pairs", [])
        ]
        _csv(out / "proxy.csv", ["algo", "seed", "candidate", "search_val", "final_test"], pairs)
        base = [
            [n, r["seed"], r["test_top1"], r["params"], r["seconds"]]
            for n, rows in report.baselines.items()
            for r in rows
        ]
        _csv(out / "baselines.csv", ["baseline", "seed", "test_top1", "params", "seconds"], base)
        report.files += [out / "proxy.csv", out / "baselines.csv"]
    report.files.append(_plot(report, out))
    (out / "report.md").write_text(_markdown(report))
    report.files.append(out / "report.md")


def _csv(path: Path, head: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows([_fmt(v) for v in row] for row in rows)


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return "" if v is None else v


def _plot(report: Report, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("val", "best validation so far")]
    if report.oracle is not None:
        panels.append(("test", "test of the incumbent"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), sharex=True, squeeze=False)
    clock = "simulated search seconds" if report.clock == "simulated" else "search seconds (wall clock)"
    for ax, (what, title) in zip(axes[0], panels):
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
        ax.set_xlabel(clock)
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    path = out / "anytime.png"
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def _span(seeds: list[int]) -> str:
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _pct(v: float, half: float | None = None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if half is None or math.isnan(half):
        return f"{100 * v:.2f}%"
    return f"{100 * v:.2f} +- {100 * half:.2f}%"


def _vs_random(r: dict[str, Any]) -> list[str]:
    if "diff_mean" not in r:
        return ["-", "-", "-"]
    return [f"{100 * r['diff_mean']:+.2f} pts", f"{r['p_ttest']:.3g}", f"{r['p_wilcoxon']:.3g}"]


def _markdown(report: Report) -> str:
    seeds = report.seeds
    if report.clock == "simulated":
        lines = [
            f"# Searchers on {Path(report.table).name}",
            "",
            f"{len(seeds)} seeds ({_span(seeds)}), a budget of {report.budget:g} simulated seconds "
            f"each; the table's best architecture (oracle) tests at {100 * report.oracle:.2f}%. Test "
            "accuracy is the table's mean over its seeds for the model each search ranks first on "
            "validation within the budget; p-values compare with random search on the same seeds.",
            "",
            "| searcher | test top-1 (mean +- 95% CI) | regret | median rank | trainings | vs random | p (t) | p (Wilcoxon) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for algo, r in report.final.items():
            lines.append(
                "| "
                + " | ".join(
                    [
                        algo,
                        _pct(r["test_mean"], r["test_ci95"]),
                        f"{100 * r['regret_mean']:.2f} pts",
                        f"{r['rank_median']:g} of {r['table_size']}",
                        f"{r['evaluations_mean']:.1f}",
                        *_vs_random(r),
                    ]
                )
                + " |"
            )
        lines += [
            "",
            "![anytime curves](anytime.png)",
            "",
            "Files: final.csv, runs.csv (per seed), curves.csv.",
            "",
        ]
        return "\n".join(lines)
    budgets = sorted(set(report.budgets.values()))
    told = f"{budgets[0]:g}" if len(budgets) == 1 else f"{budgets[0]:g}-{budgets[-1]:g}"
    lines = [
        "# Searchers, real runs",
        "",
        f"{len(seeds)} seeds ({_span(seeds)}). Searchers with a time budget got {told} wall-clock "
        "seconds of search per run; the others ran their own protocol (their search seconds are "
        "in the table). Each search picks its model on validation; the test figure is that "
        "model's final training, as it came out. p-values compare with random search on the "
        "same seeds. Baselines are trained with the same final protocol.",
        "",
        "| searcher | test top-1 (mean +- 95% CI) | val top-1 | search s | params | models tried | vs random | p (t) | p (Wilcoxon) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for algo, r in report.final.items():
        lines.append(
            "| "
            + " | ".join(
                [
                    algo,
                    _pct(r["test_mean"], r["test_ci95"]),
                    _pct(r["val_mean"]),
                    f"{r['search_seconds_mean']:.0f}",
                    f"{r['params_mean'] / 1000:.1f}k",
                    f"{r['evaluations_mean']:.1f}",
                    *_vs_random(r),
                ]
            )
            + " |"
        )
    for name, rows in report.baselines.items():  # hand-made networks, no search
        mean, half = mean_ci(np.array([r["test_top1"] for r in rows]))
        params = f"{rows[0]['params'] / 1000:.1f}k"
        lines.append(f"| {name} | {_pct(float(mean), float(half))} | - | - | {params} | - | - | - | - |")
    lines += [
        "",
        "How far the search's figures can be trusted: the rank correlation between the validation "
        "accuracy each search saw of a candidate and the test accuracy of its final training, "
        "over the candidates trained finally (pooled over seeds; the searcher's best few, so a "
        "narrow range).",
        "",
        "| searcher | pairs | Kendall tau | p | Spearman |",
        "|---|---|---|---|---|",
    ]
    for algo, p in report.proxy.items():
        lines.append(
            f"| {algo} | {p['n']} | {_num(p['kendall'])} | {_num(p['kendall_p'])} | {_num(p['spearman'])} |"
        )
    lines += [
        "",
        "![anytime curves](anytime.png)",
        "",
        "Files: final.csv, runs.csv (per seed), curves.csv, proxy.csv, baselines.csv; the runs are in runs/.",
        "",
    ]
    return "\n".join(lines)


def _num(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.3f}"
