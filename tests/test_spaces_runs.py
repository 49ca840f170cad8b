"""Every searcher takes its space: runs on nb201 and a user-written space, refusals, local search."""

import json
import random
import re
from types import SimpleNamespace

from toy_runs import ROOT, SMALL, cli, flags

from archai.algos import LocalSearcher
from archai.search import Candidate
from archai.space import make_space, parse_genotype
from archai.space.spaces.nb201 import parse_arch


def _candidate_metrics(run_dir):
    return [c["metrics"] for c in json.loads((run_dir / "search_result.json").read_text())["candidates"]]


def test_the_documented_space_runs_with_random_and_local_search(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "spaces.md").read_text()
    code = re.search(r"## Write your own.*?```python\n(.*?)```", text, re.S).group(1)
    assert len(code.splitlines()) <= 40
    (tmp_path / "depth_width_doc.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    exp = tmp_path / "exp"
    settings = {**SMALL, "algos.random.n_samples": 2, "algos.local.max_models": 3, "algos.local.n_init": 1}
    args = ["--algos", "random,local", "--space", "depth_width", "--plugins", "depth_width_doc"]
    assert cli.main([*args, "--exp-dir", str(exp), *flags(settings), "--algos.local.neighbours", "2"]) == 0
    for algo in ("random", "local"):
        summary = json.loads((exp / algo / "summary.json").read_text())
        assert summary["space"] == "depth_width" and summary["test_top1"] is not None
        metrics = _candidate_metrics(exp / algo)
        assert len(metrics) == (2 if algo == "random" else 3)
        assert not any(k.startswith("test") for m in metrics for k in m)  # the search never tests
    assert "depth_width" in (exp / "local" / "config.yaml").read_text()


def test_nb201_is_searched_by_darts_enas_and_local_search(tmp_path):
    exp = tmp_path / "exp"
    settings = {**SMALL, "algos.local.max_models": 3, "algos.local.n_init": 1, "algos.local.neighbours": 2}
    settings.update({"algos.enas.derive_samples": 3, "algos.enas.controller.steps_per_epoch": 1})
    algos = ["--algos", "darts,enas,local", "--space", "nb201"]
    assert cli.main([*algos, "--exp-dir", str(exp), *flags(settings)]) == 0
    for algo in ("darts", "enas", "local"):
        summary = json.loads((exp / algo / "summary.json").read_text())
        cell = parse_arch(summary["architecture"])  # an NAS-Bench-201 arch string
        assert len([e for n in cell.nodes for e in n.edges]) == 6 and summary["space"] == "nb201"
        assert not any(k.startswith("test") for m in _candidate_metrics(exp / algo) for k in m)
    config = (exp / "darts" / "config.yaml").read_text()
    assert "nb201:" in config and "chain:" not in config and "darts:\n    primitives" not in config


def test_the_default_space_is_darts_and_its_summary_names_the_genotype(tmp_path):
    exp = tmp_path / "exp"
    assert (
        cli.main(["--algos", "random", "--exp-dir", str(exp), *flags({**SMALL, "algos.random.n_samples": 1})])
        == 0
    )
    summary = json.loads((exp / "random" / "summary.json").read_text())
    assert summary["space"] == "darts" and parse_genotype(summary["architecture"]).normal


def test_a_space_without_what_the_searcher_needs_is_refused_in_one_line(tmp_path, capsys):
    cases = [
        (
            ["--algos", "darts", "--space", "chain"],
            "darts needs a space with one_shot; the chain space has no one_shot",
        ),
        (
            ["--algos", "enas", "--space", "chain"],
            "enas needs a space with one_shot and decisions; the chain space has neither",
        ),
        (
            ["--algos", "petridish", "--space", "nb201"],
            "petridish searches the darts and chain spaces only; pass --space darts",
        ),
        (["--algos", "random", "--space", "nb210"], "did you mean 'nb201'"),
        (
            ["--algos", "random", "--algos.random.primitives", "[skip_connect]"],
            "set 'space.darts.primitives'",
        ),
        (
            ["--algos", "random", "--space", "nb201", "--space.nb201.cells_per_stage", "0"],
            "space.nb201.cells_per_stage: 0 is not allowed",
        ),
    ]
    for args, message in cases:
        assert cli.main([*args, "--exp-dir", str(tmp_path / "exp")]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "exp").exists()


def _fake_ctx(space, score, **conf):
    trained = []

    def train_candidates(items):
        out = []
        for cid, desc in items:
            trained.append(desc)
            out.append(Candidate(cid, desc, {"val_top1": score(desc)}))
        return out

    return SimpleNamespace(
        space=space,
        seed=0,
        algo_conf=SimpleNamespace(**{"max_seconds": 0.0, **conf}),
        logger=SimpleNamespace(info=lambda *a, **k: None),
        require_held_out=lambda purpose: None,
        now=lambda: 0.0,  # no time budget
        train_candidates=train_candidates,
        trained=trained,
    )


def test_local_search_climbs_to_the_best_neighbour_and_trains_each_architecture_once():
    space = make_space("nb201", cells_per_stage=1)

    def convs(desc):  # a landscape whose one optimum is all six edges nor_conv_3x3
        return space.ops_of(desc).count("nor_conv_3x3") / 6

    ctx = _fake_ctx(space, convs, max_models=200, n_init=1, neighbours=0)
    result = LocalSearcher(ctx).search()
    best = result.get(result.final[0])
    assert convs(best.desc) == 1.0
    digests = [space.digest(d) for d in ctx.trained]
    assert len(digests) == len(set(digests)) == len(result.candidates) <= 200


def test_local_search_stops_when_restarts_find_nothing_new():
    space = make_space(
        "chain", layers_per_stage=1, stages=1, primitives=["nor_conv_3x3", "max_pool_3x3", "avg_pool_3x3"]
    )
    ctx = _fake_ctx(
        space, lambda d: random.Random(space.digest(d)).random(), max_models=5, n_init=1, neighbours=0
    )
    result = LocalSearcher(ctx).search()
    assert len(result.candidates) == 3 == space.size  # the whole space, each once, then it stops
