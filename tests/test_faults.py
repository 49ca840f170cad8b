"""Fault injection: damaged state files, bad values, a second live process, moved folders.

Finished work is never turned into a failure or silently changed: a damaged file is rebuilt from
intact inputs (and the run says so), or the command stops with one line that names the file and
the way out (exit 2). Each test damages a real run folder of a tiny toy run.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from toy_runs import (
    TINY,
    candidate_metrics,
    copy_run,
    cut_in_half,
    model_info,
    recovered,
    run,
    run_killed,
    unfinish,
)

from archai.common.logger import read_events

# ---------------------------------------------------------------- row 1: damaged job files


@pytest.mark.parametrize("damage", ["halve result.json", "truncate checkpoint.pt of the job in progress"])
def test_damaged_job_files_are_rebuilt_not_reported_failed(random_run, tmp_path, capsys, damage):
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    before = candidate_metrics(run_dir)
    unfinish(run_dir)
    if damage.startswith("halve"):
        cut_in_half(run_dir / "jobs" / "sample_001" / "result.json")
    else:  # sample_002 was still training: no result yet, a checkpoint cut short
        (run_dir / "jobs" / "sample_002" / "result.json").unlink()
        with open(run_dir / "jobs" / "sample_002" / "checkpoint.pt", "r+b") as f:
            f.truncate(100)
    assert run("random", exp, "--resume") == 0
    after = candidate_metrics(run_dir)
    assert after == before and not any(failed for _, failed in after.values())
    notes = recovered(run_dir)
    damaged = "sample_001/result.json" if damage.startswith("halve") else "sample_002/checkpoint.pt"
    assert any(damaged in n for n in notes), notes
    assert damaged.split("/")[1] in capsys.readouterr().err  # said on the console too
    assert list((run_dir / "jobs").glob("*/*.damaged"))  # set aside, not deleted


# ---------------------------------------------------------------- row 2: a parent's weights


def test_petridish_rebuilds_a_damaged_parent_instead_of_changing_path(tmp_path):
    from archai.algos.petridish.searcher import PetridishSearcher
    from archai.common.checkpoint import load_checkpoint
    from archai.common.logger import RunLogger
    from archai.search.executor import LocalExecutor
    from archai.search.experiment import ExperimentOptions, build_config
    from archai.search.searcher import RunContext

    conf = build_config("petridish", ExperimentOptions(algos=["petridish"], overrides=TINY))
    run_dir = tmp_path / "petridish"
    with RunLogger(run_dir, console=False, tensorboard=False) as log:
        searcher = PetridishSearcher(RunContext(conf, "petridish", run_dir, log, LocalExecutor(0)))
        pool = searcher._train_jobs(searcher._seeds(), 1)
        parent = pool[0]
        weights = run_dir / parent["weights"]
        good = load_checkpoint(weights)
        with open(weights, "r+b") as f:
            f.truncate(100)
        searcher._check_parent_weights([parent])
    rebuilt = load_checkpoint(weights)
    assert good.keys() == rebuilt.keys() and all(torch.equal(good[k], rebuilt[k]) for k in good)
    assert any("seed_00" in n for n in recovered(run_dir))


def test_petridish_state_holds_relative_paths_and_replays_a_damaged_state(tmp_path):
    exp = tmp_path / "exp"
    assert run("petridish", exp, "--eval.enabled", "false") == 0
    run_dir = exp / "petridish"
    state = run_dir / "search" / "petridish.json"
    assert str(tmp_path) not in state.read_text()  # movable: nothing points at the old place
    before = candidate_metrics(run_dir)
    results = {p: p.stat().st_mtime_ns for p in run_dir.glob("jobs/*/result.json")}
    unfinish(run_dir)
    cut_in_half(state)
    assert run("petridish", exp, "--eval.enabled", "false", "--resume") == 0
    assert candidate_metrics(run_dir) == before  # the same search path
    assert {p: p.stat().st_mtime_ns for p in run_dir.glob("jobs/*/result.json")} == results  # no retraining
    assert any("petridish.json" in n for n in recovered(run_dir))


# ---------------------------------------------------------------- rows 3 and 4: bad values


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("--eval.trainer.epochs", "-1", "eval.trainer.epochs: -1 is not allowed; it must be an integer >= 1"),
        ("--search.trainer.epochs", "0", "search.trainer.epochs: 0 is not allowed"),
        ("--search.loader.batch_size", "0", "search.loader.batch_size: 0 is not allowed"),
        ("--search.loader.val_fraction", "1.5", "must be a number >= 0 and < 1"),
        (
            "--trainer.optimizer.name",
            "sgdd",
            "'sgdd' is not allowed; did you mean 'sgd'? It must be one of adam, adamw, sgd",
        ),
        ("--executor.kind", "foo", "executor.kind: 'foo' is not allowed; it must be one of local, ray"),
        ("--space.darts.primitives", "[sep_conv_3x3, conv_9x9]", "space.darts.primitives"),
        (
            "--algos.enas.controller.temperature",
            "abc",
            "'algos.enas.controller.temperature' (from the command line) got 'abc' of type str; expected float or null",
        ),
    ],
)
def test_bad_values_are_refused_before_any_folder_exists(tmp_path, capsys, key, value, message):
    algo = "enas" if "enas" in key else "random"
    assert run(algo, tmp_path / "exp", key, value) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "exp").exists()  # so the corrected command starts cleanly


# ---------------------------------------------------------------- row 5: two processes


def test_a_folder_in_use_by_a_live_process_is_refused_and_taken_over_when_it_is_gone(tmp_path, capsys):
    exp = tmp_path / "exp"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from archai.common.runlock import FolderLock; "
            f"FolderLock({str(exp)!r}).acquire(); print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run("random", exp, "--resume") == 2
        err = capsys.readouterr().err
        assert f"in use by process {holder.pid}" in err and len(err.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
    assert run("random", exp, "--resume") == 0  # its holder is gone: the lock is taken over


# ---------------------------------------------------------------- row 6: damaged run files


@pytest.mark.parametrize("name", ["search_result.json", "summary.json", "timing.json"])
def test_damaged_run_files_are_rebuilt_without_training(random_run, tmp_path, name):
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    before = json.loads((run_dir / "summary.json").read_text())
    results = {p: p.stat().st_mtime_ns for p in run_dir.glob("jobs/*/result.json")}
    if name != "summary.json":
        (run_dir / "summary.json").unlink()
    cut_in_half(run_dir / name)
    assert run("random", exp, "--resume") == 0
    after = json.loads((run_dir / "summary.json").read_text())
    for key in ("final_candidate", "val_top1", "test_top1", "params"):
        assert after[key] == before[key], key
    assert {p: p.stat().st_mtime_ns for p in run_dir.glob("jobs/*/result.json")} == results
    assert (run_dir / f"{name}.damaged").is_file()
    assert any(name in n for n in recovered(run_dir))


# ---------------------------------------------------------------- row 7: one-line errors


def test_user_errors_are_one_line_with_exit_2(random_run, tmp_path, capsys, monkeypatch):
    darts = tmp_path / "darts"
    assert run("darts", darts, "--eval.enabled", "false") == 0
    unfinish(darts / "darts")
    with open(darts / "darts" / "search" / "supernet.pt", "r+b") as f:
        f.truncate(100)
    tampered = copy_run(random_run, tmp_path / "tampered")
    (tampered / "random" / "summary.json").unlink()
    (tampered / "random" / "candidates" / "sample_000.yaml").write_text(
        "!!python/object:os.system 'echo hi'\n"
    )
    desc = tmp_path / "bad_op.yaml"
    text = (random_run / "random" / "final_desc.yaml").read_text()
    desc.write_text(re.sub(r"\{op: \w+,", "{op: conv_9x9,", text, count=1))

    import urllib.error

    import torchvision

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    cases = [
        (lambda: run("darts", darts, "--eval.enabled", "false", "--resume"), "supernet.pt"),
        (lambda: run("random", tampered, "--resume"), "sample_000.yaml"),
        (lambda: run("random", Path("/proc/archai_test/exp")), "/proc/archai_test/exp"),
        (
            lambda: run(
                "random",
                tmp_path / "net",
                "--dataset",
                "cifar10",
                "--dataroot",
                str(tmp_path / "d"),
                "--dataset.download",
                "true",
            ),
            "download",
        ),
        (lambda: model_info.main([str(desc)]), "9x9"),
    ]
    for call, named in cases:
        assert call() == 2, named
        err = capsys.readouterr().err.strip()
        assert named in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    from archai.algos.random.searcher import RandomSearcher

    def broken(self):
        return {}["val_top1"]  # a KeyError deep in a searcher is a bug, not a user error

    monkeypatch.setattr(RandomSearcher, "search", broken)
    with pytest.raises(KeyError):
        run("random", tmp_path / "exp")
    [error] = [e for e in read_events(tmp_path / "exp" / "random" / "events.jsonl") if e["kind"] == "error"]
    assert error["fields"]["message"] == "KeyError: 'val_top1'" and error["scope"] == "search"
    assert "Traceback" in error["fields"]["traceback"] and "in broken" in error["fields"]["traceback"]


def test_an_error_after_the_search_is_in_the_event_log(tmp_path, monkeypatch):
    import archai.search.experiment as experiment

    def broken(*args, **kwargs):
        raise ZeroDivisionError("pareto broke")

    monkeypatch.setattr(experiment, "front_from_conf", broken)
    with pytest.raises(ZeroDivisionError):
        run("random", tmp_path / "exp")
    [error] = [e for e in read_events(tmp_path / "exp" / "random" / "events.jsonl") if e["kind"] == "error"]
    assert error["fields"]["message"] == "ZeroDivisionError: pareto broke" and error["scope"] == ""
    assert "in broken" in error["fields"]["traceback"]


# ---------------------------------------------------------------- row 8: resume bookkeeping


def test_resume_sums_search_time_and_logs_each_candidate_once(tmp_path):
    exp = tmp_path / "exp"
    timing = exp / "random" / "timing.json"
    # killed the moment sample_001's result is written (and the search's time has been saved)
    killed = run_killed("random", exp, "jobs/sample_001/result.json", wait_for=timing)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (exp / "random" / "jobs" / "sample_002").exists()
    assert not (exp / "random" / "search_result.json").exists()
    saved = json.loads(timing.read_text())["search_seconds"]  # the killed session's time is kept
    assert saved > 0
    assert run("random", exp, "--resume") == 0
    events = read_events(exp / "random")
    [this_session] = [e["fields"]["session_seconds"] for e in events if e["kind"] == "timing"]
    summary = json.loads((exp / "random" / "summary.json").read_text())
    assert summary["search_seconds"] == pytest.approx(saved + this_session, abs=2e-3)  # both sessions count
    fresh = [
        e["fields"]["id"] for e in events if e["kind"] == "candidate" and not e["fields"].get("replayed")
    ]
    assert sorted(fresh) == [f"sample_{i:03d}" for i in range(3)]


# ---------------------------------------------------------------- row 9: movable folders


def test_a_moved_run_folder_resumes_where_it_now_is(random_run, tmp_path):
    moved = copy_run(random_run, tmp_path / "elsewhere")
    before = candidate_metrics(moved / "random")
    unfinish(moved / "random")
    assert run("random", moved, "--resume") == 0
    assert candidate_metrics(moved / "random") == before
    assert str(random_run) not in (moved / "random" / "summary.json").read_text()


# ---------------------------------------------------------------- row 10: threads


def test_thread_count_is_recorded_and_set_by_every_job(random_run, tmp_path):
    saved = yaml.safe_load((random_run / "random" / "config.yaml").read_text())
    assert saved["common"]["num_threads"] == 1
    result = json.loads((random_run / "random" / "jobs" / "sample_000" / "result.json").read_text())
    assert result["num_threads"] == 1

    from archai.common.config import confs_dir, load_config
    from archai.search.experiment import ExperimentOptions, build_config

    default = build_config("random", ExperimentOptions(algos=["random"]))
    assert default.common.num_threads == torch.get_num_threads() > 0  # 0 resolves to a recorded count
    assert load_config([confs_dir() / "base.yaml"]).common.num_threads == 0

    # a job given 2 threads computes the same in a process whose default is 1 thread (a Ray
    # worker) as in this one
    code = (
        "import json, sys, torch; from archai.search.jobs import run_train_job; "
        "job = json.loads(sys.argv[1]); print(json.dumps(run_train_job(job)))"
    )
    from archai.search.jobs import run_train_job
    from archai.search.searcher import RunContext
    from archai.space.model_desc import ModelDesc

    conf = build_config(
        "random", ExperimentOptions(algos=["random"], overrides=[*TINY, "--common.num_threads", "2"])
    )
    desc = ModelDesc.load(random_run / "random" / "candidates" / "sample_000.yaml")
    ctx = RunContext(conf, "random", tmp_path, None)
    jobs = []
    for where in ("here", "there"):
        job = ctx.train_job(where, desc, "search", test=True)
        job.trainer = {**job.trainer, "log_every_steps": 0, "progress_every_s": 0.0}
        jobs.append(job)
    here = run_train_job(jobs[0].as_args()[0])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(jobs[1].as_args()[0])],
        capture_output=True,
        text=True,
        env=env,
    )
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert here["num_threads"] == there["num_threads"] == 2
    for key in ("val_top1", "test_top1", "test_loss", "train_top1"):
        assert here[key] == there[key], key


def test_folders_saved_before_num_threads_was_recorded_still_resume():
    from archai.search.experiment import _diff

    saved = {"common": {"num_threads": 0, "seed": 2}}
    assert _diff(saved, {"common": {"num_threads": 8, "seed": 2}}) == []
    assert _diff({"common": {"num_threads": 2}}, {"common": {"num_threads": 8}}) == [
        "common.num_threads: 2 -> 8"
    ]
