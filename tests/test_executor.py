"""Executors: in-process and Ray give the same results; failures carry tracebacks and are retried."""

import math

import pytest

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
