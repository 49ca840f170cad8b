"""Searching on a tabular benchmark: trainings looked up in a table, on a simulated clock.

When a run names a table (``--benchmark PATH`` or ``benchmark.table``; a shipped table by name,
such as ``nb201_mini``), its executor is a :class:`TabularExecutor`: every training a searcher
asks for (a :class:`~archai.search.jobs.TrainJob`) is answered from the table, at the job's
number of epochs, with one of the table's seeds (``benchmark.seed``), and the run's clock
(:meth:`RunContext.now <archai.search.searcher.RunContext.now>`) advances by the training time
the table recorded. A searcher runs unchanged: its time budget means the seconds those
trainings took when the table was built, its ``search_seconds`` is that simulated time, and the
final evaluation reads the table's test accuracy (the mean over its seeds) with the found
architecture's rank among all of the table's. The searcher never sees a test figure.

The clock counts one worker: jobs run one after another, each charged once per job folder
(a job asked for again returns its first answer at no cost, as a real run reuses a finished
job). An architecture outside the table, a warm-started training, or a job that is not a plain
training (Petridish's) is an error that names it.

Example:
    >>> from archai.search.experiment import ExperimentOptions, build_config
    >>> conf = build_config("random", ExperimentOptions(algos=["random"], benchmark="nb201_mini"))
    >>> str(conf.space.name), str(conf.dataset.name), int(conf.search.trainer.epochs)
    ('nb201', 'fashion_mnist_mini', 4)
    >>> from archai.search.searcher import RunContext
    >>> from archai.common.logger import RunLogger
    >>> import pathlib
    >>> ctx = RunContext(conf, "random", pathlib.Path("unwritten"), RunLogger(None, console=False))
    >>> ctx.executor = tabular_executor(conf, ctx.space)
    >>> import random
    >>> desc = ctx.space.sample(random.Random(0))
    >>> value = ctx.submit_training("a", desc).result().value
    >>> value["tabular"], ctx.now() == value["train_seconds"] == value["finished_at_seconds"]
    (True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from archai.common.config import Config
from archai.search.executor import Executor, JobHandle, JobResult
from archai.search.jobs import run_train_job
from archai.search.table import BenchmarkTable, TableError, UnknownArchitectureError
from archai.space.model_desc import ModelDesc

#: where the tables that come with Archai are (``benchmark.table: nb201_mini``)
SHIPPED_TABLES = Path(__file__).resolve().parent / "tables"


def shipped_tables() -> list[str]:
    """The names of the tables that come with Archai."""
    return sorted(p.stem for p in SHIPPED_TABLES.glob("*.npz"))


def resolve_table(name: str) -> Path:
    """The file of the table ``name``: a path to a ``.npz`` file, or a shipped table's name."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    shipped = SHIPPED_TABLES / f"{name}.npz"
    if "/" not in name and shipped.is_file():
        return shipped
    raise TableError(
        f"benchmark table {name!r}: no such file, and no shipped table of that name (shipped: "
        f"{', '.join(shipped_tables()) or 'none'}); build one with scripts/build_benchmark.py"
    )


def table_layer(path: Path) -> dict[str, Any]:
    """The config layer a table brings: the space (with its options), the dataset and the search
    protocol it was built with, and its path."""
    settings = BenchmarkTable.load(path).meta.get("settings", {})
    space = settings.get("space") or {}
    if "name" not in space or "dataset" not in settings:
        raise TableError(f"the benchmark table {path} does not say which space and dataset it was built for")
    layer: dict[str, Any] = {
        "space": {"name": space["name"], space["name"]: dict(space.get("options") or {})},
        "dataset": {"name": settings["dataset"]},
        "benchmark": {"table": str(path)},
    }
    if settings.get("search"):
        layer["search"] = settings["search"]
    return layer


class _Answered(JobHandle):
    """A job the table answered when it was submitted."""

    def __init__(self, name: str, value: dict) -> None:
        super().__init__(name)
        self._result = JobResult(name, True, value)


class TabularExecutor(Executor):
    """Answers training jobs from ``table`` (of ``space``) on a simulated clock; see the module
    docstring. ``seed``: the table seed that answers search trainings (an architecture without
    a record for it is answered by its first seed that has one).

    ``trace`` lists every search training answered, in order: ``seconds`` (the clock after it),
    ``key``, ``val_top1`` and ``test_top1`` (the table's mean test, for reports only: the
    searcher gets no test figure until the final evaluation)."""

    kind = "table"

    def __init__(self, table: BenchmarkTable, space: Any, seed: int = 0) -> None:
        super().__init__(max_retries=0)
        table.check_space(space)
        self.table, self.space, self.seed = table, space, int(seed) % table.n_seeds
        self.clock = 0.0
        self.trace: list[dict[str, Any]] = []
        self._answers: dict[str, dict] = {}  # job folder -> the first answer
        self._mean_test = table.mean_test()

    def now(self) -> float:
        return self.clock

    def submit(self, fn: Callable[..., Any], args: tuple, name: str | None = None) -> JobHandle:
        name = name or getattr(fn, "__name__", "job")
        if fn is not run_train_job:
            raise TableError(
                f"job {name} ({getattr(fn, '__name__', fn)}) is not a plain training, so the benchmark "
                f"table cannot answer it; run without --benchmark"
            )
        (job,) = args
        return self._answered(name, job, ModelDesc.from_data(job["desc"]))

    def submit_training(self, job: Any, name: str, desc: ModelDesc | None = None) -> JobHandle:
        data = {k: getattr(job, k) for k in ("job_dir", "desc", "init_weights", "test", "trainer")}
        return self._answered(name, data, desc or ModelDesc.from_data(job.desc))

    def _answered(self, name: str, job: dict, desc: ModelDesc) -> JobHandle:
        folder = str(job["job_dir"])
        if folder not in self._answers:
            self._answers[folder] = self._answer(name, job, desc)
        return _Answered(name, dict(self._answers[folder]))

    def as_completed(self, handles: Iterable[JobHandle]) -> Iterator[JobHandle]:
        yield from list(handles)  # answered at submission, in submission order

    def key(self, desc: ModelDesc, job: str = "") -> str:
        """The table key of ``desc``, or an error naming the architecture."""
        key = self.space.digest(desc)
        if key not in self.table:
            t = self.table
            raise UnknownArchitectureError(
                f"architecture {self.space.label(desc)} ({f'job {job}, ' if job else ''}digest {key}) is not "
                f"in the table {t.path} ({len(t)} architectures of the {t.meta['space']} space); a table "
                f"answers only for the architectures it was built with"
            )
        return key

    def _answer(self, name: str, job: dict, desc: ModelDesc) -> dict:
        if job.get("init_weights"):
            raise TableError(
                f"job {name} starts from trained weights; a benchmark table holds trainings from scratch"
            )
        key = self.key(desc, job=name)
        i = self.table.index[key]
        if job.get("test"):
            return self._final(key, i)
        epochs = int(job["trainer"]["epochs"])
        if epochs > self.table.n_epochs:
            raise TableError(
                f"job {name} trains {epochs} epochs; the table {self.table.path} holds 1..{self.table.n_epochs}: "
                f"set search.trainer.epochs to at most {self.table.n_epochs}"
            )
        seed = self._seed_of(i)
        record = self.table.lookup(key, epoch=epochs, seed=seed)
        self.clock += record["train_seconds"]
        test = float(self._mean_test[i])
        self.trace.append(
            {"seconds": self.clock, "key": key, "val_top1": record["val_top1"], "test_top1": test}
        )
        return {
            "val_top1": record["val_top1"],
            "train_seconds": record["train_seconds"],
            "params": record["params"],
            "macs": record["macs"],
            "epochs": epochs,
            "val_curve": [round(float(v), 5) for v in self.table.val[i, seed, :epochs]],
            "tabular": True,
            "table_seed": seed,
            "finished_at_seconds": self.clock,
        }

    def _final(self, key: str, i: int) -> dict:
        """The final evaluation: the table's full budget, test averaged over its seeds."""
        record = self.table.lookup(key, seed=self._seed_of(i))
        _, oracle = self.table.oracle()
        return {
            "val_top1": record["val_top1"],
            "test_top1": float(self._mean_test[i]),
            "train_seconds": record["train_seconds"],
            "params": record["params"],
            "macs": record["macs"],
            "epochs": self.table.n_epochs,
            "test_seeds": int(np.sum(~np.isnan(self.table.test[i]))),
            "table_rank": self.table.rank(key),
            "table_size": len(self.table),
            "oracle_test_top1": oracle,
            "evaluated_by": f"table {self.table.path}",
        }

    def _seed_of(self, i: int) -> int:
        """The answering seed, or the first one with a record of architecture ``i``."""
        if not math.isnan(float(self.table.val[i, self.seed, -1])):
            return self.seed
        have = np.flatnonzero(~np.isnan(self.table.val[i, :, -1]))
        if not len(have):
            raise TableError(f"the table {self.table.path} has no record of {self.table.keys[i]!r}")
        return int(have[0])


def tabular_executor(conf: Config, space: Any, table: BenchmarkTable | None = None) -> TabularExecutor:
    """The executor of a run on ``benchmark.table`` (or the already loaded ``table``); checks that
    the table was built for the run's space and dataset."""
    table = table or BenchmarkTable.load(resolve_table(str(conf.benchmark.table)))
    built_on = table.meta.get("settings", {}).get("dataset")
    if built_on and built_on != str(conf.dataset.name):
        raise TableError(
            f"the benchmark table {table.path} was built on {built_on}; this run uses "
            f"{conf.dataset.name}: drop --dataset (the table sets it) or use a table of {conf.dataset.name}"
        )
    seed = int(conf.benchmark.seed)
    return TabularExecutor(table, space, int(conf.common.seed) if seed < 0 else seed)
