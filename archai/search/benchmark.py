"""Building a tabular benchmark: every distinct architecture of a finite space trained with the
run's search protocol, each architecture and seed one job on the executor, gathered into a
:class:`~archai.search.table.BenchmarkTable`.

Architectures the space calls equal (``space.digest``: NAS-Bench-201's isomorphic cells) train
once. Every seed of a table trains on the same train/validation split (``common.seed``); seed
``s`` initialises and shuffles with ``common.seed + s``. ``repeat_archs`` limits the extra seeds
to that many architectures, drawn at random: the rest have NaN there. The build works in a
folder of its own (``jobs/<digest>_s<seed>``, each resumable like any training job), writes the
table every ``snapshot_every`` finished jobs, and a second build in the same folder reuses
every finished job.

Example (two architectures of a three-op NAS-Bench-201 space, one epoch each; a few seconds):
    >>> import tempfile, pathlib
    >>> from archai.search.experiment import ExperimentOptions, build_config
    >>> conf = build_config(None, ExperimentOptions(algos=[], overrides=[
    ...     "--space.name", "nb201", "--space.nb201.primitives", "[none, skip_connect, nor_conv_1x1]",
    ...     "--search.trainer.epochs", "1", "--search.loader.train_limit", "200",
    ...     "--loader.test_limit", "200", "--executor.workers", "1", "--common.quiet", "true"]))
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> table = build_benchmark(conf, work / "t.npz", work_dir=work / "build", limit=2)
    >>> len(table), table.n_epochs, table.meta["settings"]["dataset"]
    (2, 1, 'fashion_mnist_mini')
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from archai.common.config import Config, ConfigError
from archai.common.jsonio import write_json
from archai.common.logger import RunLogger
from archai.common.runlock import FolderLock
from archai.common.seeding import derive_seed
from archai.search.executor import job_threads, make_executor
from archai.search.searcher import RunContext, console_settings
from archai.search.table import BenchmarkTable
from archai.space.model_desc import ModelDesc
from archai.space.spaces import SearchSpace

#: the most descriptions a space may hold for a table to be built of it
MAX_DESCRIPTIONS = 100_000


def distinct_architectures(space: SearchSpace) -> list[tuple[str, ModelDesc]]:
    """``(digest, description)`` of every architecture of ``space`` that the space tells apart,
    the first of each kind in ``enumerate()`` order."""
    if not space.supports("enumerate"):
        raise ConfigError(f"a benchmark table needs a finite space; the {space.name} space cannot enumerate")
    if space.size is None or space.size > MAX_DESCRIPTIONS:
        size = "an unknown number of" if space.size is None else f"{space.size:.3g}"
        raise ConfigError(
            f"the {space.name} space holds {size} descriptions: too many to train each (a table "
            f"takes at most {MAX_DESCRIPTIONS:,}); choose a smaller space, e.g. --space nb201 with "
            f"fewer --space.nb201.primitives"
        )
    seen: dict[str, ModelDesc] = {}
    for desc in space.enumerate():
        seen.setdefault(space.digest(desc), desc)
    return list(seen.items())


def plan_jobs(keys: Sequence[str], seeds: int, repeat_archs: int, seed: int) -> list[tuple[str, int]]:
    """``(key, seed index)`` of every job, in training order: the architectures shuffled by
    ``seed``; the first ``repeat_archs`` of them (0: all) train every seed, the others seed 0."""
    order = list(keys)
    random.Random(derive_seed(seed, "benchmark/order")).shuffle(order)
    repeat = len(order) if repeat_archs <= 0 else min(repeat_archs, len(order))
    return [(k, s) for i, k in enumerate(order) for s in range(seeds if i < repeat else 1)]


def build_settings(conf: Config, space: SearchSpace, seeds: int, repeat_archs: int) -> dict:
    """What produced a table: the space, dataset, search protocol, seeds and machine."""
    name = str(conf.space.name)
    return {
        "space": {"name": name, "options": conf.space[name].to_dict()},
        "dataset": str(conf.dataset.name),
        "search": conf.search.to_dict(),
        "seed": int(conf.common.seed),
        "seeds": int(seeds),
        "repeat_archs": int(repeat_archs),
        "num_threads": job_threads(int(conf.common.num_threads), conf.executor),
        "torch": torch.__version__,
        "device": str(conf.common.device),
    }


def build_benchmark(
    conf: Config,
    out: str | Path,
    *,
    work_dir: str | Path,
    seeds: int = 1,
    repeat_archs: int = 0,
    limit: int = 0,
    snapshot_every: int = 100,
    plugins: Sequence[str] = (),
) -> BenchmarkTable:
    """Trains the space of ``conf`` (``space.name``, at ``search.model``'s shape) with the
    search protocol and writes the table to ``out``; see the module docstring. ``limit`` > 0
    builds only the first that many architectures of the training order (a trial build)."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, not {seeds}")
    work_dir, out = Path(work_dir), Path(out)
    c = conf.common
    with FolderLock(work_dir), RunLogger(work_dir, tensorboard=False, **console_settings(c)) as log:
        threads = job_threads(int(c.num_threads), conf.executor)
        with make_executor(conf.executor, plugins, threads) as executor:
            ctx = RunContext(conf, "benchmark", work_dir, log, executor)
            space = ctx.space
            archs = dict(distinct_architectures(space))
            jobs = plan_jobs(list(archs), seeds, repeat_archs, int(c.seed))
            if limit > 0:
                kept = list(dict.fromkeys(k for k, _ in jobs))[:limit]
                jobs = [(k, s) for k, s in jobs if k in set(kept)]
            keys = list(dict.fromkeys(k for k, _ in jobs))
            epochs = int(conf.search.trainer.epochs)
            settings = build_settings(conf, space, seeds, repeat_archs)
            write_json(work_dir / "settings.json", settings)
            log.info(
                f"benchmark of the {space.name} space: {len(keys)} of {len(archs)} distinct "
                f"architectures ({space.size} in all), {len(jobs)} trainings of {epochs} epochs"
            )
            handles = {}
            for key, s in jobs:
                job = ctx.train_job(
                    f"{key}_s{s}",
                    archs[key],
                    "search",
                    test=True,
                    seed=int(c.seed) + s,
                    split_seed=int(c.seed),
                )
                handles[executor.submit_training(job, job.name)] = (key, s)
            start, done = time.monotonic(), 0
            table = BenchmarkTable.empty(space, epochs, seeds, settings, keys=keys)
            for handle in executor.as_completed(list(handles)):
                key, s = handles[handle]
                result = ctx.note_repairs(handle.result())
                if result.ok:
                    _record(table, table.index[key], s, result.value)
                else:
                    log.error(f"{handle.name} failed; its record stays empty", traceback=result.error)
                done += 1
                if done % snapshot_every == 0 or done == len(jobs):
                    table.save(out)
                    rate = (time.monotonic() - start) / done
                    log.event(
                        "benchmark_progress",
                        done=done,
                        total=len(jobs),
                        eta_seconds=round(rate * (len(jobs) - done)),
                        table=str(out),
                    )
    return table


def _record(table: BenchmarkTable, i: int, s: int, metrics: dict) -> None:
    """Writes one finished job's figures into row ``i``, seed ``s`` of ``table``."""
    val, seconds = metrics.get("val_curve") or [], metrics.get("seconds_curve") or []
    if len(val) != table.n_epochs or len(seconds) != table.n_epochs:
        raise RuntimeError(f"a benchmark job returned {len(val)} epochs of validation, not {table.n_epochs}")
    table.val[i, s] = [math.nan if v is None else v for v in val]
    table.seconds[i, s] = seconds
    test = metrics.get("test_top1")
    table.test[i, s] = math.nan if test is None else test
    table.params[i] = int(metrics["params"])
    table.macs[i] = float(metrics["macs"])
