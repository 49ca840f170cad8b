"""Petridish: forward search that grows models from small seeds (Hu et al., NeurIPS 2019).

Loop: train the seed models; then, round after round, sample parents from the epsilon band of
the pool's lower convex hull (error against cost), grow each by one node per cell kind (see
:mod:`archai.algos.petridish.space`), train the warm-started children and add them to the pool.
Seeds, candidate trainings and children are executor jobs, so a round runs in parallel on Ray.
The pool, counters and random state are saved after every round; a killed search resumes
there, and jobs already finished are not trained again.
"""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path

from archai.algos.petridish.jobs import CandidateJob, run_candidate_job
from archai.algos.petridish.schedule import AsyncSearch
from archai.algos.petridish.seeds import check_fits, check_seed_models, seed_model_desc
from archai.algos.petridish.space import MERGES, SEED_CELLS, SeedBuilder
from archai.common.checks import Each, OneOf, Range
from archai.common.config import ConfigError
from archai.common.errors import DamagedStateError
from archai.common.jsonio import inside, read_state, set_aside, write_json
from archai.common.seeding import derive_seed
from archai.search.conf_rules import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE
from archai.search.jobs import TrainJob, readable_checkpoint, run_train_job
from archai.search.pareto import Objective, ParetoFront
from archai.search.searcher import Candidate, Searcher, SearchResult, load_recorded_desc, register_searcher
from archai.space.model_desc import ModelDesc


def _rng_to_json(state: tuple) -> list:
    return [state[0], list(state[1]), state[2]]


def _rng_from_json(data: list) -> tuple:
    return (data[0], tuple(data[1]), data[2])


PARENT_SAMPLING = ("hull_walk", "cheap_first")


def _optional(value) -> float | None:
    return None if value is None else float(value)


def _trained_epochs(entry: dict) -> int:
    """The epochs a pool entry's weights have trained, its warm start's included (entries of
    states saved before this was recorded: their own job's epochs)."""
    return int(entry.get("trained_epochs", entry["epochs"]))


@register_searcher("petridish")
class PetridishSearcher(Searcher):
    """Forward search with warm-started children and an epsilon band around the convex hull."""

    # grows DARTS-style cells or (macro search) one place of a chain; its ops: the space's primitives
    only_spaces = ("darts", "chain")
    tabular = False
    tabular_why = "its children start from their parents' trained weights, which a table does not hold"

    value_checks = {
        "top_k": COUNT,
        "seed_cell": OneOf(lambda: SEED_CELLS),
        "merge": OneOf(lambda: MERGES),
        "parent_sampling": OneOf(lambda: PARENT_SAMPLING),
        "schedule": OneOf(lambda: ("rounds", "async")),
        "l1_weight": Range(0, allow_none=True),
        "alpha_init": Range(0, lo_open=True, allow_none=True),
        "stop_forward_scale": Range(0, lo_open=True, allow_none=True),
        "epsilon": NON_NEGATIVE,
        "cost": OneOf(lambda: ("macs", "params")),
        "seeds.n_cells": Each(COUNT, min_len=1),
        "seeds.init_channels": Each(COUNT, min_len=1),
        "seeds.n_nodes": Each(COUNT, min_len=1),
        "seed_epochs": NON_NEGATIVE_INT,
        "candidate_epochs": COUNT,
        "child_epochs": COUNT,
        "parents_per_round": COUNT,
        "max_models": COUNT,
        "max_macs": POSITIVE,
        "max_seconds": NON_NEGATIVE,
    }
    defaults_file = "algos/petridish.yaml"
    toy_file = "algos/petridish_toy.yaml"

    @classmethod
    def check_conf(cls, conf) -> None:
        own = conf.algos.petridish
        entries = check_seed_models(list(own.seed_models))
        if int(own.seed_epochs) == 0 and (not entries or any(e.get("weights") is None for e in entries)):
            raise ConfigError(
                "algos.petridish.seed_epochs 0 trains no seed: it needs seed_models that all have "
                "trained 'weights'; set seed_epochs >= 1 to train the seeds"
            )

    # ------------------------------------------------------------------ state

    @property
    def state_path(self) -> Path:
        return self.ctx.run_dir / "search" / "petridish.json"

    def _save(self, state: dict, rng: random.Random) -> None:
        write_json(self.state_path, {**state, "rng": _rng_to_json(rng.getstate())})

    def _load(self, rng: random.Random) -> dict | None:
        """The saved state, or None to start from the seeds. A state file that cannot be read is
        set aside: the search then replays from the start, every finished job returning its
        saved result, so it reaches the same pool without training again."""
        then = "the search replays from the seeds (finished jobs are reused)"
        notes: list[str] = []
        state = read_state(self.state_path, notes, then)
        if state is not None:
            try:
                rng.setstate(_rng_from_json(state.pop("rng")))
                self.log.info(
                    f"resumed Petridish after round {state['round']} with {len(state['pool'])} models"
                )
            except (AttributeError, KeyError, TypeError, ValueError, IndexError) as e:
                moved = set_aside(self.state_path)
                notes.append(
                    f"{self.state_path} holds no usable state ({type(e).__name__}: {e}); kept as {moved.name}, {then}"
                )
                state = None
        for n in notes:
            self.log.event("recovered", level="warning", notes=[n])
        return state

    def _path(self, stored: str) -> Path:
        """A path stored in the state, relative to the run folder; one that leads outside it
        is refused (:func:`~archai.common.jsonio.inside`)."""
        return inside(self.ctx.run_dir, stored, source=self.state_path)

    def _desc(self, entry: dict) -> ModelDesc:
        """A pool entry's description; one whose file no longer holds the architecture the
        entry's metrics and weights belong to is refused (entries from before digests: trusted)."""
        return load_recorded_desc(
            self._path(entry["desc"]),
            entry,
            source=self.state_path,
            when="after it was trained",
            way_out="restore it, or use another --exp-dir",
        )

    # ------------------------------------------------------------------ jobs

    def _train_job(self, name: str, desc: ModelDesc, init: str | None, epochs: int) -> TrainJob:
        init_path = str(self._path(init)) if init else None
        job = self.ctx.train_job(name, desc, "search", init_weights=init_path, save_weights=True)
        job.trainer = {**job.trainer, "epochs": epochs}
        return job

    def _train_jobs(
        self, named: list[tuple[str, ModelDesc, str | None]], epochs: int, inherited: list[int] | None = None
    ) -> list[dict]:
        """Trains ``(name, desc, init)`` (``init``: warm-start weights relative to the run folder)
        and returns the pool entries of those that trained (a failed one is left out of the
        pool); paths in them are relative. ``inherited``: the epochs each warm start's weights
        have already trained (0 for a seed); an entry's ``trained_epochs`` adds its own."""
        inherited = inherited or [0] * len(named)
        cands = self.ctx.train_candidates([(n, d, self._train_job(n, d, i, epochs)) for n, d, i in named])
        return [
            self._entry(name, desc, init, epochs, before, cand)
            for (name, desc, init), cand, before in zip(named, cands, inherited)
            if not cand.metrics.get("failed")
        ]

    def _entry(self, name: str, desc: ModelDesc, init: str | None, epochs: int, before: int, cand) -> dict:
        """The pool entry of a trained model (paths relative to the run folder)."""
        desc.save(self.ctx.run_dir / "models" / f"{name}.yaml")
        return {
            "id": name,
            "desc": f"models/{name}.yaml",
            "digest": desc.digest(),
            "weights": f"jobs/{name}/weights.pt",
            "init": init,
            "epochs": epochs,
            "trained_epochs": before + epochs,
            "metrics": cand.metrics,
            "expanded": 0,
            "parent": desc.meta.get("parent"),
        }

    def _seeds(self) -> list[tuple[str, ModelDesc, str | None]]:
        """``(name, desc, weights)`` of the seed models: the given ``seed_models`` (their weights
        copied into the run folder) or else every combination of the ``seeds`` grid."""
        if self.conf.seed_models:
            return self._given_seeds()
        if self.ctx.space.name == "chain":
            return self._chain_seeds()
        grid = self.conf.seeds
        named = []
        for i, (n_cells, channels, n_nodes) in enumerate(
            itertools.product(grid.n_cells, grid.init_channels, grid.n_nodes)
        ):
            args = self.ctx.builder_args(
                "search",
                n_cells=int(n_cells),
                init_channels=int(channels),
                n_nodes=int(n_nodes),
                aux_head=False,
            )
            desc = SeedBuilder(seed_cell=str(self.conf.seed_cell), **args).build()
            desc.meta.update(searcher="petridish", seed_model=i)
            named.append((f"seed_{i:02d}", desc, None))
        return named

    def _chain_seeds(self) -> list[tuple[str, ModelDesc, None]]:
        """Macro seeds on the chain space: every stage ``n_nodes`` layers of ``sep_conv_3x3`` (or
        the space's first op), each plus an identity of its input with ``seed_cell: residual``;
        one seed per ``seeds.init_channels`` x ``seeds.n_nodes`` (``seeds.n_cells`` does not apply:
        the space fixes the stages)."""
        space = self.ctx.space
        op = "sep_conv_3x3" if "sep_conv_3x3" in space.primitives else space.primitives[0]
        named = []
        combos = itertools.product(self.conf.seeds.init_channels, self.conf.seeds.n_nodes)
        for i, (channels, n_nodes) in enumerate(combos):
            sized = type(space)({**space.shape, "init_channels": int(channels)}, **space.options.to_dict())
            layer = [(op, (li,) if self.conf.seed_cell == "residual" else ()) for li in range(int(n_nodes))]
            desc = sized.build([list(layer) for _ in range(int(space.options.stages))])
            desc.meta.update(searcher="petridish", seed_model=i)
            named.append((f"seed_{i:02d}", desc, None))
        return named

    @property
    def macro(self) -> bool:
        """Macro search (one place grows at a time): ``macro``, or when unset, on the chain space."""
        return bool(self.conf.macro) if self.conf.macro is not None else self.ctx.space.name == "chain"

    def _given_seeds(self) -> list[tuple[str, ModelDesc, str | None]]:
        info = self.ctx.dataset_info
        data = {"in_channels": info.channels, "image_size": info.size, "n_classes": info.n_classes}
        named = []
        for i, entry in enumerate(check_seed_models(list(self.conf.seed_models))):
            desc = seed_model_desc(entry, self.ctx.builder_args("search", aux_head=False))
            check_fits(desc, entry, i, data)
            desc.meta.update(
                searcher="petridish", seed_model=i, warm_start=entry.get("desc") or entry["genotype"]
            )
            init = None
            if entry.get("weights") is not None:
                init = f"seeds/seed_{i:02d}_weights.pt"
                target = self.ctx.run_dir / init
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(entry["weights"], target)
            named.append((f"seed_{i:02d}", desc, init))
        return named

    def _train_seeds(self) -> list[dict]:
        """Seeds without weights train ``seed_epochs``; seeds with weights are measured (0 epochs)."""
        named = self._seeds()
        trained = self._train_jobs([n for n in named if n[2] is None], int(self.conf.seed_epochs))
        given = self._train_jobs([n for n in named if n[2] is not None], 0)
        order = [n[0] for n in named]
        return sorted(trained + given, key=lambda e: order.index(e["id"]))

    # ------------------------------------------------------------------ hull and parents

    def front(self, pool: list[dict]) -> ParetoFront:
        records = [
            {"id": e["id"], "val_error": 1 - e["metrics"]["val_top1"], "cost": e["metrics"][self.conf.cost]}
            for e in pool
        ]
        return ParetoFront(
            records, [Objective("val_error"), Objective("cost")], epsilon=float(self.conf.epsilon)
        )

    def sample_parents(self, pool: list[dict], rng: random.Random, n: int) -> list[dict]:
        """Up to ``n`` distinct parents from the epsilon band (models under ``max_macs``).

        ``parent_sampling: hull_walk`` (published, petridishnn's convex-hull choice): walk the
        band from its most expensive model down, taking each with probability
        ``1 / (1 + times expanded)``, and walk again until one is taken; a model never grown is
        always taken, so the walk grows the largest ungrown model of the band first.
        ``cheap_first``: draw with probability proportional to
        ``1 / (1 + times expanded) * (cheapest cost in the band / cost)``."""
        cost = self.conf.cost
        band = [
            e for e, b in zip(pool, self.front(pool).band) if b and e["metrics"]["macs"] <= self.conf.max_macs
        ]
        if self.conf.parent_sampling == "hull_walk":
            band.sort(key=lambda e: (e["metrics"][cost], e["id"]))
        chosen: list[dict] = []
        while band and len(chosen) < n:
            if self.conf.parent_sampling == "hull_walk":
                pick = None
                while pick is None:
                    pick = next(
                        (
                            i
                            for i in reversed(range(len(band)))
                            if rng.random() <= 1 / (1 + band[i]["expanded"])
                        ),
                        None,
                    )
            else:
                cheapest = min(max(e["metrics"][cost], 1) for e in band)
                weights = [cheapest / max(e["metrics"][cost], 1) / (1 + e["expanded"]) for e in band]
                pick = rng.choices(range(len(band)), weights=weights)[0]
            chosen.append(band.pop(pick))
        return chosen

    # ------------------------------------------------------------------ search

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        rng = random.Random(derive_seed(ctx.seed, "petridish/parents"))
        state = self._load(rng)
        start = ctx.now()
        if state is None:
            with self.log.scope("seeds"):
                pool = self._train_seeds()
            if not pool:
                raise RuntimeError("petridish: every seed model failed to train; see events.jsonl")
            state = {"round": 0, "pool": pool, "next_child": 0, "stopped": None}
            self._save(state, rng)
        pool = state["pool"]
        if self.conf.schedule == "async":
            AsyncSearch(self, state, rng, start).run()
        while state["stopped"] is None:
            reason = self._budget_reason(pool, start)
            if reason:
                state["stopped"] = reason
                self._save(state, rng)
                break
            parents = self.sample_parents(pool, rng, int(conf.parents_per_round))
            if not parents:
                state["stopped"] = "no parent left under max_macs in the epsilon band"
                self._save(state, rng)
                break
            with self.log.scope("round", round=state["round"] + 1):
                children = self._grow(parents, state)
            for p in parents:
                next(e for e in pool if e["id"] == p["id"])["expanded"] += 1
            pool.extend(children)
            state["round"] += 1
            self._save(state, rng)
        self.log.info(f"search stopped: {state['stopped']}; {len(pool)} models in the pool")
        return self._result(pool)

    def _budget_reason(self, pool: list[dict], start: float) -> str | None:
        conf = self.conf
        if len(pool) >= int(conf.max_models):
            return f"max_models={conf.max_models} reached"
        if float(conf.max_seconds) > 0 and self.ctx.now() - start > float(conf.max_seconds):
            return f"max_seconds={conf.max_seconds} reached"
        return None

    def _check_parent_weights(self, parents: list[dict]) -> None:
        """Every parent's trained weights must load before it is grown: a damaged ``weights.pt``
        is rebuilt by training that parent's job again from its inputs (its description and warm
        start); the search never takes another path because a file was damaged."""
        damaged = [p for p in parents if not readable_checkpoint(self._path(p["weights"]))]
        if not damaged:
            return
        for p in damaged:
            if "init" not in p:  # a state written before parents could be rebuilt
                raise DamagedStateError(
                    self._path(p["weights"]),
                    "this run cannot rebuild it; start the search afresh in a new --exp-dir",
                )
        jobs = [self._train_job(p["id"], self._desc(p), p["init"], p["epochs"]).as_args() for p in damaged]
        results = self.ctx.run_jobs(run_train_job, jobs, names=[p["id"] for p in damaged])
        for p, res in zip(damaged, results):
            if not res.ok or not readable_checkpoint(self._path(p["weights"])):
                raise DamagedStateError(
                    self._path(p["weights"]),
                    "retraining its job failed (see events.jsonl); start the search afresh in a new --exp-dir",
                )
            self.log.event(
                "recovered",
                level="warning",
                notes=[f"the weights of parent {p['id']} could not be read; its job was trained again"],
            )

    def _grow(self, parents: list[dict], state: dict) -> list[dict]:
        self._check_parent_weights(parents)
        first = state["next_child"]
        ids = [f"child_{first + i:03d}" for i in range(len(parents))]
        state["next_child"] += len(parents)
        jobs = [
            self._candidate_job(cid, parent, first + i) for i, (cid, parent) in enumerate(zip(ids, parents))
        ]
        results = self.ctx.run_jobs(run_candidate_job, jobs, names=[f"{c}_candidates" for c in ids])
        grown = [self._child_of(cid, parent, res) for cid, parent, res in zip(ids, parents, results)]
        grown = [g for g in grown if g is not None]
        return self._train_jobs([g[:3] for g in grown], int(self.conf.child_epochs), [g[3] for g in grown])

    def _candidate_job(self, cid: str, parent: dict, index: int) -> tuple:
        """The arguments of the candidate job that grows ``parent`` into child ``cid`` (the
        ``index``-th growth of the search: its own random start)."""
        conf = self.conf
        base = self.ctx.train_job(f"{cid}_candidates", self._desc(parent), "search")
        return CandidateJob(
            name=base.name,
            parent_desc=base.desc,
            parent_weights=str(self._path(parent["weights"])),
            dataset=base.dataset,
            loader=base.loader,
            trainer={**base.trainer, "epochs": int(conf.candidate_epochs)},
            job_dir=base.job_dir,
            primitives=self.ctx.space.primitives,
            top_k=int(conf.top_k),
            l1_weight=_optional(conf.l1_weight),
            alpha_init=_optional(conf.alpha_init),
            stop_forward_scale=_optional(conf.stop_forward_scale),
            merge=str(conf.merge),
            macro=self.macro,
            seed=derive_seed(base.seed, f"petridish/candidate layers {index}"),  # grown twice: 2 inits
            device=base.device,
            num_threads=base.num_threads,
            console=base.console,
        ).as_args()

    def _child_of(self, cid: str, parent: dict, res) -> tuple[str, ModelDesc, str, int] | None:
        """``(id, desc, init, inherited epochs)`` of the child a finished candidate job chose, or
        None (logged) when the job failed."""
        if not res.ok:
            self.log.error(
                f"candidate training for {cid} (parent {parent['id']}) failed", traceback=res.error
            )
            return None
        job_dir = Path("jobs") / f"{cid}_candidates"  # result paths are relative to the job folder
        desc = ModelDesc.load(self._path(str(job_dir / res.value["child_desc"])))
        desc.meta.update(parent=parent["id"])
        self.log.event("grow", parent=parent["id"], child=cid, selection=res.value["selection"])
        # the child starts from the candidate phase's weights: the parent's and its epochs
        inherited = _trained_epochs(parent) + int(self.conf.candidate_epochs)
        return cid, desc, str(job_dir / res.value["child_init"]), inherited

    def _result(self, pool: list[dict]) -> SearchResult:
        front = self.front(pool)
        candidates = []
        for e in pool:
            desc = self._desc(e)
            candidates.append(
                Candidate(
                    e["id"],
                    desc,
                    {
                        **e["metrics"],
                        "parent": e["parent"],
                        "times_expanded": e["expanded"],
                        "trained_epochs": _trained_epochs(e),
                    },
                )
            )
        gallery = [c for c, b in zip(candidates, front.band) if b]
        gallery.sort(key=lambda c: -c.metrics["val_top1"])
        for c in gallery:  # the gallery: every model in the epsilon band, with its metrics
            c.desc.meta["metrics"] = {k: v for k, v in c.metrics.items() if isinstance(v, (int, float, str))}
            c.desc.save(self.ctx.run_dir / "gallery" / f"{c.id}.yaml")
        write_json(
            self.ctx.run_dir / "gallery" / "gallery.json",
            [
                {
                    "id": c.id,
                    **{k: c.metrics.get(k) for k in ("val_top1", "params", "macs", "trained_epochs")},
                }
                for c in gallery
            ],
        )
        return SearchResult(candidates, final=[c.id for c in gallery])
