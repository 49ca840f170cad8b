"""compare.py without a table: real runs per seed, hand-made baselines, and the proxy's trust."""

import csv
import json

import numpy as np
import pytest
from toy_runs import TINY_SETTINGS, flags

from archai.cli import compare_main
from archai.common.config import ConfigError
from archai.search.baselines import BASELINES
from archai.search.compare import compare
from archai.search.compare_runs import search_points
from archai.search.stats import rank_correlation


def _event(t, kind, scope="search", data=None, **fields):
    return json.dumps(
        {"time": t, "scope": scope, "kind": kind, "fields": fields, **({"data": data} if data else {})}
    )


def test_search_points_count_each_session_of_a_resumed_search_without_the_pause(tmp_path):
    events = tmp_path / "events.jsonl"
    lines = [
        _event(90.0, "info", scope=""),
        _event(100.0, "begin"),
        _event(105.0, "candidate", data={"val_top1": 0.5}, id="a"),
        _event(110.0, "candidate", scope="search/round_1", data={"val_top1": 0.6}, id="b"),
        _event(111.0, "candidate", data={"val_top1": float("nan"), "failed": True}, id="c"),
        '{"time": 112.0, "scope": "sea',  # killed while writing
        _event(500.0, "begin"),  # resumed 389 s later
        _event(501.0, "candidate", data={"val_top1": 0.6}, id="b", replayed=True),
        _event(504.0, "candidate", data={"val_top1": 0.7}, id="d"),
        _event(506.0, "end"),
        _event(600.0, "eval_result", scope="eval", data={"val_top1": 0.9}),
        _event(601.0, "candidate", scope="eval", data={"val_top1": 0.9}, id="e"),
    ]
    events.write_text("\n".join(lines) + "\n")
    assert search_points(events) == [(5.0, 0.5), (10.0, 0.6), (15.0, 0.7)]


def test_rank_correlation_is_nan_where_it_means_nothing():
    assert rank_correlation([1, 2, 3], [3, 2, 1])["kendall"] == pytest.approx(-1.0)
    assert np.isnan(rank_correlation([1, 2], [1, 2])["kendall"])
    assert np.isnan(rank_correlation([1, 1, 1], [1, 2, 3])["spearman"])


REAL = {
    **{k: v for k, v in TINY_SETTINGS.items() if k != "eval.final_descs"},
    "algos.local.max_models": 3,
    "algos.local.n_init": 1,
    "algos.local.neighbours": 2,
}


def test_real_runs_report_baselines_proxy_pairs_and_curves_and_are_reused(tmp_path):
    kw = dict(seeds=[0, 1], budget=1000.0, overrides=flags(REAL), final_descs=2, say=lambda _: None)
    report = compare(["random", "local"], None, out=tmp_path / "r", **kw)
    assert report.clock == "wall" and report.oracle is None and report.budgets == {0: 1000.0, 1: 1000.0}
    for algo in ("random", "local"):
        for run in report.runs[algo]:
            run_dir = tmp_path / "r" / "runs" / f"{algo}_seed{run['seed']}" / algo
            summary = json.loads((run_dir / "summary.json").read_text())
            saw = {
                c["id"]: c["metrics"]["val_top1"]
                for c in json.loads((run_dir / "search_result.json").read_text())["candidates"]
            }
            # the two chosen candidates trained finally: the first is the run's result
            assert [p["candidate"] for p in run["pairs"]] == [e["candidate"] for e in summary["eval"]]
            assert len(run["pairs"]) == 2 and run["pairs"][0]["final_test"] == run["test_top1"]
            assert all(p["search_val"] == saw[p["candidate"]] for p in run["pairs"])
            assert run["evaluations"] == 3 and run["budget"] == 1000.0
        assert report.proxy[algo]["n"] == 4
        curves = report.curves[algo]["val"]
        assert set(report.curves[algo]) == {"val"}  # a real search never sees the test set
        for curve, run in zip(curves, report.runs[algo]):
            seen = curve[~np.isnan(curve)]
            assert len(seen) and np.all(np.diff(seen) >= 0) and seen[-1] >= run["val_top1"]
    assert 0 <= report.final["local"]["p_ttest"] <= 1 and "p_ttest" not in report.final["random"]
    assert set(report.baselines) == set(BASELINES)
    assert all(len(rows) == 2 and 0 < rows[0]["test_top1"] <= 1 for rows in report.baselines.values())
    text = (tmp_path / "r" / "report.md").read_text()
    assert "logistic regression" in text and "Kendall tau" in text and "Searchers, real runs" in text
    with open(tmp_path / "r" / "proxy.csv") as f:
        assert len(list(csv.DictReader(f))) == 8

    # a second call reuses every finished run and baseline: the same files, nothing retrained
    summary = tmp_path / "r" / "runs" / "random_seed0" / "random" / "summary.json"
    stamp = summary.stat().st_mtime_ns
    before = {
        n: (tmp_path / "r" / n).read_text() for n in ("final.csv", "runs.csv", "proxy.csv", "baselines.csv")
    }
    compare(["random", "local"], None, out=tmp_path / "r", **kw)
    assert summary.stat().st_mtime_ns == stamp
    assert before == {n: (tmp_path / "r" / n).read_text() for n in before}


def test_real_runs_need_a_budget_or_a_searcher_that_sets_one(tmp_path, capsys):
    with pytest.raises(ConfigError, match="--budget SECONDS"):
        compare(["random", "local"], None, seeds=[0], out=tmp_path, say=lambda _: None)
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ConfigError, match="unknown config key"):  # checked before any run
        compare(
            ["random"], None, seeds=[0], budget=5, out=tmp_path, overrides=["--algos.random.n_sample", "2"]
        )
    assert compare_main(["--algos", "random", "--benchmark", "nb201_mini", "--final-descs", "2"]) == 2
    assert "--final-descs is a setting of real runs" in capsys.readouterr().err
