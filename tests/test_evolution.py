"""Sampling and mutation of cells, and the evolution searcher end to end (local, resumed, Ray)."""

import json
import random

import pytest
from toy_runs import SMALL, cli, flags

from archai.common.logger import read_events
from archai.space import (
    DARTS_PRIMITIVES,
    ModelDesc,
    TemplateBuilder,
    mutate_desc,
    mutate_input,
    mutate_op,
    sample_cell,
)

PRIMS = list(DARTS_PRIMITIVES[1:])


def edges(cell):
    return [(ni, e.op.name, e.input) for ni, n in enumerate(cell.nodes) for e in n.edges]


def test_sampled_cells_are_valid_and_repeat_with_the_seed():
    a, b = (sample_cell(random.Random(7), "normal", 4, PRIMS) for _ in range(2))
    assert a == b and a.concat == [2, 3, 4, 5]
    for ni, node in enumerate(a.nodes):
        inputs = [e.input for e in node.edges]
        assert len(set(inputs)) == 2 and all(0 <= i < 2 + ni for i in inputs)
        assert all(e.op.name in PRIMS for e in node.edges)


@pytest.mark.parametrize("seed", range(20))
def test_mutations_change_exactly_one_thing(seed):
    rng = random.Random(seed)
    cell = sample_cell(rng, "normal", 4, PRIMS)
    op_child, in_child = mutate_op(rng, cell, PRIMS), mutate_input(rng, cell)
    diff = [(x, y) for x, y in zip(edges(cell), edges(op_child)) if x != y]
    assert len(diff) == 1 and diff[0][0][1] != diff[0][1][1] and diff[0][1][1] in PRIMS
    assert diff[0][0][2] == diff[0][1][2]  # same input, new op
    diff = [(x, y) for x, y in zip(edges(cell), edges(in_child)) if x != y]
    if diff:  # node 0 reads both cell inputs already: nothing to move
        [(old, new)] = diff
        assert old[1] == new[1] and old[2] != new[2] and 0 <= new[2] < 2 + new[0]
    for node in in_child.nodes:
        assert len({e.input for e in node.edges}) == len(node.edges)
    assert edges(cell) == edges(sample_cell(random.Random(seed), "normal", 4, PRIMS))  # parent untouched


def test_mutate_desc_changes_one_cell_kind_everywhere_and_keeps_channels():
    rng = random.Random(3)
    cells = [sample_cell(rng, k, 3, PRIMS) for k in ("normal", "reduction")]
    desc = TemplateBuilder(*cells, init_channels=8, n_cells=6, n_nodes=3).build()
    child = mutate_desc(rng, desc, PRIMS)
    assert [c.channels for c in child.cells] == [c.channels for c in desc.cells]
    changed = {c.kind for c, d in zip(child.cells, desc.cells) if edges(c) != edges(d)}
    assert len(changed) == 1
    kind = changed.pop()
    assert len({str(edges(c)) for c in child.cells if c.kind == kind}) == 1
    assert child.digest() != desc.digest() and desc.digest() == desc.digest()
    child.validate()


SMALL = flags(
    {**SMALL, "algos.evolution.population": 3, "algos.evolution.sample": 2, "algos.evolution.cycles": 6}
)


def test_evolution_end_to_end_and_resumed_from_its_jobs(tmp_path, capsys):
    exp = tmp_path / "exp"
    assert cli.main(["--algos", "evolution", "--exp-dir", str(exp), *SMALL]) == 0
    run = exp / "evolution"
    result = json.loads((run / "search_result.json").read_text())
    assert [c["id"] for c in result["candidates"]] == [f"model_{i:04d}" for i in range(6)]
    events = [e for e in read_events(run / "events.jsonl") if e["kind"] == "candidate"]
    assert len(events) == 6
    parents = [e["fields"].get("parent") for e in events]
    assert parents[:3] == [None] * 3  # the random initial population
    ids = [e["fields"]["id"] for e in events]
    assert all(p in ids[:i] for i, p in enumerate(parents) if i >= 3)  # children of earlier models
    best = max(result["candidates"], key=lambda c: c["metrics"]["val_top1"])
    assert result["final"][0] == best["id"]
    summary = json.loads((run / "summary.json").read_text())
    assert 0 <= summary["test_top1"] <= 1
    # a search stopped before it wrote its result replays from its finished jobs
    jobs = {p: p.stat().st_mtime_ns for p in (run / "jobs").glob("arch_*/result.json")}
    assert 1 <= len(jobs) <= 6  # a repeated architecture shares its job
    for name in ("search_result.json", "summary.json"):
        (run / name).unlink()
    assert cli.main(["--algos", "evolution", "--exp-dir", str(exp), "--resume", *SMALL]) == 0
    again = json.loads((run / "search_result.json").read_text())
    assert again == result
    assert {p: p.stat().st_mtime_ns for p in (run / "jobs").glob("arch_*/result.json")} == jobs


def test_evolution_on_ray(tmp_path):
    pytest.importorskip("ray")
    exp = tmp_path / "exp"
    ray = ["--executor.kind", "ray", "--executor.num_cpus", "2", "--eval.enabled", "false"]
    assert cli.main(["--algos", "evolution", "--exp-dir", str(exp), *SMALL, *ray]) == 0
    result = json.loads((exp / "evolution" / "search_result.json").read_text())
    assert len(result["candidates"]) == 6 and not any(
        c["metrics"].get("failed") for c in result["candidates"]
    )


def test_a_repeated_architecture_shares_one_job_even_when_running(tmp_path):
    # one op and one node per cell: every sample and every mutant is the same network
    exp = tmp_path / "exp"
    same = ["--space.darts.primitives", "[skip_connect]", "--search.model.n_nodes", "1"]
    assert (
        cli.main(["--algos", "evolution", "--exp-dir", str(exp), *SMALL, *same, "--eval.enabled", "false"])
        == 0
    )
    run = exp / "evolution"
    result = json.loads((run / "search_result.json").read_text())
    assert len(result["candidates"]) == 6
    by_digest = {}
    for c in result["candidates"]:
        digest = ModelDesc.load(run / c["desc"]).digest()
        by_digest.setdefault(digest, []).append(c["metrics"])
    assert len(by_digest) < 6  # only two edge orders of one node exist
    assert all(m == ms[0] for ms in by_digest.values() for m in ms)  # one training per architecture
    assert sorted(p.name for p in (run / "jobs").iterdir()) == sorted(f"arch_{d}" for d in by_digest)
