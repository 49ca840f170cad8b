"""The tabular-benchmark file format: round trip, safety (no pickle), versioning, the tie to its
space, and the queries a simulated search makes (lookup by epoch, oracle, rank)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from archai.search.table import (
    FORMAT_VERSION,
    BenchmarkTable,
    TableError,
    UnknownArchitectureError,
    space_key,
)
from archai.space.spaces import make_space


def _space(**options):
    return make_space("nb201", shape={"n_classes": 10, "init_channels": 8}, **options)


def _table(space, n=5, seeds=2, epochs=3, seed=0):
    rng = np.random.default_rng(seed)
    t = BenchmarkTable.empty(space, epochs=epochs, seeds=seeds, settings={"epochs": epochs, "lr": 0.05})
    descs = [space.sample(random.Random(i)) for i in range(50)]
    keys = list(dict.fromkeys(space.digest(d) for d in descs))[:n]
    for k in keys:
        val = np.sort(rng.uniform(0.3, 0.9, (seeds, epochs)), axis=1)
        t.add(
            k,
            val=val,
            test=val[:, -1] - 0.01,
            seconds=np.cumsum(rng.uniform(1, 2, (seeds, epochs)), axis=1),
            params=int(rng.integers(1000, 9000)),
            macs=float(rng.uniform(1e5, 1e6)),
        )
    return t, keys


def test_round_trip_keeps_every_record_and_setting(tmp_path):
    space = _space()
    t, keys = _table(space)
    u = BenchmarkTable.load(t.save(tmp_path / "t.npz"), space)
    assert u.keys == keys and u.meta == t.meta
    assert u.meta["version"] == FORMAT_VERSION and u.meta["settings"] == {"epochs": 3, "lr": 0.05}
    for name in ("val", "test", "seconds", "params", "macs"):
        np.testing.assert_array_equal(getattr(u, name), getattr(t, name))
    r = u.lookup(keys[2], epoch=2, seed=1)
    assert r["val_top1"] == pytest.approx(float(t.val[2, 1, 1]))
    assert r["train_seconds"] == pytest.approx(float(t.seconds[2, 1, 1]))
    assert r["test_top1"] is None  # the test figure exists only after the last epoch
    assert u.lookup(keys[2], seed=1)["test_top1"] == pytest.approx(float(t.test[2, 1]))


def test_a_file_that_needs_pickle_is_refused(tmp_path):
    p = tmp_path / "evil.npz"
    np.savez(p, meta=np.array([{"version": FORMAT_VERSION}], dtype=object), keys=np.array(["a"]))
    with pytest.raises(TableError, match="cannot read the benchmark table"):
        BenchmarkTable.load(p)


def test_other_version_and_other_space_are_refused_with_the_way_out(tmp_path):
    space = _space()
    t, _ = _table(space)
    p = t.save(tmp_path / "t.npz")
    other = _space(primitives=["none", "skip_connect", "avg_pool_3x3"])
    assert space_key(other) != space_key(space)
    with pytest.raises(TableError, match="built for the nb201 space with other options") as e:
        BenchmarkTable.load(p, other)
    assert "'lr': 0.05" in str(e.value)  # names the settings it was built with
    assert space_key(_space()) == space_key(space)  # the key is a function of the space alone

    t.meta["version"] = FORMAT_VERSION + 1
    t.save(tmp_path / "v.npz")
    with pytest.raises(TableError, match="format version 2.*rebuild"):
        BenchmarkTable.load(tmp_path / "v.npz")
    with pytest.raises(TableError, match="no benchmark table at"):
        BenchmarkTable.load(tmp_path / "missing.npz")


def test_unknown_architecture_epoch_and_seed_errors_name_what_is_wrong(tmp_path):
    space = _space()
    t, keys = _table(space)
    t.save(tmp_path / "t.npz")
    with pytest.raises(
        UnknownArchitectureError, match="'nope' is not in the table .*t.npz .*5 architectures"
    ):
        t.lookup("nope")
    with pytest.raises(TableError, match="epochs 1..3, not 4"):
        t.lookup(keys[0], epoch=4)
    with pytest.raises(TableError, match="seeds 0..1, not 2"):
        t.lookup(keys[0], seed=2)
    with pytest.raises(TableError, match="already in the table"):
        t.add(keys[0], val=[[0.1] * 3] * 2, test=[0.1, 0.1], seconds=[[1.0] * 3] * 2, params=1, macs=1)
    with pytest.raises(TableError, match=r"expected val and seconds of shape \(2, 3\)"):
        t.add("new", val=[[0.1] * 3], test=[0.1, 0.1], seconds=[[1.0] * 3] * 2, params=1, macs=1)


def test_oracle_and_rank_follow_the_mean_test_accuracy():
    space = _space()
    t, keys = _table(space, n=6)
    means = t.test.astype(np.float64).mean(axis=1)
    best_key, best = t.oracle()
    assert best == pytest.approx(means.max()) and best_key == keys[int(means.argmax())]
    order = [keys[i] for i in np.argsort(-means)]
    assert [t.rank(k) for k in order] == list(range(1, 7))


def test_a_seed_left_out_is_nan_and_the_mean_uses_the_others():
    space = _space()
    t = BenchmarkTable.empty(space, epochs=1, seeds=2)
    t.add("a", val=[[0.5], [np.nan]], test=[0.6, np.nan], seconds=[[1.0], [np.nan]], params=1, macs=1)
    assert t.mean_test()[0] == pytest.approx(0.6)
    with pytest.raises(TableError, match="no record of 'a' for seed 1"):
        t.lookup("a", seed=1)
    json.dumps(t.meta)  # the metadata is plain JSON


def test_repeatability_measures_how_far_two_seeds_agree():
    space = _space()
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.5, 0.9, 20)
    agree, flipped = (BenchmarkTable.empty(space, epochs=1, seeds=2) for _ in range(2))
    for i, s in enumerate(scores):
        agree.add(f"a{i}", [[s], [s + 0.01]], [s, s + 0.01], [[1.0], [1.0]], 1, 1.0)
        flipped.add(f"a{i}", [[s], [1.4 - s]], [s, 1.4 - s], [[1.0], [1.0]], 1, 1.0)
    same = agree.repeatability()
    assert same["architectures"] == 20 and same["kendall_tau"] == pytest.approx(1.0)
    assert same["spearman"] == pytest.approx(1.0) and same["mean_abs_diff"] == pytest.approx(0.01, abs=1e-6)
    assert same["seed_std"] == pytest.approx(0.01 / np.sqrt(2), abs=1e-6)
    assert flipped.repeatability()["kendall_tau"] == pytest.approx(-1.0)
    one = BenchmarkTable.empty(space, epochs=1, seeds=1)
    with pytest.raises(TableError, match="repeatability needs two"):
        one.repeatability()
