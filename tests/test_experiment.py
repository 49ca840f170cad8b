"""End-to-end toy runs through scripts/main.py: run folders, summaries, errors, kill and resume."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from toy_runs import ROOT, SMALL, cli, flags, kill_point

from archai.common.logger import read_events
from archai.space.model_desc import ModelDesc

# the toy protocol, made smaller still so the suite stays fast
SMALL = flags(
    {
        **SMALL,
        "algos.enas.derive_samples": 3,
        "algos.enas.controller.steps_per_epoch": 2,
        "algos.random.n_samples": 3,
    }
)


def test_darts_random_enas_end_to_end(tmp_path, capsys):
    exp = tmp_path / "exp"
    assert cli.main(["--algos", "darts,random,enas", "--exp-dir", str(exp), *SMALL]) == 0
    table = capsys.readouterr().out
    assert "darts" in table and "random" in table and "enas" in table and "test_top1" in table
    summary = json.loads((exp / "summary.json").read_text())
    assert [s["algo"] for s in summary] == ["darts", "random", "enas"]
    for s in summary:
        for key in (
            "algo",
            "final_desc",
            "val_top1",
            "test_top1",
            "params",
            "macs",
            "search_seconds",
            "eval_seconds",
        ):
            assert s[key] is not None, key
        assert 0.0 <= s["test_top1"] <= 1.0
        run = exp / s["algo"]
        for name in (
            "config.yaml",
            "events.jsonl",
            "console.log",
            "final_desc.yaml",
            "summary.json",
            "search_result.json",
        ):
            assert (run / name).is_file(), name
        assert any((run / "tb").iterdir())
        ModelDesc.load(run / "final_desc.yaml")
        results = json.loads((run / "search_result.json").read_text())
        logged = {e["fields"]["id"] for e in read_events(run) if e["kind"] == "candidate"}
        assert logged == {c["id"] for c in results["candidates"]}  # every candidate is in the event log
        # the search never saw the test split: only the final training measured it
        seen = {k for c in results["candidates"] for k in c["metrics"]}
        seen |= {k for e in read_events(run) if e["kind"] == "candidate" for k in e.get("data", {})}
        assert "val_top1" in seen and not [k for k in seen if k.startswith("test")], seen
    darts = exp / "darts"
    assert (darts / "search" / "supernet.pt").is_file() and (darts / "alphas.png").is_file()
    assert summary[0]["genotype"].startswith("Genotype(")
    assert any(e["kind"] == "alphas" for e in read_events(darts))
    assert len(json.loads((exp / "random" / "search_result.json").read_text())["candidates"]) == 3
    rows = list(csv.DictReader(open(exp / "pareto.csv")))  # the combined front of every model evaluated
    assert {r["algo"] for r in rows} == {"darts", "random", "enas"} and len(rows) == 7
    enas = exp / "enas"
    assert any(e["kind"] == "controller" and e["fields"]["most_likely"] for e in read_events(enas))
    assert (enas / "search" / "child.pt").is_file()
    assert any(r["on_front"] == "true" for r in rows) and (exp / "pareto.png").is_file()
    assert all(Path(r["desc_path"]).is_file() for r in rows)
    saved = yaml.safe_load((darts / "config.yaml").read_text())
    assert saved["search"]["trainer"]["epochs"] == 1 and saved["algos"]["darts"]["order"] == 1

    # the same command again would overwrite: refused, nothing lost
    before = (darts / "summary.json").read_text()
    assert cli.main(["--algos", "darts", "--exp-dir", str(exp), *SMALL]) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    # resuming with other settings: refused, naming what differs
    assert (
        cli.main(
            ["--algos", "darts", "--exp-dir", str(exp), "--resume", *SMALL, "--search.trainer.epochs", "2"]
        )
        == 2
    )
    assert "search.trainer.epochs: 1 -> 2" in capsys.readouterr().err
    # resuming a finished run reuses it
    assert cli.main(["--algos", "darts", "--exp-dir", str(exp), "--resume", *SMALL]) == 0
    assert (darts / "summary.json").read_text() == before
    assert {r["algo"] for r in csv.DictReader(open(exp / "pareto.csv"))} == {"darts", "random", "enas"}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--algos", "darts", "--search.trainer.epoch", "3"], "did you mean 'search.trainer.epochs'"),
        (["--algos", "dart"], "unknown searcher 'dart'; did you mean 'darts'"),
        (["--algos", "darts", "--algos.darts.order", "two"], "algos.darts.order"),
        (
            ["--algos", "darts", "--dataset", "cifar10", "--dataroot", "/nonexistent"],
            "cifar10: files not found under /nonexistent",
        ),
        (["--algos", "darts", "--dataset", "cifar11"], "'cifar11' is not allowed; did you mean 'cifar10'?"),
    ],
)
def test_bad_input_is_a_clear_error_and_makes_no_run_folder(tmp_path, capsys, args, message):
    assert cli.main([*args, "--exp-dir", str(tmp_path / "e")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def _run(exp, extra=(), kill_after=None):
    # one thread each: the reference and the victim run side by side on two cores
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "main.py"),
        "--algos",
        "darts",
        "--exp-dir",
        str(exp),
        *SMALL,
        "--search.trainer.epochs",
        "3",
        "--common.num_threads",
        "1",
        *extra,
    ]
    env, plugin = kill_point(kill_after) if kill_after else (dict(os.environ), [])
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(
        [*cmd, *plugin], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def test_kill_and_resume_gives_the_uninterrupted_result(tmp_path):
    ref = _run(tmp_path / "ref")
    # SIGKILL the moment the supernet's first checkpoint is written: mid-search, epoch 1 of 3
    victim = _run(tmp_path / "killed", kill_after="killed/darts/search/supernet.pt")
    _, err = victim.communicate(timeout=400)
    assert victim.returncode == -signal.SIGKILL, err[-2000:]
    assert (tmp_path / "killed" / "darts" / "search" / "supernet.pt").exists()
    assert not (tmp_path / "killed" / "darts" / "search_result.json").exists()
    resumed = _run(tmp_path / "killed", ["--resume"])
    out_r, err_r = resumed.communicate(timeout=400)
    out_ref, err_ref = ref.communicate(timeout=400)
    assert resumed.returncode == 0, err_r[-2000:]
    assert ref.returncode == 0, err_ref[-2000:]
    a = json.loads((tmp_path / "ref" / "darts" / "summary.json").read_text())
    b = json.loads((tmp_path / "killed" / "darts" / "summary.json").read_text())
    assert a["genotype"] == b["genotype"]
    assert (a["val_top1"], a["test_top1"], a["params"]) == (b["val_top1"], b["test_top1"], b["params"])
    events = read_events(tmp_path / "killed" / "darts")
    assert any("resumed from" in str(e["fields"].get("message", "")) for e in events)


def test_the_test_split_is_built_for_the_final_training_alone(tmp_path, monkeypatch):
    """No loader over the test split exists during a search, in jobs (random) or in-process
    (DARTS); each final training builds one."""
    import archai.search.jobs as jobs
    import archai.search.searcher as searcher

    built = []

    def recording(where, real):
        def build(*args, **kwargs):
            loaders = real(*args, **kwargs)
            built.append((where, loaders.test is not None))
            return loaders

        return build

    monkeypatch.setattr(jobs, "build_loaders", recording("job", jobs.build_loaders))
    monkeypatch.setattr(searcher, "build_loaders", recording("search", searcher.build_loaders))
    for algo in ("random", "darts"):
        built.clear()
        assert cli.main(["--algos", algo, "--exp-dir", str(tmp_path / algo), *SMALL]) == 0
        *search, final = built
        assert search and not any(test for _, test in search), (algo, search)
        assert final == ("job", True)
        summary = json.loads((tmp_path / algo / "summary.json").read_text())[0]
        assert summary["test_top1"] is not None
