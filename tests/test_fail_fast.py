"""Bad input fails at once, in one line (exit 2), before any folder exists; faults of the
machine (a full or read-only disk, Ctrl-C) stop a run in one line that says how to go on, and
lose nothing that was finished.
"""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from toy_runs import candidate_metrics, copy_run, model_info, one_line_error, run, run_killed, unfinish

# ---------------------------------------------------------------- values and addresses


@pytest.mark.parametrize(
    "algo,key,value",
    [
        ("random", "--trainer.optimizer.lr", ".inf"),
        ("random", "--search.trainer.optimizer.lr", "-.inf"),
        ("random", "--pareto.epsilon", ".nan"),
        ("darts", "--algos.darts.unrolled_r", ".inf"),
    ],
)
def test_non_finite_values_are_range_errors(tmp_path, capsys, algo, key, value):
    assert run(algo, tmp_path / "exp", key, value) == 2
    err = one_line_error(capsys)
    assert key[2:] in err and "finite" in err
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize(
    "address,message",
    [("127.0.0.1:1", "nothing answers at 127.0.0.1:1"), ("no-port-here", "is not HOST:PORT")],
)
def test_a_ray_address_where_nothing_answers_fails_before_any_folder(tmp_path, capsys, address, message):
    pytest.importorskip("ray")
    exp = tmp_path / "exp"
    assert run("random", exp, "--executor.kind", "ray", "--executor.ray_address", address) == 2
    err = one_line_error(capsys)
    assert "executor.ray_address" in err and message in err
    assert not exp.exists()


# ---------------------------------------------------------------- datasets


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def idx_folder(folder: Path, n_train=40, n_test=20) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)))
    return folder


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def bad_magic(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[2] = 0x42
    path.write_bytes(bytes(data))


def bad_gzip(path: Path) -> None:
    path.with_name(path.name + ".gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    path.unlink()


@pytest.mark.parametrize(
    "damage,file,message",
    [
        (truncate, "train-images-idx3-ubyte", "truncated or damaged"),
        (bad_magic, "t10k-labels-idx1-ubyte", "bad magic number"),
        (bad_gzip, "train-labels-idx1-ubyte", "cannot be decompressed"),
    ],
)
def test_corrupt_dataset_files_are_one_line_before_any_folder(tmp_path, capsys, damage, file, message):
    data = idx_folder(tmp_path / "data")
    damage(data / file)
    exp = tmp_path / "exp"
    assert run("random", exp, "--dataset", "fashion_mnist", "--dataroot", str(data)) == 2
    err = one_line_error(capsys)
    assert file in err and message in err
    assert not exp.exists()


def test_intact_dataset_files_pass_the_check_and_counts_must_agree(tmp_path):
    from archai.datasets import get_provider
    from archai.datasets.provider import DatasetCorruptError

    provider = get_provider("fashion_mnist")
    provider.check(idx_folder(tmp_path / "ok"), False)
    bad = idx_folder(tmp_path / "bad")
    write_idx(bad / "t10k-labels-idx1-ubyte", np.zeros(19))
    with pytest.raises(DatasetCorruptError, match=r"test images have shape \[20, 28, 28\] and labels \[19\]"):
        provider.check(bad, False)


# ---------------------------------------------------------------- budgets


def test_random_search_draws_each_round_as_it_goes(tmp_path, monkeypatch):
    """A billion samples with a time budget: only what is trained is drawn, and the budget
    applies after the first round (a fake clock: each reading is 10 s later)."""
    from archai.search.executor import Executor
    from archai.space import DartsSpace

    drawn = []
    sample = DartsSpace.sample

    def counting_sample(*args, **kwargs):
        drawn.append(1)
        return sample(*args, **kwargs)

    class Clock:
        now = 0.0

        def read(self):  # the run's clock (ctx.now()): 10 s pass at every look
            self.now += 10.0
            return self.now

    monkeypatch.setattr(DartsSpace, "sample", counting_sample)
    clock = Clock()
    monkeypatch.setattr(Executor, "now", lambda executor: clock.read())
    overrides = ["--algos.random.n_samples", "1000000000", "--algos.random.max_seconds", "15"]
    assert run("random", tmp_path / "exp", *overrides, "--algos.random.jobs_per_round", "2") == 0
    result = json.loads((tmp_path / "exp" / "random" / "search_result.json").read_text())
    assert len(drawn) == len(result["candidates"]) == 2


# ---------------------------------------------------------------- model_info.py


@pytest.mark.parametrize(
    "args,message",
    [
        (["--init-channels", "0"], "--init-channels: 0 is not allowed"),
        (["--cells", "0"], "--cells: 0 is not allowed"),
        (["--cells", "1000000"], "--cells: 1000000 is not allowed; it must be between 1 and 1000"),
        (["--init-channels", "100000"], "--init-channels: 100000 is not allowed"),
        (["--batch-size", "-3"], "--batch-size: -3 is not allowed"),
    ],
)
def test_model_info_refuses_sizes_that_cannot_be_meant(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        model_info.main(["DARTS_V2", *args])
    assert exit_.value.code == 2 and message in one_line_error(capsys)


def test_model_info_refuses_a_model_larger_than_the_machine(capsys, monkeypatch):
    monkeypatch.setattr(model_info, "memory_bytes", lambda: 2**20)  # a 1 MiB machine
    assert model_info.main(["DARTS_V2"]) == 2
    assert "3,349,342 parameters" in one_line_error(capsys)  # counted without allocating


@pytest.mark.skipif(
    Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1"
    if Path("/proc/sys/vm/overcommit_memory").exists()
    else True,
    reason="needs a kernel that refuses allocations larger than its memory",
)
def test_model_info_turns_an_out_of_memory_into_one_line(capsys):
    args = ["DARTS_V2", "--init-channels", "4", "--cells", "2", "--latency", "--batch-size", "1000000000"]
    assert model_info.main(args) == 2
    assert "out of memory measuring DARTS_V2 at batch size 1000000000" in one_line_error(capsys)


# ---------------------------------------------------------------- the machine's faults


def test_resuming_in_a_read_only_folder_is_one_line(random_run, tmp_path, capsys, monkeypatch):
    import archai.common.runlock as runlock

    exp = copy_run(random_run, tmp_path / "exp")
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith(runlock.LOCK_NAME):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(runlock.os, "open", read_only)
    assert run("random", exp, "--resume") == 2
    err = one_line_error(capsys)
    assert f"cannot write in {exp} (Read-only file system)" in err and "--exp-dir" in err


def test_a_full_disk_stops_the_run_at_once_and_resume_finishes_it(random_run, tmp_path, capsys, monkeypatch):
    import archai.common.checkpoint as checkpoint

    exp = tmp_path / "exp"
    saves = []
    real_save = checkpoint.torch.save

    def full(*args, **kwargs):  # as torch.save fails on a full disk: a RuntimeError while handling ENOSPC
        saves.append(1)
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1939648")  # noqa: B904 (as torch does)

    monkeypatch.setattr(checkpoint.torch, "save", full)
    assert run("random", exp) == 2
    err = one_line_error(capsys)
    assert "no space left on device" in err and "--resume" in err
    assert len(saves) == 1  # not retried: no attempt can succeed on a full disk
    monkeypatch.setattr(checkpoint.torch, "save", real_save)
    assert run("random", exp, "--resume") == 0
    assert candidate_metrics(exp / "random") == candidate_metrics(random_run / "random")


def test_ctrl_c_is_one_line_and_resume_gives_the_uninterrupted_result(random_run, tmp_path):
    exp = tmp_path / "exp"
    stopped = run_killed("random", exp, "jobs/sample_001/result.json", signal="INT")
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    [line] = stopped.stderr.strip().splitlines()
    assert "interrupted" in line and "--resume" in line
    assert run("random", exp, "--resume") == 0
    assert candidate_metrics(exp / "random") == candidate_metrics(random_run / "random")


def test_a_resumed_run_starts_its_events_on_a_new_line_after_a_cut_one(random_run, tmp_path):
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    unfinish(run_dir)
    with open(run_dir / "events.jsonl", "a") as f:
        f.write('{"time": 17')  # a session killed mid-write
    assert run("random", exp, "--resume") == 0
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    cut = lines.index('{"time": 17')
    assert cut < len(lines) - 1 and all(json.loads(line) for line in lines[cut + 1 :])


def test_a_full_disk_under_the_stopwatch_thread_prints_nothing(tmp_path, monkeypatch):
    import threading

    import archai.common.stopwatch as stopwatch

    raised = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    clock = stopwatch.SavedStopwatch(tmp_path / "timing.json", "search_seconds", every_s=0.01)
    with pytest.raises(OSError):  # the stage's own end meets the full disk and reports it
        with clock:
            monkeypatch.setattr(stopwatch, "write_json", full)
            clock._thread.join(timeout=60)  # the thread stops at its first failed write
    assert raised == [] and not clock._thread.is_alive()
    again = stopwatch.SavedStopwatch(tmp_path / "timing.json", "search_seconds", every_s=0.01)
    with pytest.raises(ZeroDivisionError):  # while another error ends the stage, it is the one told
        with again:
            1 / 0  # noqa: B018


def test_damaged_state_errors_survive_pickling_as_ray_sends_them():
    import pickle

    from archai.common.checkpoint import CheckpointError
    from archai.common.errors import DamagedStateError

    for e in (CheckpointError("w.pt", "delete it", "EOFError"), DamagedStateError("s.json", "restore it")):
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e)
