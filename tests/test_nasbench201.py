"""The NAS-Bench-201 / NATS-Bench converter, on small files written here in the official layout."""

import bz2
import pickle

import numpy as np
import pytest
import torch
from toy_runs import ROOT

from archai.common.config import ConfigError
from archai.common.logger import RunLogger
from archai.search.experiment import ExperimentOptions, build_config
from archai.search.nasbench201 import convert_nb201
from archai.search.searcher import RunContext
from archai.search.table import BenchmarkTable
from archai.search.tabular import tabular_executor

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
    # the second with the unused first node changed: isomorphic to it, one architecture to the space
    "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
]
SEEDS = {200: [777, 888, 999], 12: [111, 777]}


def results_count(dataset, seed, epochs, arch, rng, sparse):
    """One training's record (a ResultsCount state) in the official layout: accuracies in percent,
    per-epoch times in seconds; at 200 epochs the benchmark kept some splits at the last epoch only."""
    splits = {
        "cifar10-valid": ["x-valid", "ori-test"],
        "cifar10": ["ori-test"],
        "cifar100": ["x-valid", "x-test", "ori-test"],
    }
    acc = {}
    for split in splits[dataset]:
        only_last = sparse and (split == "ori-test") == (dataset == "cifar10-valid")
        for e in range(epochs):
            if not only_last or e == epochs - 1:
                acc[f"{split}@{e}"] = float(rng.uniform(10, 95))
    return {
        "name": dataset,
        "seed": f"{seed:04d}",
        "epochs": epochs,
        "params": 0.4 + 0.1 * len(arch),
        "flop": 50.0 + len(arch),
        "latency": [0.01],
        "train_acc1es": {e: 50.0 for e in range(epochs)},
        "train_times": {e: float(rng.uniform(5, 9)) for e in range(epochs)},
        "eval_names": splits[dataset],
        "eval_acc1es": acc,
        "eval_times": {f"{s}@{e}": 1.0 for s in splits[dataset] for e in range(epochs)},
        "net_state_dict": None,
    }


def arch_results(index, arch, epochs, rng):
    sets = ["cifar10-valid", "cifar10", "cifar100"]
    seeds = SEEDS[epochs][: 2 if index == 3 else None]  # one architecture with fewer seeds
    return {
        "arch_index": index,
        "arch_str": arch,
        "all_results": {
            (d, s): results_count(d, s, epochs, arch, rng, sparse=epochs == 200) for d in sets for s in seeds
        },
        "dataset_seed": {d: list(seeds) for d in sets},
        "clear_net_done": True,
    }


def official(names):
    rng = np.random.default_rng(0)
    infos = {
        i: {names[0]: arch_results(i, a, 200, rng), names[1]: arch_results(i, a, 12, rng)}
        for i, a in enumerate(ARCHS)
    }
    return {
        "meta_archs": ARCHS,
        "arch2infos": infos,
        "evaluated_indexes": list(infos),
        "total_archs": len(ARCHS),
    }


@pytest.fixture(scope="module")
def nb201_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-fixture.pth"
    torch.save(official(("full", "less")), path)
    return path


def test_the_converted_table_holds_the_files_figures_per_seed(nb201_file, tmp_path):
    data = torch.load(nb201_file, weights_only=False)
    table = convert_nb201(nb201_file, tmp_path / "c10v.npz", "cifar10-valid", 12, trust=True)
    assert len(table) == 3 and table.meta["settings"]["source"]["isomorphic_merged"] == 1
    assert table.n_seeds == 2 and table.n_epochs == 12
    ctx = RunContext(
        build_config("random", ExperimentOptions(algos=["random"], benchmark=str(tmp_path / "c10v.npz"))),
        "random",
        tmp_path,
        RunLogger(None, console=False),
    )
    space = ctx.space
    assert space.options.cells_per_stage == 5 and list(space.primitives)[-1] == "avg_pool_3x3"
    key = space.digest(space.build(ARCHS[0]))
    record = data["arch2infos"][0]["less"]["all_results"][("cifar10-valid", 777)]
    i = table.index[key]
    assert table.val[i, 1, 4] == pytest.approx(record["eval_acc1es"]["x-valid@4"] / 100)
    assert table.test[i, 1] == pytest.approx(record["eval_acc1es"]["ori-test@11"] / 100)
    assert table.seconds[i, 1, -1] == pytest.approx(sum(record["train_times"].values()))
    assert table.params[i] == round(record["params"] * 1e6) and table.macs[i] == pytest.approx(
        record["flop"] * 1e6
    )
    # a search of the converted table runs on the nb201 space as published
    ctx.executor = tabular_executor(ctx.conf, space)
    value = ctx.submit_training("a0", space.build(ARCHS[0])).result().value
    assert value["val_top1"] == pytest.approx(table.val[i, 2 % 2, -1])  # common.seed 2 of 2 seeds


def test_cifar10_takes_validation_from_cifar10_valid_and_sparse_splits_stay_empty(nb201_file, tmp_path):
    data = torch.load(nb201_file, weights_only=False)
    c10 = convert_nb201(nb201_file, tmp_path / "c10.npz", "cifar10", 200, trust=True)
    ctx = RunContext(
        build_config("random", ExperimentOptions(algos=["random"], benchmark=str(tmp_path / "c10.npz"))),
        "random",
        tmp_path,
        RunLogger(None, console=False),
    )
    i = c10.index[ctx.space.digest(ctx.space.build(ARCHS[3]))]
    full = data["arch2infos"][3]["full"]["all_results"]
    assert c10.val[i, 0, -1] == pytest.approx(
        full[("cifar10-valid", 777)]["eval_acc1es"]["x-valid@199"] / 100
    )
    assert c10.test[i, 0] == pytest.approx(full[("cifar10", 777)]["eval_acc1es"]["ori-test@199"] / 100)
    assert np.isnan(c10.test[i, 2])  # this architecture has two seeds of three
    c100 = convert_nb201(nb201_file, tmp_path / "c100.npz", "cifar100", 200, trust=True)
    assert np.isnan(c100.val[:, :, :-1]).all() and not np.isnan(c100.val[:, 0, -1]).any()
    assert BenchmarkTable.load(tmp_path / "c100.npz").meta["settings"]["dataset"] == "cifar100"


def test_a_nats_bench_simple_folder_converts_like_the_pth_and_untrusted_files_are_refused(
    nb201_file, tmp_path
):
    nats = official(("200", "12"))
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    with bz2.open(folder / "meta.pickle.pbz2", "wb") as f:
        pickle.dump({**nats, "arch2infos": None, "evaluated_indexes": set()}, f)
    for i, info in nats["arch2infos"].items():
        with bz2.open(folder / f"{i:06d}.pickle.pbz2", "wb") as f:
            pickle.dump(info, f)
    a = convert_nb201(folder, tmp_path / "nats.npz", "cifar10-valid", 200, trust=True)
    b = convert_nb201(nb201_file, tmp_path / "pth.npz", "cifar10-valid", 200, trust=True)
    assert a.keys == b.keys
    np.testing.assert_array_equal(a.val, b.val)
    with pytest.raises(ConfigError, match="pickle.*--trust"):
        convert_nb201(nb201_file, tmp_path / "x.npz")
    assert (ROOT / "scripts" / "convert_nb201.py").is_file()
