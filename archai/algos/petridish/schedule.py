"""Petridish's asynchronous search (``schedule: async``): petridishnn's queues, no round barrier.

Whenever the executor has a free slot, the search submits, in this order:

1. a child waiting to be trained (the newest first, as petridishnn's FILO child queue);
2. else a candidate job for a parent drawn from the pool at once (the hull walk or the
   ``parent_sampling`` rule), as long as the pool plus the work in flight stays under
   ``max_models`` and ``max_seconds`` has not passed.

A finished candidate job queues its child; a finished child joins the pool, which the next draw
sees. Results are taken as :meth:`Executor.as_completed` gives them: on the local executor in
submission order (the run is deterministic for a given ``executor.workers``), on Ray as they
finish. The saved state (``search/petridish.json``, after every event) holds the queue and the
jobs in flight; a resumed search submits those again, and the ones that had finished return
their saved results at once.
"""

from __future__ import annotations

import random
from typing import Any

from archai.algos.petridish.jobs import run_candidate_job
from archai.search.jobs import run_train_job
from archai.space.model_desc import ModelDesc


class AsyncSearch:
    """Runs the asynchronous loop of ``searcher`` (a
    :class:`~archai.algos.petridish.searcher.PetridishSearcher`, which imports this module) on
    ``state``, changed in place and saved after every event."""

    def __init__(self, searcher: Any, state: dict, rng: random.Random, start: float) -> None:
        self.s, self.state, self.rng, self.start = searcher, state, rng, start
        self.executor = searcher.ctx.executor
        self.slots = max(1, int(getattr(self.executor, "slots", 1)))
        state.setdefault("children", [])  # trained candidates' children, waiting for a slot
        state.setdefault("in_flight", [])  # submitted jobs, in submission order
        state.setdefault("trace", [])  # per fill: see _fill
        self.handles: dict[str, object] = {}

    @property
    def pool(self) -> list[dict]:
        return self.state["pool"]

    def run(self) -> None:
        for job in self.state["in_flight"]:  # a resumed search: submit again (finished ones are free)
            self.handles[job["id"]] = self._submit(job)
        while True:
            self._fill()
            if not self.state["in_flight"]:
                break
            handles = [self.handles[j["id"]] for j in self.state["in_flight"]]
            done = next(iter(self.executor.as_completed(handles)))
            job = next(j for j in self.state["in_flight"] if j["id"] == done.name.removesuffix("_candidates"))
            self.state["in_flight"].remove(job)
            del self.handles[job["id"]]
            self._finish(job, self.s.ctx.note_repairs(done.result()))
            self.s._save(self.state, self.rng)
        self.state["stopped"] = self.state["stopped"] or self._budget() or "no parent left to grow"
        self.s._save(self.state, self.rng)

    def _budget(self) -> str | None:
        """Why no new parent may be drawn (the models already promised count), or None."""
        state, conf = self.state, self.s.conf
        promised = len(self.pool) + len(state["children"]) + len(state["in_flight"])
        if promised >= int(conf.max_models):
            return f"max_models={conf.max_models} reached"
        if float(conf.max_seconds) > 0 and self.s.ctx.now() - self.start > float(conf.max_seconds):
            return f"max_seconds={conf.max_seconds} reached"
        return None

    def _fill(self) -> None:
        state = self.state
        while len(state["in_flight"]) < self.slots:
            if state["children"]:
                job = state["children"].pop()  # the newest child first
            elif state["stopped"] is None and self._budget() is None:
                parents = self.s.sample_parents(self.pool, self.rng, 1)
                if not parents:
                    break
                parent = parents[0]
                parent["expanded"] += 1  # counted when drawn, so the next draw sees it
                self.s._check_parent_weights([parent])
                index = state["next_child"]
                state["next_child"] += 1
                job = {
                    "kind": "candidate",
                    "id": f"child_{index:03d}",
                    "parent": parent["id"],
                    "index": index,
                }
            else:
                break
            state["in_flight"].append(job)
            self.handles[job["id"]] = self._submit(job)
        # [jobs in flight, children waiting, whether a parent could still be drawn]: a slot idles
        # only when neither work is there (tests check it)
        could_draw = state["stopped"] is None and self._budget() is None
        state["trace"].append([len(state["in_flight"]), len(state["children"]), could_draw])

    def _parent(self, pid: str) -> dict:
        return next(e for e in self.pool if e["id"] == pid)

    def _submit(self, job: dict):
        s = self.s
        if job["kind"] == "candidate":
            args = s._candidate_job(job["id"], self._parent(job["parent"]), job["index"])
            return self.executor.submit(run_candidate_job, args, name=f"{job['id']}_candidates")
        desc = self._child_desc(job)
        train = s._train_job(job["id"], desc, job["init"], int(s.conf.child_epochs))
        return self.executor.submit(run_train_job, train.as_args(), name=job["id"])

    def _child_desc(self, job: dict) -> ModelDesc:
        desc = ModelDesc.load(self.s._path(job["desc"]))
        desc.meta.update(parent=job["parent"])
        return desc

    def _finish(self, job: dict, result) -> None:
        s = self.s
        if job["kind"] == "candidate":
            grown = s._child_of(job["id"], self._parent(job["parent"]), result)
            if grown is not None:
                cid, _, init, inherited = grown
                desc_path = f"jobs/{cid}_candidates/{result.value['child_desc']}"
                self.state["children"].append(
                    {
                        "kind": "child",
                        "id": cid,
                        "parent": job["parent"],
                        "desc": desc_path,
                        "init": init,
                        "inherited": inherited,
                    }
                )
            return
        desc = self._child_desc(job)
        cand = s.ctx.candidate(job["id"], desc, result)
        if not cand.metrics.get("failed"):
            epochs = int(s.conf.child_epochs)
            self.pool.append(s._entry(job["id"], desc, job["init"], epochs, job["inherited"], cand))
