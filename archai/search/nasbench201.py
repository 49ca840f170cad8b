"""NAS-Bench-201 and NATS-Bench (topology) as Archai tables, for users who have the official file.

The official files are pickles (``NAS-Bench-201-v1_0-e61699.pth`` and ``-v1_1-096897.pth``,
read with ``torch.load``; NATS-Bench's ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` or its ``-simple``
folder of one ``.pickle.pbz2`` per architecture): opening one runs whatever code it holds, so
:func:`convert_nb201` does it only when asked with ``trust=True``, once, and writes a table
that is read without pickle from then on (``--benchmark``).

The layout read (as the official API reads it): ``meta_archs`` (arch strings), ``arch2infos``
(index -> ``{"full"|"200": results, "less"|"12": results}``, 200- and 12-epoch trainings), each
results record holding ``all_results[(dataset, seed)]`` with per-epoch ``train_times`` and
``eval_acc1es["<split>@<epoch>"]`` (percent), ``params`` (millions) and ``flop`` (millions).
Validation and test splits per dataset, as the benchmark reports them:

- ``cifar10-valid``: trained on half of CIFAR-10's training set; ``x-valid`` and ``ori-test``;
- ``cifar10``: trained on all of it, tested on ``ori-test``; its validation figure is the
  ``cifar10-valid`` run's ``x-valid`` (the benchmark's own convention);
- ``cifar100``: ``x-valid`` and ``x-test`` (the two halves of the test set).

A split the file records at the last epoch only (``x-valid`` of cifar100 at 200 epochs) is
NaN at the others, and asking the table for one of those epochs is an error. Isomorphic cells
are one architecture to the ``nb201`` space (:func:`~archai.space.spaces.nb201.unique_cell_form`):
the first of each class (by benchmark index) is kept, and the table's settings count the rest.
"""

from __future__ import annotations

import bz2
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archai.common.config import ConfigError
from archai.common.logger import RunLogger
from archai.search.benchmark import build_settings
from archai.search.experiment import ExperimentOptions, build_config
from archai.search.searcher import RunContext
from archai.search.table import BenchmarkTable, TableError
from archai.space.spaces.nb201 import parse_arch

#: dataset -> (our provider, (validation run, split), (test run, split))
SPLITS = {
    "cifar10-valid": ("cifar10", ("cifar10-valid", "x-valid"), ("cifar10-valid", "ori-test")),
    "cifar10": ("cifar10", ("cifar10-valid", "x-valid"), ("cifar10", "ori-test")),
    "cifar100": ("cifar100", ("cifar100", "x-valid"), ("cifar100", "x-test")),
}
#: the training budgets of the files, by the two names each has used
BUDGETS = {200: ("full", "200"), 12: ("less", "12")}


def read_official(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The benchmark dict of an official file or NATS ``-simple`` folder. It is a pickle:
    ``trust=True`` says you know where it came from (else :class:`ConfigError`)."""
    path = Path(path).expanduser()
    if not trust:
        raise ConfigError(
            f"{path} is a pickle, and reading one runs any code it holds; pass --trust (trust=True) "
            f"if it is the official file you downloaded yourself"
        )
    if not path.exists():
        raise ConfigError(f"no NAS-Bench-201 / NATS-Bench file at {path}")
    if path.is_dir():  # NATS-Bench -simple: meta.pickle.pbz2 and one file per architecture
        data = _unpickle(path / "meta.pickle.pbz2")
        data["arch2infos"] = {
            i: _unpickle(f)
            for i in range(len(data["meta_archs"]))
            if (f := path / f"{i:06d}.pickle.pbz2").is_file()
        }
        return data
    if path.name.endswith(".pbz2"):
        return _unpickle(path)
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def _unpickle(path: Path) -> Any:
    with bz2.open(path, "rb") as f:
        return pickle.load(f)


def _budget(info: Mapping[str, Any], epochs: int) -> Mapping[str, Any] | None:
    return next((info[k] for k in BUDGETS[epochs] if k in info), None)


def _split(record: Mapping[str, Any] | None, split: str, epochs: int) -> np.ndarray:
    """The split's accuracy (0-1) after each epoch; NaN where the file has none."""
    out = np.full(epochs, np.nan)
    if record is not None:
        acc = record.get("eval_acc1es") or {}
        for e in range(epochs):
            if (v := acc.get(f"{split}@{e}")) is not None:
                out[e] = float(v) / 100.0
    return out


def _seconds(record: Mapping[str, Any], epochs: int) -> np.ndarray:
    times = record.get("train_times") or {}
    per = np.array([np.nan if times.get(e) is None else float(times[e]) for e in range(epochs)])
    return np.cumsum(per)


def convert_nb201(
    source: str | Path,
    out: str | Path,
    dataset: str = "cifar10-valid",
    epochs: int = 200,
    trust: bool = False,
    data: Mapping[str, Any] | None = None,
) -> BenchmarkTable:
    """Writes the table of ``dataset`` at ``epochs`` (200 or 12) from the official file at
    ``source`` (or its already read ``data``) to ``out``; see the module docstring."""
    if dataset not in SPLITS:
        raise ConfigError(f"--dataset {dataset}: convert one of {', '.join(SPLITS)}")
    if epochs not in BUDGETS:
        raise ConfigError(f"--epochs {epochs}: the benchmark trained for 200 or 12 epochs")
    data = data if data is not None else read_official(source, trust=trust)
    provider, (val_run, val_split), (test_run, test_split) = SPLITS[dataset]
    conf = build_config(  # the benchmark's network: C=16, five cells per stage, all five ops
        None,
        ExperimentOptions(
            algos=[],
            full=True,
            space="nb201",
            dataset=provider,
            overrides=[
                "--space.nb201.primitives",
                "[none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]",
                "--space.nb201.cells_per_stage",
                "5",
                "--search.model.init_channels",
                "16",
                "--search.model.stem_stride",
                "1",
                "--search.trainer.epochs",
                str(epochs),
            ],
        ),
    )
    space = RunContext(conf, "convert", Path("unwritten"), RunLogger(None, console=False)).space
    rows: dict[str, dict] = {}
    merged = skipped = 0
    for index in sorted(data.get("arch2infos") or {}):
        info = _budget(data["arch2infos"][index], epochs)
        if info is None:
            skipped += 1
            continue
        key = space.digest(space.build(parse_arch(info.get("arch_str") or data["meta_archs"][index])))
        if key in rows:
            merged += 1
            continue
        results = info["all_results"]
        seeds = sorted(info.get("dataset_seed", {}).get(test_run, []))
        per_seed = []
        for seed in seeds:
            test_rec = results.get((test_run, seed))
            if test_rec is None:
                continue
            val = _split(results.get((val_run, seed)), val_split, epochs)
            test = _split(test_rec, test_split, epochs)[-1]
            per_seed.append((val, test, _seconds(test_rec, epochs), test_rec))
        if per_seed:
            rows[key] = {"index": index, "seeds": per_seed}
    if not rows:
        raise TableError(f"no architecture of {source} has {epochs}-epoch results on {dataset}")
    n_seeds = max(len(r["seeds"]) for r in rows.values())
    settings = build_settings(conf, space, n_seeds, 0)
    settings["source"] = {
        "file": Path(str(source)).name,
        "benchmark": "NAS-Bench-201 / NATS-Bench (topology)",
        "dataset": dataset,
        "epochs": epochs,
        "isomorphic_merged": merged,
        "without_this_budget": skipped,
    }
    for machine_key in ("num_threads", "torch", "device"):  # of this machine, not the benchmark's
        settings.pop(machine_key, None)
    table = BenchmarkTable.empty(space, epochs=epochs, seeds=n_seeds, settings=settings)
    for key, row in rows.items():
        pad = n_seeds - len(row["seeds"])
        val = [s[0] for s in row["seeds"]] + [np.full(epochs, np.nan)] * pad
        seconds = [s[2] for s in row["seeds"]] + [np.full(epochs, np.nan)] * pad
        test = [s[1] for s in row["seeds"]] + [np.nan] * pad
        first = row["seeds"][0][3]
        table.add(
            key,
            val,
            test,
            seconds,
            params=round(float(first["params"]) * 1e6),
            macs=float(first["flop"]) * 1e6,
        )
    table.save(out)
    return table
