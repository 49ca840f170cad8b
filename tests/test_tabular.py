"""Searching on a tabular benchmark: the table's settings become the run's, trainings are looked
up on a simulated clock, the final figure is the table's, and compare.py's report is fair and
repeatable."""

import csv
import json
import pathlib
import random
import re

import numpy as np
import pytest
from toy_runs import SMALL, cli, flags

from archai.common.config import ConfigError
from archai.common.logger import RunLogger
from archai.search.benchmark import build_settings, distinct_architectures
from archai.search.compare import compare, incumbent_curves, parse_seeds
from archai.search.experiment import ExperimentOptions, build_config
from archai.search.searcher import SEARCHERS, RunContext
from archai.search.table import BenchmarkTable, TableError, UnknownArchitectureError
from archai.search.tabular import TabularExecutor, resolve_table, table_layer, tabular_executor

PRIMITIVES = "[none, skip_connect, nor_conv_1x1]"
#: the protocol of the synthetic tables: three epochs of a small search on a few hundred images
PROTOCOL = {
    **SMALL,
    "space.name": "nb201",
    "space.nb201.primitives": PRIMITIVES,
    "space.nb201.cells_per_stage": 1,
    "search.trainer.epochs": 3,
    "search.loader.val_fraction": 0.25,
}


def synthetic_table(path, drop=0, seeds=2):
    """A table of the PROTOCOL's space with made-up figures (no training): validation rising
    over epochs, test near the last validation, 1-3 s per epoch; ``drop`` architectures left out."""
    conf = build_config(None, ExperimentOptions(algos=[], overrides=flags(PROTOCOL)))
    ctx = RunContext(conf, "table", pathlib.Path("unwritten"), RunLogger(None, console=False))
    space = ctx.space
    archs = distinct_architectures(space)
    settings = build_settings(conf, space, seeds, 0)
    table = BenchmarkTable.empty(space, epochs=3, seeds=seeds, settings=settings)
    rng = np.random.default_rng(7)
    for key, _ in archs[drop:]:
        final = rng.uniform(0.3, 0.9)
        val = np.clip(final + rng.normal(0, 0.02, (seeds, 1)) - [0.2, 0.1, 0.0], 0, 1)
        seconds = np.cumsum(rng.uniform(1, 3, (seeds, 3)), axis=1)
        table.add(key, val, np.clip(val[:, -1] + rng.normal(0, 0.02, seeds), 0, 1), seconds, 1000, 1e5)
    return table.save(path), table, [d for _, d in archs[:drop]]


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    path, _, _ = synthetic_table(tmp_path_factory.mktemp("table") / "synthetic.npz")
    return path


def run_context(algo, table_file, *overrides):
    opts = ExperimentOptions(algos=[algo], benchmark=str(table_file), overrides=list(overrides))
    conf = build_config(algo, opts)
    ctx = RunContext(conf, algo, pathlib.Path("unwritten"), RunLogger(None, console=False))
    ctx.executor = tabular_executor(conf, ctx.space)
    return ctx


def test_a_table_brings_its_space_dataset_and_protocol_and_later_layers_still_win(table_file):
    conf = build_config("random", ExperimentOptions(algos=["random"], benchmark=str(table_file)))
    assert str(conf.space.name) == "nb201"
    assert list(conf.space.nb201.primitives) == ["none", "skip_connect", "nor_conv_1x1"]
    assert int(conf.search.trainer.epochs) == 3 and int(conf.search.loader.train_limit) == 256
    assert str(conf.dataset.name) == "fashion_mnist_mini" and int(conf.space.nb201.cells_per_stage) == 1
    lower = build_config(
        "random",
        ExperimentOptions(
            algos=["random"], benchmark=str(table_file), overrides=["--search.trainer.epochs", "2"]
        ),
    )
    assert int(lower.search.trainer.epochs) == 2  # a lower-fidelity lookup
    assert table_layer(table_file)["benchmark"]["table"] == str(table_file)
    with pytest.raises(ConfigError, match="built on fashion_mnist_mini"):
        build_config(
            "random", ExperimentOptions(algos=["random"], benchmark=str(table_file), dataset="mnist")
        )


def test_a_shipped_table_is_found_by_name_and_an_unknown_name_lists_them():
    assert resolve_table("nb201_mini").name == "nb201_mini.npz"
    with pytest.raises(TableError, match="shipped: .*nb201_mini"):
        resolve_table("no_such_table")


def test_trainings_are_looked_up_and_charged_once_per_job_on_the_simulated_clock(table_file):
    ctx = run_context("random", table_file)
    table, space = ctx.executor.table, ctx.space
    rng = random.Random(0)
    descs = [space.sample(rng) for _ in range(5)]
    values = [ctx.submit_training(f"m{i}", d).result().value for i, d in enumerate(descs)]
    seed = 2 % table.n_seeds  # common.seed 2, benchmark.seed -1
    expected = [table.lookup(space.digest(d), epoch=3, seed=seed) for d in descs]
    assert [v["val_top1"] for v in values] == [e["val_top1"] for e in expected]
    assert ctx.now() == pytest.approx(sum(e["train_seconds"] for e in expected))
    assert [v["finished_at_seconds"] for v in values] == pytest.approx(
        np.cumsum([e["train_seconds"] for e in expected])
    )
    assert not any(k.startswith("test") for v in values for k in v)  # the search never sees a test figure
    before = ctx.now()
    again = ctx.submit_training("m0", descs[0]).result().value  # the same job folder: reused, free
    assert again == values[0] and ctx.now() == before
    half = ctx.executor.submit_training(ctx.train_job("low", descs[1], trainer={"epochs": 1}), "low").result()
    assert half.value["val_top1"] == table.lookup(space.digest(descs[1]), epoch=1, seed=seed)["val_top1"]


def test_an_architecture_outside_the_table_names_itself(tmp_path):
    path, _, missing = synthetic_table(tmp_path / "partial.npz", drop=1)
    ctx = run_context("random", path)
    label = ctx.space.label(missing[0])
    with pytest.raises(UnknownArchitectureError, match=re.escape(label)):
        ctx.submit_training("gone", missing[0])


def test_more_epochs_than_the_table_holds_and_warm_starts_are_refused(table_file):
    ctx = run_context("random", table_file, "--search.trainer.epochs", "5")
    desc = ctx.space.sample(random.Random(1))
    with pytest.raises(TableError, match="at most 3"):
        ctx.submit_training("long", desc)
    warm = ctx.train_job("warm", desc, init_weights="parent.pt", trainer={"epochs": 1})
    with pytest.raises(TableError, match="trained weights"):
        ctx.executor.submit_training(warm, "warm")
    with pytest.raises(ConfigError, match="petridish cannot run on a benchmark table"):
        build_config("petridish", ExperimentOptions(algos=["petridish"], benchmark=str(table_file)))


@pytest.mark.parametrize("algo", ["random", "evolution", "local"])
def test_a_time_budget_is_read_on_the_simulated_clock(table_file, algo):
    seconds, count = SEARCHERS.get(algo).budget_keys
    one_at_a_time = {  # the budget is checked between batches: batches of one
        "random": ["--algos.random.jobs_per_round", "1"],
        "evolution": ["--algos.evolution.parallel", "1"],
        "local": ["--algos.local.n_init", "1", "--algos.local.neighbours", "1"],
    }[algo]
    budget = [f"--algos.{algo}.{seconds}", "20", f"--algos.{algo}.{count}", "1000"]
    ctx = run_context(algo, table_file, *budget, *one_at_a_time)
    result = SEARCHERS.get(algo)(ctx).search()
    ends = [c.metrics["finished_at_seconds"] for c in result.candidates]
    assert ends == sorted(ends) and ends[-1] > 20  # stopped once the budget was spent...
    trained = sorted(set(ends))
    assert len(trained) >= 2 and trained[-2] <= 20  # ...and not before


def test_a_run_on_a_table_reports_the_tables_test_figure_rank_and_simulated_time(table_file, tmp_path):
    exp = tmp_path / "exp"
    args = ["--algos", "random", "--benchmark", str(table_file), "--exp-dir", str(exp)]
    assert cli.main([*args, "--algos.random.n_samples", "6", "--common.quiet", "true"]) == 0
    summary = json.loads((exp / "random" / "summary.json").read_text())
    table = BenchmarkTable.load(table_file)
    result = json.loads((exp / "random" / "search_result.json").read_text())
    found = {c["id"]: c for c in result["candidates"]}[summary["final_candidate"]]
    key = _digest_of(exp / "random" / found["desc"], table_file)
    assert summary["test_top1"] == pytest.approx(float(table.mean_test()[table.index[key]]))
    assert summary["table_rank"] == table.rank(key) and summary["table_size"] == len(table)
    assert summary["oracle_test_top1"] == pytest.approx(table.oracle()[1])
    assert summary["search_clock"] == "simulated" and summary["evaluated_by"] == f"table {table_file}"
    assert summary["search_seconds"] == pytest.approx(
        sum(c["metrics"]["train_seconds"] for c in result["candidates"])
    )
    assert not (exp / "random" / "jobs").exists()  # nothing was trained


def _digest_of(desc_file, table_file):
    from archai.space.model_desc import ModelDesc

    ctx = run_context("random", table_file)
    return ctx.space.digest(ModelDesc.load(desc_file))


def test_incumbent_curves_follow_the_best_validation_found_so_far():
    trace = {
        "seconds": np.array([1.0, 2.0, 3.0, 4.0]),
        "val": np.array([0.5, 0.7, 0.6, 0.7]),
        "test": np.array([0.4, 0.65, 0.9, 0.1]),
    }
    val, test, last = incumbent_curves(trace, np.array([0.5, 1.0, 2.5, 3.5, 10.0]))
    assert np.isnan(val[0]) and list(val[1:]) == [0.5, 0.7, 0.7, 0.7]
    assert list(test[1:]) == [0.4, 0.65, 0.65, 0.65] and last == 1  # a tie keeps the first found
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    with pytest.raises(ConfigError, match="0-99"):
        parse_seeds("a-b")


def test_compare_writes_the_same_report_twice_with_monotone_curves_and_the_tables_oracle(
    table_file, tmp_path
):
    kw = dict(seeds=range(6), budget=40)
    first = compare(["random", "evolution", "local"], str(table_file), out=tmp_path / "a", **kw)
    compare(["random", "evolution", "local"], str(table_file), out=tmp_path / "b", **kw)
    for name in ("final.csv", "runs.csv", "curves.csv", "report.md"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text(), name
    assert (tmp_path / "a" / "anytime.png").stat().st_size > 0
    table = BenchmarkTable.load(table_file)
    assert first.oracle == pytest.approx(float(np.nanmax(table.mean_test())))
    with open(tmp_path / "a" / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    for algo in ("random", "evolution", "local"):
        val = [float(r["val_mean"]) for r in rows if r["algo"] == algo and r["val_mean"]]
        assert val and all(b >= a for a, b in zip(val, val[1:]))
    for algo, row in first.final.items():
        assert row["test_mean"] <= first.oracle and row["seeds"] == 6
        runs = first.runs[algo]
        assert all(r["rank"] == table.rank(r["architecture"]) for r in runs)
        if algo != "random":
            assert 0 <= row["p_ttest"] <= 1 and 0 <= row["p_wilcoxon"] <= 1
    with pytest.raises(ConfigError, match="no time budget"):
        compare(["darts"], str(table_file), seeds=[0], budget=10, out=tmp_path / "c")


def test_a_table_of_another_space_is_refused(table_file):
    conf = build_config("random", ExperimentOptions(algos=["random"], benchmark=str(table_file)))
    other = build_config(
        "random",
        ExperimentOptions(
            algos=["random"],
            benchmark=str(table_file),
            overrides=["--space.nb201.primitives", "[none, nor_conv_3x3]"],
        ),
    )
    ctx = RunContext(other, "random", pathlib.Path("unwritten"), RunLogger(None, console=False))
    with pytest.raises(TableError, match="other options or shape"):
        TabularExecutor(BenchmarkTable.load(table_file), ctx.space)
    assert conf.benchmark.table == str(table_file)
