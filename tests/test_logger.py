"""Structured run logging: events.jsonl, console.log, TensorBoard."""

import json

from archai.common.logger import RunLogger, read_events


def test_events_are_json_lines_with_scopes(tmp_path):
    log = RunLogger(tmp_path, console=False, tensorboard=False)
    with log.scope("search", algo="darts"):
        with log.scope("epoch", epoch=3):
            log.metrics({"train/loss": 0.5, "val/top1": float("nan")}, step=3)
        log.warning("careful", why="test")
    log.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses on its own
    metric = next(r for r in records if r["kind"] == "metrics")
    assert metric["scope"] == "search/epoch"
    assert metric["fields"] == {"algo": "darts", "epoch": 3, "step": 3}
    assert metric["data"]["train/loss"] == 0.5 and metric["data"]["val/top1"] == "nan"
    warn = next(r for r in records if r["kind"] == "warning")
    assert warn["scope"] == "search" and warn["fields"]["message"] == "careful"
    assert [r["kind"] for r in read_events(tmp_path)] == [r["kind"] for r in records]
    assert "careful" in (tmp_path / "console.log").read_text()


def test_error_inside_scope_is_logged_and_reraised(tmp_path):
    log = RunLogger(tmp_path, console=False, tensorboard=False)
    try:
        with log.scope("train"):
            raise ValueError("boom")
    except ValueError:
        pass
    log.close()
    errors = [r for r in read_events(tmp_path) if r["kind"] == "error"]
    assert errors and "boom" in errors[0]["fields"]["message"] and errors[0]["scope"] == "train"


def test_tensorboard_scalars_written(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = RunLogger(tmp_path, console=False, tensorboard=True)
    with log.scope("train"):
        for step in range(3):
            log.metrics({"loss": 1.0 / (step + 1)}, step=step)
    log.close()
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert "train/loss" in acc.Tags()["scalars"]
    assert [round(e.value, 3) for e in acc.Scalars("train/loss")] == [1.0, 0.5, 0.333]


def test_quiet_console_shows_only_warnings(tmp_path, capsys):
    log = RunLogger(tmp_path, tensorboard=False, quiet=True)
    log.info("hidden message")
    log.warning("shown warning")
    log.close()
    err = capsys.readouterr().err
    assert "shown warning" in err and "hidden message" not in err
    assert "hidden message" in (tmp_path / "console.log").read_text()


def test_progress_lines_when_bars_are_off(tmp_path, capsys):
    log = RunLogger(tmp_path, tensorboard=False, progress=False)
    with log.scope("search"):
        bar = log.progress(range(3), total=3, desc="child_1 epoch 1/2", every_s=1e-9)
        for step in bar:
            bar.set_stats(loss=1.0 / (step + 1), images_per_s=100.0)
    log.close()
    lines = [r for r in read_events(tmp_path) if r["kind"] == "progress"]
    assert [r["fields"]["message"] for r in lines] == [f"child_1 epoch 1/2 step {n}/3" for n in (1, 2, 3)]
    assert lines[-1]["data"]["loss"] == 1 / 3 and lines[-1]["data"]["images_per_s"] == 100.0
    err = capsys.readouterr().err
    assert "[search] progress child_1 epoch 1/2 step 2/3 loss=0.5 images_per_s=100" in err
    assert "step 3/3" in (tmp_path / "console.log").read_text()


def test_progress_lines_respect_interval_and_quiet(tmp_path, capsys):
    log = RunLogger(tmp_path, tensorboard=False, progress=False, quiet=True)
    assert list(log.progress(range(5), total=5, desc="x", every_s=1e-9)) == [0, 1, 2, 3, 4]
    assert list(log.progress(range(5), total=5, desc="y", every_s=3600)) == [0, 1, 2, 3, 4]
    log.close()
    assert "progress" not in capsys.readouterr().err  # quiet: nothing below warnings on the console
    messages = [r["fields"]["message"] for r in read_events(tmp_path) if r["kind"] == "progress"]
    assert len(messages) == 5 and all(m.startswith("x ") for m in messages)  # y: interval never reached


def test_job_logger_level_shows_progress_not_metrics(tmp_path, capsys):
    log = RunLogger(tmp_path, tensorboard=False, progress=False, level="progress")
    log.metrics({"train/loss": 0.5}, step=1)
    for _ in log.progress(range(2), total=2, desc="job", every_s=1e-9):
        pass
    log.warning("a warning")
    log.close()
    err = capsys.readouterr().err
    assert "progress job step 2/2" in err and "a warning" in err and "train/loss" not in err


def test_progress_interval_runs_across_loops(tmp_path, monkeypatch):
    # epochs shorter than the interval are still reported: the clock is the logger's, not the loop's
    import time
    import types

    import archai.common.logger as logger_module

    # a stopped clock: the outcome cannot depend on how fast this machine runs the loops
    clock = types.SimpleNamespace(time=time.time, strftime=time.strftime, localtime=time.localtime)
    clock.monotonic = lambda: 1000.0
    monkeypatch.setattr(logger_module, "time", clock)
    log = RunLogger(tmp_path, console=False, tensorboard=False, progress=False)
    log.last_progress = 900.0  # the last line was written 100 s ago
    for epoch in range(2):
        list(log.progress(range(3), total=3, desc=f"epoch {epoch + 1}/2", every_s=50))
    log.close()
    messages = [r["fields"]["message"] for r in read_events(tmp_path) if r["kind"] == "progress"]
    assert messages == ["epoch 1/2 step 1/3"]  # due at once, then not again within 50 s
