"""build_benchmark.py: every distinct architecture of a finite space trained once per seed,
gathered into a table; a second build in the same folder trains nothing."""

import json

import numpy as np
import pytest
from toy_runs import ROOT, SMALL, flags

from archai.common.config import ConfigError
from archai.search.benchmark import build_benchmark, distinct_architectures, plan_jobs
from archai.search.experiment import ExperimentOptions, build_config
from archai.search.table import BenchmarkTable
from archai.space import make_space

TINY_BUILD = {
    **SMALL,
    "space.name": "nb201",
    "space.nb201.primitives": "[none, skip_connect, nor_conv_1x1]",
    "search.loader.train_limit": 128,
    "search.loader.val_fraction": 0.25,
    "search.trainer.epochs": 2,
    "loader.test_limit": 128,
}


def test_distinct_architectures_train_once_and_plans_repeat_seeds_for_the_first_architectures():
    space = make_space("nb201", primitives=["none", "skip_connect", "nor_conv_1x1"], shape={"n_classes": 10})
    archs = distinct_architectures(space)
    assert len(archs) == len({space.digest(d) for d in space.enumerate()}) < space.size
    jobs = plan_jobs([k for k, _ in archs], seeds=3, repeat_archs=2, seed=0)
    per_arch = {}
    for key, s in jobs:
        per_arch.setdefault(key, []).append(s)
    assert sorted(map(len, per_arch.values())).count(3) == 2 and len(per_arch) == len(archs)
    assert jobs == plan_jobs([k for k, _ in archs], seeds=3, repeat_archs=2, seed=0)  # repeatable
    with pytest.raises(ConfigError, match="too many to train each"):
        distinct_architectures(make_space("darts", shape={"n_classes": 10}))


def test_a_build_records_each_job_and_a_second_build_reuses_them(tmp_path):
    conf = build_config(None, ExperimentOptions(algos=[], overrides=flags(TINY_BUILD)))
    work, out = tmp_path / "work", tmp_path / "t.npz"
    table = build_benchmark(conf, out, work_dir=work, seeds=2, repeat_archs=1, limit=2)
    assert len(table) == 2 and table.n_seeds == 2 and table.n_epochs == 2
    seeds_trained = (table.val[:, :, -1] == table.val[:, :, -1]).sum(axis=1)  # not NaN
    assert sorted(seeds_trained) == [1, 2]  # one architecture repeated over both seeds
    results = sorted(work.glob("jobs/*/result.json"))
    assert len(results) == 3
    for path in results:  # the table holds what each job measured
        key, seed = path.parent.name.rsplit("_s", 1)
        value, i = json.loads(path.read_text()), table.index[key]
        assert list(table.val[i, int(seed)]) == pytest.approx(value["val_curve"])
        assert table.test[i, int(seed)] == pytest.approx(value["test_top1"])
    stamps = [p.stat().st_mtime_ns for p in results]
    again = build_benchmark(conf, out, work_dir=work, seeds=2, repeat_archs=1, limit=2)
    assert [p.stat().st_mtime_ns for p in results] == stamps  # nothing trained again
    loaded = BenchmarkTable.load(out)
    assert loaded.keys == again.keys == table.keys
    np.testing.assert_array_equal(loaded.val, table.val)
    np.testing.assert_array_equal(loaded.test, table.test)
    settings = loaded.meta["settings"]
    assert settings["space"]["options"]["primitives"] == ["none", "skip_connect", "nor_conv_1x1"]
    assert settings["search"]["trainer"]["epochs"] == 2 and settings["dataset"] == "fashion_mnist_mini"
    assert (ROOT / "confs" / "benchmarks" / "nb201_mini.yaml").is_file()
