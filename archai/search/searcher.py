"""The searcher contract: a base class, a registry, and what a search returns.

A searcher receives a :class:`RunContext` (config, data, logger, executor, run folder, search
space) and returns a :class:`SearchResult`: every candidate it evaluated, and the ids of the
one(s) it chose for final training. Register it and ``--algos NAME`` finds it:

    >>> from archai.space import GENOTYPES, GenotypeBuilder
    >>> @register_searcher("darts_v2_as_is")
    ... class DartsV2AsIs(Searcher):
    ...     # searches nothing: proposes the published DARTS_V2 cell
    ...     def search(self):
    ...         desc = GenotypeBuilder(GENOTYPES["DARTS_V2"], **self.ctx.builder_args()).build()
    ...         return SearchResult([Candidate("v2", desc)], final=["v2"])

See ``docs/write_a_searcher.md`` for a complete example (a working random search).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.utils.data import DataLoader

from archai.common.config import Config, ConfigError
from archai.common.device import resolve_device
from archai.common.errors import DamagedStateError
from archai.common.jsonio import inside, write_json
from archai.common.logger import RunLogger
from archai.common.registry import Registry
from archai.common.seeding import derive_seed
from archai.datasets import DataLoaders, DatasetInfo, build_loaders, get_provider
from archai.search.executor import Executor, JobHandle, JobResult, LocalExecutor, job_threads
from archai.search.jobs import TrainJob
from archai.space.model_desc import ModelDesc
from archai.space.spaces import SPACES, SearchSpace, make_space


@dataclass
class Candidate:
    """One evaluated architecture: an id, its description and its metrics (val_top1, params...)."""

    id: str
    desc: ModelDesc
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """What a search returns: all candidates, and the ids chosen for final training (best first)."""

    candidates: list[Candidate]
    final: list[str]

    def __post_init__(self) -> None:
        ids = {c.id for c in self.candidates}
        missing = [f for f in self.final if f not in ids]
        if missing:
            raise ValueError(f"SearchResult.final names unknown candidates: {missing}")

    def get(self, cid: str) -> Candidate:
        return next(c for c in self.candidates if c.id == cid)

    def save(self, folder: str | Path) -> Path:
        """Writes ``candidates/<id>.yaml`` and ``search_result.json`` (written last: its presence
        means the search finished)."""
        folder = Path(folder)
        entries = []
        for c in self.candidates:
            path = c.desc.save(folder / "candidates" / f"{c.id}.yaml")
            desc = str(path.relative_to(folder))
            entries.append({"id": c.id, "desc": desc, "digest": c.desc.digest(), "metrics": c.metrics})
        return write_json(folder / "search_result.json", {"candidates": entries, "final": self.final})

    @classmethod
    def load(cls, folder: str | Path) -> SearchResult:
        folder = Path(folder)
        return cls.from_data(folder, json.loads((folder / "search_result.json").read_text()))

    @classmethod
    def from_data(cls, folder: str | Path, data: dict) -> SearchResult:
        """The result from the parsed ``search_result.json`` of ``folder``."""
        folder = Path(folder)
        source = folder / "search_result.json"
        cands = []
        for e in data["candidates"]:
            path = inside(folder, e["desc"], source=source)
            how = "restore it (or delete search_result.json to search again), or use another --exp-dir"
            desc = load_recorded_desc(path, e, source=source, when="after the search", way_out=how)
            cands.append(Candidate(e["id"], desc, e["metrics"]))
        return cls(cands, data["final"])


def load_recorded_desc(path: Path, entry: dict, *, source: Path, when: str, way_out: str) -> ModelDesc:
    """The description at ``path`` for the state-file ``entry`` (``id``, ``digest``) read from
    ``source``. A file whose architecture is no longer the one the entry's metrics belong to
    raises :class:`DamagedStateError` (an entry from before digests is trusted)."""
    desc = ModelDesc.load(path)
    if entry.get("digest", desc.digest()) != desc.digest():
        raise DamagedStateError(
            path,
            way_out,
            f"its architecture was changed {when}: {source.name} recorded digest "
            f"{entry['digest']} for {entry['id']}, the file now has {desc.digest()}",
        )
    return desc


@dataclass
class RunContext:
    """What a searcher gets: the resolved config of its run and the run's shared services."""

    conf: Config
    algo: str
    run_dir: Path
    logger: RunLogger
    executor: Executor = field(default_factory=LocalExecutor)

    @property
    def seed(self) -> int:
        return int(self.conf.common.seed)

    @property
    def algo_conf(self) -> Config:
        """This searcher's own section, ``algos.<name>``."""
        return self.conf.algos[self.algo]

    @cached_property
    def device(self) -> torch.device:
        return resolve_device(self.conf.common.device)

    @cached_property
    def dataset_info(self) -> DatasetInfo:
        return get_provider(self.conf.dataset.name).info

    @cached_property
    def space(self) -> SearchSpace:
        """The run's search space (``space.name`` with its options ``space.<name>``) at the shape
        of ``search.model`` and the dataset."""
        name = str(self.conf.space.name)
        return make_space(name, shape=self.builder_args("search"), **self.conf.space[name].to_dict())

    def loaders(self, protocol: str = "search") -> DataLoaders:
        """Train and validation loaders of the ``search`` or ``eval`` protocol (``search.loader``
        / ``eval.loader``). A searcher never sees the test split: ``test`` is ``None`` (the
        final evaluation alone measures it, in its own jobs)."""
        return build_loaders(
            self.conf.dataset,
            self.conf[protocol].loader,
            seed=self.seed,
            device=str(self.device),
            with_test=False,
        )

    def held_out_loaders(self, purpose: str) -> tuple[DataLoaders, DataLoader]:
        """The search loaders and a shuffled loader over their held-out part (batches as large as
        training ones), for an architecture or controller step. ``purpose`` names the step in the
        error raised when no data is held out."""
        loaders = self.loaders("search")
        if loaders.val is None:
            raise ConfigError(f"{self.algo} {purpose} on held-out data: set search.loader.val_fraction > 0")
        shuffled = DataLoader(
            loaders.val.dataset,
            batch_size=loaders.train.batch_size,
            shuffle=True,
            collate_fn=loaders.val.collate_fn,
            generator=torch.Generator().manual_seed(derive_seed(self.seed, f"held-out batches/{purpose}")),
        )
        return loaders, shuffled

    def builder_args(self, protocol: str = "search", **overrides: Any) -> dict[str, Any]:
        """Keyword arguments of a :class:`~archai.space.builder.ModelDescBuilder` for the
        ``protocol``'s ``model`` section and this run's dataset (``overrides`` win)."""
        conf, info = self.conf[protocol].model, self.dataset_info
        args = dict(
            init_channels=int(conf.init_channels),
            n_cells=int(conf.n_cells),
            n_nodes=int(conf.n_nodes),
            stem_multiplier=int(conf.stem_multiplier),
            stem_stride=int(conf.stem_stride),
            aux_head=bool(conf.aux_head),
            skeleton=str(conf.skeleton),
            in_channels=info.channels,
            image_size=info.size,
            n_classes=info.n_classes,
        )
        args.update(overrides)
        return args

    def require_held_out(self, purpose: str) -> None:
        """Raises a :class:`ConfigError` unless the search protocol holds training data out for
        validation (``search.loader.val_fraction`` > 0); ``purpose`` says what needs it."""
        if float(self.conf.search.loader.val_fraction) <= 0:
            raise ConfigError(f"{self.algo} {purpose}: set search.loader.val_fraction > 0")

    def run_jobs(
        self, fn: Callable[..., Any], arg_tuples: Sequence[tuple], names: Sequence[str]
    ) -> list[JobResult]:
        """``executor.map`` plus the run's record of repairs (see :meth:`note_repairs`)."""
        return [self.note_repairs(r) for r in self.executor.map(fn, arg_tuples, names=names)]

    def note_repairs(self, result: JobResult) -> JobResult:
        """A job that found damaged state and trained again (its value carries ``recovered``) is
        reported as a ``recovered`` warning on the console and in events.jsonl; the note is
        removed from the value."""
        if result.ok and isinstance(result.value, dict) and result.value.get("recovered"):
            notes = result.value.pop("recovered")
            self.logger.event("recovered", level="warning", job=result.name, notes=notes)
        return result

    def now(self) -> float:
        """Seconds on the run's clock, for time budgets: wall-clock time, or the simulated time
        of the trainings looked up so far on a benchmark table (``--benchmark``)."""
        return self.executor.now()

    def submit_training(
        self, cid: str, desc: ModelDesc, protocol: str = "search", *, job: TrainJob | None = None
    ) -> JobHandle:
        """Starts training ``desc`` with the ``protocol`` (in ``jobs/<cid>``, or as ``job``) on
        the executor; the handle is named ``cid``. Turn its result into a candidate with
        :meth:`candidate`."""
        if job is None:
            return self.executor.submit_training(self.train_job(cid, desc, protocol), cid, desc)
        return self.executor.submit_training(job, cid)

    def candidate(self, cid: str, desc: ModelDesc, result: JobResult) -> Candidate:
        """The candidate of a finished training job, logged (``candidate`` event). A job that
        failed on every attempt is data, not an exception: its metrics are ``val_top1: nan``,
        ``failed: true`` and the ``error`` traceback, which is also logged."""
        result = self.note_repairs(result)
        if result.ok:
            metrics = dict(result.value)  # its own copy: several candidates may share one job
        else:
            self.logger.error(f"{cid} failed after {result.attempts} attempt(s)", traceback=result.error)
            metrics = {"val_top1": math.nan, "failed": True, "error": result.error}
        cand = Candidate(cid, desc, metrics)
        self.log_candidate(cand)
        return cand

    def train_candidates(
        self,
        items: Sequence[tuple[str, ModelDesc] | tuple[str, ModelDesc, TrainJob]],
        protocol: str = "search",
    ) -> list[Candidate]:
        """Trains each ``(id, desc)`` (or ``(id, desc, job)`` for a job set up by hand) through
        the executor, in parallel where it allows; returns the candidates in order, failures
        included as data (see :meth:`candidate`)."""
        handles = [
            self.submit_training(*item[:2], protocol, job=item[2] if len(item) > 2 else None)
            for item in items
        ]
        return [self.candidate(item[0], item[1], h.result()) for item, h in zip(items, handles)]

    def log_candidate(self, cand: Candidate) -> None:
        """Every evaluated candidate goes to events.jsonl (kind ``candidate``; with its
        ``parent`` when its description names one)."""
        extra = {"parent": cand.desc.meta["parent"]} if "parent" in cand.desc.meta else {}
        self.logger.event("candidate", data=cand.metrics, id=cand.id, **extra)

    def train_job(self, name: str, desc: ModelDesc, protocol: str = "search", **kw: Any) -> TrainJob:
        """A :class:`TrainJob` for ``desc`` with the ``protocol``'s loader and trainer sections,
        working in ``run_dir/jobs/<name>``; ``kw`` sets (or replaces) other fields."""
        fields = dict(
            name=name,
            desc=desc.to_data(),
            dataset=self.conf.dataset.to_dict(),
            loader=self.conf[protocol].loader.to_dict(),
            trainer=self.conf[protocol].trainer.to_dict(),
            job_dir=str(self.run_dir / "jobs" / name),
            seed=self.seed,
            device=str(self.conf.common.device),
            num_threads=job_threads(int(self.conf.common.num_threads), self.conf.executor),
            console=console_settings(self.conf.common),
        )
        return TrainJob(**{**fields, **kw})


def console_settings(common: Config) -> dict[str, Any]:
    """:class:`RunLogger`'s console arguments (``quiet``, ``progress``) for ``common``'s settings."""
    progress = common.progress if common.progress == "auto" else common.progress in ("true", True)
    return {"quiet": bool(common.quiet), "progress": progress}


class Searcher:
    """Base class of every search algorithm.

    Subclasses implement :meth:`search`. ``defaults`` (a dict) or ``defaults_file`` (a YAML file
    holding ``algos: {NAME: {...}}`` and optional overrides of other sections) declare the
    searcher's config section ``algos.<name>``; it is validated like every other key.
    """

    name: ClassVar[str] = ""
    #: what the searcher needs of its space (:meth:`SearchSpace.supports`: ``sample``,
    #: ``mutate``, ``neighbours``, ``encode``, ``enumerate``, ``one_shot``, ``decisions``)
    space_needs: ClassVar[tuple[str, ...]] = ("sample",)
    #: the spaces it can search at all (None: any that has ``space_needs``)
    only_spaces: ClassVar[tuple[str, ...] | None] = None
    #: rules for keys of ``algos.<name>`` (``{"n_samples": Range(1, integer=True)}``), checked
    #: with :mod:`archai.search.conf_rules` before a run starts
    value_checks: ClassVar[dict[str, Any]] = {}
    defaults: ClassVar[dict[str, Any]] = {}
    defaults_file: ClassVar[str | Path | None] = None
    toy_file: ClassVar[str | Path | None] = None
    #: whether it runs on a benchmark table (``--benchmark``): every training it asks for is a
    #: plain :class:`TrainJob` of an architecture; if not, ``tabular_why`` says what it needs
    tabular: ClassVar[bool] = True
    tabular_why: ClassVar[str] = ""
    #: its budget keys in ``algos.<name>`` (compare.py sets them): seconds of search (on the
    #: run's clock, simulated on a table) and the count limit that seconds replace
    budget_keys: ClassVar[tuple[str, str] | None] = None

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    @classmethod
    def check_space(cls, space: type[SearchSpace]) -> None:
        """Raises :class:`ConfigError` when ``space`` lacks what this searcher needs."""
        if cls.only_spaces is not None and space.name not in cls.only_spaces:
            raise ConfigError(
                f"{cls.name} searches the {' and '.join(cls.only_spaces)} "
                f"space{'s' if len(cls.only_spaces) > 1 else ''} only; "
                f"pass --space {cls.only_spaces[0]} (the run asks for --space {space.name})"
            )
        missing = [f for f in cls.space_needs if not space.supports(f)]
        if missing:
            able = [n for n in SPACES.names() if all(SPACES.get(n).supports(f) for f in cls.space_needs)]
            raise ConfigError(
                f"{cls.name} needs a space with {' and '.join(missing)}; the {space.name} space has "
                f"{'no ' + missing[0] if len(missing) == 1 else 'neither' if len(missing) == 2 else 'none of them'}. "
                f"Spaces that have: {', '.join(able) or 'none'}"
            )

    @classmethod
    def check_conf(cls, conf: Config) -> None:
        """Raises :class:`ConfigError` for settings of ``conf.algos.<name>`` that the value rules
        cannot judge (files it names, combinations); called before the run folder is made."""

    @property
    def conf(self) -> Config:
        return self.ctx.algo_conf

    @property
    def log(self) -> RunLogger:
        return self.ctx.logger

    def search(self) -> SearchResult:
        raise NotImplementedError

    def log_candidate(self, cand: Candidate) -> None:
        """Every evaluated candidate goes to events.jsonl (kind ``candidate``)."""
        self.ctx.log_candidate(cand)


#: every registered searcher; the built-in ones (``archai.algos``) are there at the first look-up
SEARCHERS: Registry[type[Searcher]] = Registry("searcher", builtins="archai.algos")


def register_searcher(name: str):
    """Class decorator: registers a :class:`Searcher` subclass as ``--algos name``."""
    return SEARCHERS.register_named(name)
