"""Executors: in-process and Ray give the same results; failures carry tracebacks and are retried."""

import errno
import math
import sys

import pytest

from archai.common.errors import StorageError, UnknownNameError
from archai.search.executor import JobFailedError, LocalExecutor, make_executor
from archai.search.jobs import TrainJob, run_train_job
from archai.search.trainer import trainer_conf
from archai.space.genotypes import GENOTYPES, genotype_to_desc

DATA = {"name": "fashion_mnist_mini", "dataroot": None, "download": False}
LOADER = {
    "batch_size": 32,
    "eval_batch_size": 500,
    "val_fraction": 0.2,
    "train_limit": 200,
    "test_limit": 200,
    "augment": False,
    "cutout": 0,
    "num_workers": 0,
    "pin_memory": False,
}


class Flaky:
    """Fails ``n`` times, then succeeds."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls <= self.n:
            raise RuntimeError(f"transient failure {self.calls}")
        return x * 2


def test_local_retries_then_succeeds_or_reports():
    flaky = Flaky(1)
    [ok] = LocalExecutor(max_retries=1).map(flaky, [(3,)], names=["job"])
    assert ok.ok and ok.value == 6 and ok.attempts == 2
    [bad] = LocalExecutor(max_retries=1).map(Flaky(5), [(3,)], names=["job"])
    assert (
        not bad.ok and bad.attempts == 2 and "transient failure 2" in bad.error and "Traceback" in bad.error
    )
    with pytest.raises(JobFailedError, match="job job failed after 2"):
        bad.unwrap()


@pytest.mark.parametrize(
    "error,raised",
    [
        (UnknownNameError("unknown op 'conv9'"), UnknownNameError),
        (OSError(errno.ENOSPC, "No space left on device", "ckpt.pt"), StorageError),
        (OSError(errno.EROFS, "Read-only file system", "ckpt.pt"), StorageError),
    ],
)
def test_user_errors_and_storage_faults_are_raised_at_once_not_retried(error, raised):
    calls = []

    def job():
        calls.append(1)
        raise error

    with pytest.raises(raised):
        LocalExecutor(max_retries=3).map(job, [()])
    assert calls == [1]
    [other] = LocalExecutor(max_retries=1).map(Flaky(5), [(1,)])  # any other error: retried, data
    assert not other.ok and other.attempts == 2


def jobs(tmp_path, tag):
    out = []
    for i, name in enumerate(["DARTS_V1", "DARTS_V2"]):
        desc = genotype_to_desc(
            GENOTYPES[name],
            init_channels=4,
            n_cells=3,
            n_nodes=4,
            in_channels=1,
            image_size=28,
            stem_multiplier=1,
        )
        conf = trainer_conf(epochs=1, channels_last=False, log_every_steps=0).to_dict()
        out.append(
            TrainJob(
                f"j{i}",
                desc.to_data(),
                DATA,
                LOADER,
                conf,
                str(tmp_path / tag / f"j{i}"),
                seed=i,
                device="cpu",
                num_threads=1,
                test=True,  # as the final evaluation's jobs
            ).as_args()
        )
    return out


def test_train_job_is_resumable_and_idempotent(tmp_path):
    [args] = jobs(tmp_path, "a")[:1]
    first = run_train_job(*args)
    assert (tmp_path / "a" / "j0" / "result.json").is_file()
    assert run_train_job(*args) == first  # a finished job returns its saved result
    assert 0 <= first["test_top1"] <= 1 and math.isfinite(first["val_top1"]) and first["params"] > 0


def test_ray_matches_local_and_reports_failures(tmp_path):
    pytest.importorskip("ray")
    local = [r.unwrap() for r in LocalExecutor().map(run_train_job, jobs(tmp_path, "local"))]
    conf = {
        "kind": "ray",
        "ray_address": None,
        "num_cpus": 2,
        "cpus_per_job": 1.0,
        "gpus_per_job": 0.0,
        "max_retries": 1,
    }
    with make_executor(conf) as ray_ex:
        results = ray_ex.map(run_train_job, jobs(tmp_path, "ray"), names=["r0", "r1"])
        failed = ray_ex.map(run_train_job, [({"not_a_job_field": 1},)], names=["bad"])
    remote = [r.unwrap() for r in results]
    for a, b in zip(local, remote):
        assert (
            a["test_top1"] == b["test_top1"] and a["val_top1"] == b["val_top1"] and a["params"] == b["params"]
        )
    assert not failed[0].ok and "not_a_job_field" in failed[0].error and "Traceback" in failed[0].error


def test_submit_and_as_completed_local_runs_each_job_when_needed():
    calls = []

    def job(x):
        calls.append(x)
        return x * 10

    ex = LocalExecutor(max_retries=0)
    handles = [ex.submit(job, (i,), name=f"j{i}") for i in range(3)]
    assert calls == [] and not handles[0].done()  # nothing ran yet
    done = []
    for h in ex.as_completed(handles):
        done.append((h.name, h.result().value))
        if h.name == "j0":
            handles.append(ex.submit(job, (9,), name="late"))  # not in the iterated list
    assert done == [("j0", 0), ("j1", 10), ("j2", 20)] and calls == [0, 1, 2]
    assert handles[-1].result().value == 90


PLUGIN = """
from torch import nn
from archai.space.ops import OPS


@OPS.register("plugin_double")
def plugin_double(C, stride, affine):
    class Double(nn.Module):
        def forward(self, x):
            return 2 * x[:, :, ::stride, ::stride]

    return Double()
"""


def test_ray_as_completed_in_finish_order_and_plugin_ops_reach_workers(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc

    (tmp_path / "plugin_mod").mkdir()
    (tmp_path / "plugin_mod" / "archai_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "plugin_mod"))  # this process
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "plugin_mod"))  # the Ray workers it starts
    from archai.common.plugins import load_plugins

    plugins = load_plugins(["archai_test_plugin"], installed=False)
    node = NodeDesc([EdgeDesc(OpDesc("plugin_double"), 0), EdgeDesc(OpDesc("skip_connect"), 1)])
    cells = [CellDesc(k, 4, [node], [2]) for k in ("normal", "reduction", "normal")]
    desc = ModelDesc(cells, in_channels=1, image_size=28, init_channels=4, stem_multiplier=1)
    trainer = trainer_conf(epochs=1, channels_last=False, log_every_steps=0).to_dict()

    def job(tag):
        return TrainJob(
            "p", desc.to_data(), DATA, LOADER, trainer, str(tmp_path / tag), device="cpu"
        ).as_args()

    conf = {"kind": "ray", "ray_address": None, "num_cpus": 2, "cpus_per_job": 1.0}
    conf.update(gpus_per_job=0.0, max_retries=0)
    with make_executor(conf) as ex:  # fresh workers that were not told about the plugin
        assert ex.slots == 2  # num_cpus / cpus_per_job: the tasks that run at once
        # a user error in a job (here: an op its worker does not know) is not retried and not
        # turned into a failed result: it stops the caller with the job's own message
        with pytest.raises(UnknownNameError, match="unknown op 'plugin_double'"):
            ex.map(run_train_job, [job("without")], names=["without"])
        ex.plugins = plugins
        # "slow" cannot finish before the gate opens, and the gate opens only once a job has
        # come back: finish order, not a time margin, decides what as_completed must yield
        gate = tmp_path / "gate"

        def wait_for_gate(path):
            import os
            import time

            while not os.path.exists(path):
                time.sleep(0.05)
            return "slow"

        slow = ex.submit(wait_for_gate, (str(gate),), name="slow")
        fast = ex.submit(str, ("fast",), name="fast")
        order = []
        for h in ex.as_completed([slow, fast]):
            order.append(h.name)
            gate.touch()
        assert order == ["fast", "slow"]
        [with_plugin] = ex.map(run_train_job, [job("with")], names=["with"])
    assert with_plugin.ok, with_plugin.error
    assert with_plugin.value["params"] > 0 and 0 <= with_plugin.value["val_top1"] <= 1


def _wait_for(path, then):
    """A job that waits (at most a minute: a guard, not a margin) for ``path`` to exist."""
    import os
    import time
    from pathlib import Path

    for _ in range(600):
        if Path(path).exists():
            break
        time.sleep(0.1)
    return then, os.getpid(), Path(path).exists()


def _touch(path, then):
    import os
    from pathlib import Path

    import torch

    Path(path).touch()
    return then, os.getpid(), torch.get_num_threads()


def _refuse(message):
    from archai.common.config import ConfigError

    raise ConfigError(message)


def test_local_workers_run_jobs_at_once_and_yield_them_in_submission_order(tmp_path):
    import os

    gate = tmp_path / "gate"
    with LocalExecutor(max_retries=0, workers=2, threads=1) as ex:
        assert ex.slots == 2
        # the first job can only finish once the second has run: they ran at the same time
        first = ex.submit(_wait_for, (str(gate), "first"), name="first")
        second = ex.submit(_touch, (str(gate), "second"), name="second")
        order = [h.name for h in ex.as_completed([first, second])]
        (value, pid_1, opened), (_, pid_2, threads) = first.result().value, second.result().value
    assert order == ["first", "second"]  # submission order, although "second" finished first
    assert value == "first" and opened, "the first job never saw the second one's file"
    assert os.getpid() not in (pid_1, pid_2) and pid_1 != pid_2  # each in a process of its own
    assert threads == 1  # the worker's share of the cores


def test_local_workers_raise_user_errors_in_the_caller():
    from archai.common.config import ConfigError

    with LocalExecutor(max_retries=3, workers=2) as ex:
        with pytest.raises(ConfigError, match="bad value x"):
            ex.map(_refuse, [("bad value x",)])
    with pytest.raises(ValueError, match="executor.workers must be at least 1"):
        LocalExecutor(workers=0)


ORPHAN = """
import sys
from archai.search.executor import LocalExecutor
sys.path.insert(0, sys.argv[2])
from test_executor import _wait_for

ex = LocalExecutor(max_retries=0, workers=2)
handle = ex.submit(_wait_for, (sys.argv[1] + "/never", "x"), name="long")
handle.result()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_workers_end_with_a_killed_run(tmp_path):
    """A run killed mid-job takes its worker processes with it: none trains on into a folder
    that a resumed run then owns."""
    import os
    import signal
    import subprocess
    import time
    from pathlib import Path

    parent = subprocess.Popen([sys.executable, "-c", ORPHAN, str(tmp_path), str(Path(__file__).parent)])
    try:
        workers = []
        for _ in range(600):  # until the worker has started (a guard, not a margin)
            out = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout
            workers = [int(p) for p in out.split()]
            if workers and any(_cmdline(p).count("multiprocessing") for p in workers):
                break
            time.sleep(0.1)
        assert workers, "the run started no worker process"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        for _ in range(300):
            alive = [p for p in workers if _alive(p)]
            if not alive:
                break
            time.sleep(0.1)
        assert not alive, f"worker processes {alive} outlived their killed run"
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def _cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline").read()
    except OSError:
        return ""


def _alive(pid):
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
