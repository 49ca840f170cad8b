"""Petridish: stop-forward, zero-gated joins, warm starts, selection, and end-to-end runs."""

import csv
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from toy_runs import PETRIDISH_SMALL, ROOT, flags, kill_point

from archai.algos.petridish.space import (
    SeedBuilder,
    candidate_desc,
    child_desc,
    child_init_state,
    select_pairs,
)
from archai.search.jobs import warm_start
from archai.search.trainer import trainer_conf
from archai.space.model import build_model
from archai.space.model_desc import ModelDesc
from archai.space.supernet import Supernet

PRIMS = ["sep_conv_3x3", "max_pool_3x3", "skip_connect"]


def parent_desc():
    return SeedBuilder(init_channels=4, n_cells=3, n_nodes=1, in_channels=1, image_size=12).build()


def x_batch():
    return torch.randn(4, 1, 12, 12, generator=torch.Generator().manual_seed(0))


def test_stop_forward_is_zero_forward_and_trains_candidates(tmp_path):
    torch.manual_seed(0)
    parent = build_model(parent_desc()).eval()
    net = Supernet(candidate_desc(parent_desc(), PRIMS), weighting="linear").eval()
    warm_start(net.model, _saved(parent, tmp_path))
    x = x_batch()
    assert torch.equal(net(x), parent(x))  # candidates contribute nothing to the output
    net.train()
    net(x).sum().backward()
    cand_grads = [p.grad for n, p in net.model.named_parameters() if ".nodes.1." in n]
    assert cand_grads and any(g is not None and g.abs().sum() > 0 for g in cand_grads)
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in net.arch_parameters())


def test_candidates_leave_the_parents_gradients_unchanged(tmp_path):
    # stop-forward (nothing added in the forward pass) and stop-gradient (nothing sent back into
    # the parent) together: the parent's gradients are exactly those of the bare parent
    torch.manual_seed(0)
    parent = build_model(parent_desc()).train()
    net = Supernet(candidate_desc(parent_desc(), PRIMS), weighting="linear").train()
    warm_start(net.model, _saved(parent, tmp_path))
    x = x_batch()
    parent(x).square().mean().backward()
    net(x).square().mean().backward()
    own = dict(net.model.named_parameters())
    for name, p in parent.named_parameters():
        if p.grad is None:  # the seed cell ignores input 0: candidates read it, yet no gradient arrives
            assert own[name].grad is None, name
        else:
            assert torch.allclose(own[name].grad, p.grad, atol=1e-7), name
    assert any(p.grad is None for p in parent.parameters())


def _saved(model, folder):
    path = folder / "parent_weights.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize("merge", ["concat_proj", "sum"])
def test_zero_gate_child_equals_parent_and_warm_start_copies_weights(tmp_path, merge):
    torch.manual_seed(0)
    parent = build_model(parent_desc()).eval()
    selection = {"normal": [(0, "sep_conv_3x3"), (2, "max_pool_3x3")], "reduction": [(1, "skip_connect")]}
    desc = child_desc(parent_desc(), selection, merge)
    assert {n.merge for c in desc.cells for n in c.nodes[1:]} == {merge}
    child = build_model(desc).eval()
    new = warm_start(child, _saved(parent, tmp_path))
    assert new and all("nodes.1." in k or "gates" in k or "projections" in k for k in new)
    if merge == "concat_proj":  # ReLU, 1x1 convolution of the two (one) edges back to C, batch norm
        proj = child.cells[0].projections["1"]
        assert proj[1].weight.shape == (4, 8, 1, 1) and isinstance(proj[2], torch.nn.BatchNorm2d)
        assert child.cells[1].projections["1"][1].weight.shape == (8, 8, 1, 1)
    for k, v in parent.state_dict().items():
        assert torch.equal(child.state_dict()[k], v)
    x = x_batch()
    assert torch.equal(child(x), parent(x))
    child.train()
    child(x).sum().backward()
    gates = [p for n, p in child.named_parameters() if "gates" in n]
    assert gates and all(g.grad is not None and g.grad.abs() > 0 for g in gates)


def test_child_init_reproduces_the_candidate_phase_model_and_its_op_weights():
    torch.manual_seed(0)
    net = Supernet(candidate_desc(parent_desc(), PRIMS), weighting="linear").eval()
    with torch.no_grad():  # as if the candidate ops had been trained
        for p in net.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    selection = {"normal": [(2, "sep_conv_3x3"), (0, "skip_connect")]}
    cdesc = child_desc(parent_desc(), selection)
    child = build_model(cdesc).eval()
    child.load_state_dict(child_init_state(net.state_dict(), child, parent_desc(), selection, PRIMS))
    x = x_batch()
    assert torch.equal(child(x), net(x))
    # the new edge (input 2, sep_conv_3x3) starts with the candidate's trained weights
    src = net.model.state_dict()["cells.0.nodes.1.2._ops.0.0.1.weight"]
    assert torch.equal(child.state_dict()["cells.0.nodes.1.1.0.1.weight"], src)


def test_concat_proj_node_computes_the_projected_concatenation():
    torch.manual_seed(0)
    selection = {"normal": [(1, "sep_conv_3x3"), (2, "skip_connect")]}
    child = build_model(child_desc(parent_desc(), selection, "concat_proj")).eval()
    cell = child.cells[0]
    with torch.no_grad():
        cell.gates["3"].fill_(0.7)
        s0, s1 = torch.randn(2, 4, 12, 12, 12).unbind(0)  # the stem gives 3 x C
        states = [cell.preprocess0(s0), cell.preprocess1(s1)]
        states.append(cell.nodes[0][0](states[1]) + cell.nodes[0][1](states[1]))
        new = cell.projections["1"](torch.cat([cell.nodes[1][0](states[1]), cell.nodes[1][1](states[2])], 1))
        assert torch.allclose(cell(s0, s1), states[2] + 0.7 * new, atol=1e-6)


def test_residual_seed_cell_adds_an_identity():
    res = SeedBuilder(seed_cell="residual", init_channels=4, n_cells=3, n_nodes=1).build()
    plain = SeedBuilder(seed_cell="sep_conv", init_channels=4, n_cells=3, n_nodes=1).build()
    assert all(
        [(e.op.name, e.input) for e in c.nodes[0].edges] == [("sep_conv_3x3", 1), ("skip_connect", 1)]
        for c in res.cells
    )
    assert all(len(c.nodes[0].edges) == 1 for c in plain.cells)
    with pytest.raises(ValueError, match="seed_cell must be one of"):
        SeedBuilder(seed_cell="resnet")


def test_select_pairs_by_absolute_weight():
    w = torch.tensor([[0.1, -0.9, 0.0], [0.5, 0.05, -0.6], [0.0, 0.2, 0.0]])
    assert select_pairs(w, PRIMS, 3) == [(0, "max_pool_3x3"), (1, "skip_connect"), (1, "sep_conv_3x3")]
    # pairs the L1 penalty drove to zero are not chosen, but a node keeps at least one pair
    assert select_pairs(torch.tensor([[0.0, 0.3], [0.0, 0.0]]), PRIMS[:2], 3) == [(0, "max_pool_3x3")]
    assert len(select_pairs(torch.zeros(2, 2), PRIMS[:2], 3)) == 1


def test_candidate_init_published_and_gradient_scale(tmp_path):
    from archai.algos.petridish.jobs import init_candidates

    parent = build_model(parent_desc())
    grads = {}
    for scale in (1.0, 0.25):
        torch.manual_seed(0)
        net = Supernet(candidate_desc(parent_desc(), PRIMS), weighting="linear").train()
        warm_start(net.model, _saved(parent, tmp_path))
        l1 = init_candidates(net, None, None, 1000, scale)
        for kind, a in net.alphas.items():  # (2 + 1 states) x 3 ops in every cell kind
            assert a.numel() == 9 and torch.all(a == 1 / 9), kind
            assert l1[kind] == pytest.approx(1e-2 / 9)
        net(x_batch()).square().mean().backward()
        grads[scale] = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}
    assert grads[1.0].keys() == grads[0.25].keys()
    candidates = [n for n in grads[1.0] if n.startswith("alphas") or ".nodes.1." in n]
    assert candidates
    for n, g in grads[1.0].items():  # the candidates' gradients come through the join: scaled
        factor = 0.25 if n in candidates else 1.0  # the parent's own: unchanged
        assert torch.allclose(grads[0.25][n], factor * g, rtol=1e-4, atol=1e-9), n
    net = Supernet(candidate_desc(parent_desc(), PRIMS), alpha_init=0.1, weighting="linear")
    init_candidates(net, None, None, 1000, None)  # published scale: 1 / training images
    assert all(m.stop_forward_scale == 1e-3 for m in net.model.cells)
    before = {k: a.clone() for k, a in net.alphas.items()}
    assert init_candidates(net, 0.1, 1e-3, 1000, 1.0) == {"normal": 1e-3, "reduction": 1e-3}
    assert all(torch.equal(a, before[k]) for k, a in net.alphas.items())  # its own random start kept


def _sampler(parent_sampling):
    from types import SimpleNamespace

    from archai.algos.petridish.searcher import PetridishSearcher
    from archai.common.config import Config

    conf = Config({"epsilon": 0.5, "cost": "macs", "max_macs": 1e9, "parent_sampling": parent_sampling})
    return PetridishSearcher(SimpleNamespace(algo_conf=conf))


def test_parent_sampling_hull_walk_grows_the_largest_ungrown_model_first():
    import random

    searcher = _sampler("hull_walk")

    def model(i, err, macs, expanded=0):
        return {"id": i, "metrics": {"val_top1": 1 - err, "macs": macs}, "expanded": expanded}

    pool = [
        model("cheap", 0.30, 100),
        model("mid", 0.25, 200),
        model("dear", 0.20, 400),
        model("off", 0.9, 150),
    ]
    rng = random.Random(0)
    assert [p["id"] for p in searcher.sample_parents(pool, rng, 4)] == ["dear", "mid", "cheap"]
    pool[2]["expanded"] = 1  # dear taken w.p. 1/2, else mid (never grown) always
    picks = [searcher.sample_parents(pool, rng, 1)[0]["id"] for _ in range(2000)]
    assert set(picks) == {"dear", "mid"} and 0.45 < picks.count("dear") / len(picks) < 0.55
    for e, n in zip(pool, (3, 3, 3)):  # all grown 3 times: 1/4, then 3/4 * 1/4, then the rest
        e["expanded"] = n
    picks = [searcher.sample_parents(pool, rng, 1)[0]["id"] for _ in range(4000)]
    shares = [picks.count(i) / len(picks) for i in ("dear", "mid", "cheap")]
    expect = [1 / 4 / (1 - (3 / 4) ** 3), 3 / 16 / (1 - (3 / 4) ** 3), 9 / 64 / (1 - (3 / 4) ** 3)]
    assert all(abs(s - e) < 0.03 for s, e in zip(shares, expect)), shares


def test_parent_sampling_favours_cheaper_and_less_expanded_models():
    import random

    searcher = _sampler("cheap_first")

    def model(i, err, macs, expanded=0):
        return {"id": i, "metrics": {"val_top1": 1 - err, "macs": macs}, "expanded": expanded}

    pool = [model("cheap", 0.30, 100), model("dear", 0.20, 400), model("off_band", 0.9, 150)]
    rng = random.Random(0)
    picks = [searcher.sample_parents(pool, rng, 1)[0]["id"] for _ in range(2000)]
    assert "off_band" not in picks  # outside the epsilon band: never a parent
    assert 0.75 < picks.count("cheap") / len(picks) < 0.85  # weights 1 : 1/4
    pool[0]["expanded"] = 3  # now 1/4 : 1/4
    picks = [searcher.sample_parents(pool, rng, 1)[0]["id"] for _ in range(2000)]
    assert 0.45 < picks.count("cheap") / len(picks) < 0.55
    assert {p["id"] for p in searcher.sample_parents(pool, rng, 5)} == {"cheap", "dear"}  # distinct


SMALL = flags(
    {
        **PETRIDISH_SMALL,
        "search.loader.train_limit": 400,
        "loader.test_limit": 200,
        "loader.train_limit": 400,
        "eval.trainer.epochs": 1,
        "common.progress": "false",
        "common.quiet": "true",
    }
)


def _main(exp, extra=(), threads=None, kill_after=None):
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "main.py"),
        "--algos",
        "petridish",
        "--exp-dir",
        str(exp),
        *SMALL,
        *extra,
    ]
    env, plugin = kill_point(kill_after) if kill_after else (dict(os.environ), [])
    if threads:
        cmd += ["--common.num_threads", str(threads)]
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.Popen(
        [*cmd, *plugin], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _pool(exp):
    return {
        e["id"]: (e["metrics"]["val_top1"], e["parent"])
        for e in json.loads((exp / "petridish" / "search" / "petridish.json").read_text())["pool"]
    }


def test_petridish_end_to_end_kill_and_resume(tmp_path):
    """Killed mid-round and resumed, with two worker processes (one thread per job, as the
    reference's jobs): the pool equals the uninterrupted in-process run's."""
    ref = _main(tmp_path / "ref", threads=1)
    workers = ["--executor.workers", "2"]
    # SIGKILL after the seeds, mid-round: the moment the first candidate job has finished
    victim = _main(
        tmp_path / "killed",
        workers,
        threads=1,
        kill_after="killed/petridish/jobs/child_000_candidates/result.json",
    )
    _, err = victim.communicate(timeout=600)
    assert victim.returncode == -signal.SIGKILL, err[-2000:]
    assert (tmp_path / "killed" / "petridish" / "search" / "petridish.json").exists()
    resumed = _main(tmp_path / "killed", [*workers, "--resume"], threads=1)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err[-3000:]
    assert _pool(tmp_path / "killed") == _pool(tmp_path / "ref")
    pool = _pool(tmp_path / "ref")
    assert len(pool) >= 4 and any(p is not None for _, p in pool.values())
    run = tmp_path / "ref" / "petridish"
    rows = list(csv.DictReader((run / "pareto.csv").open()))
    assert len(rows) == len(pool)
    points = {r["id"]: (float(r["val_error"]), float(r["macs"])) for r in rows}

    def dominated(a):  # by another model no worse in both and better in one
        return any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in points.values())

    front = {i for i, pt in points.items() if not dominated(pt)}
    assert front and {r["id"] for r in rows if r["on_front"] == "true"} == front
    gallery = json.loads((run / "gallery" / "gallery.json").read_text())
    assert gallery and all((run / "gallery" / f"{g['id']}.yaml").is_file() for g in gallery)
    # epochs really trained: a child's weights carry its parent's and the candidate phase's
    entries = {e["id"]: e for e in json.loads((run / "search" / "petridish.json").read_text())["pool"]}
    candidate_epochs = yaml.safe_load((run / "config.yaml").read_text())["algos"]["petridish"][
        "candidate_epochs"
    ]
    for e in entries.values():
        before = 0 if e["parent"] is None else entries[e["parent"]]["trained_epochs"] + candidate_epochs
        assert e["trained_epochs"] == before + e["epochs"], e["id"]
    assert max(e["trained_epochs"] for e in entries.values()) > max(e["epochs"] for e in entries.values())
    assert all(g["trained_epochs"] == entries[g["id"]]["trained_epochs"] for g in gallery)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_candidate"] == gallery[0]["id"] and summary["test_top1"] > 0


def test_petridish_on_ray(tmp_path):
    pytest.importorskip("ray")
    p = _main(
        tmp_path / "ray", ["--executor.kind", "ray", "--executor.num_cpus", "2", "--common.num_threads", "1"]
    )
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    assert len(_pool(tmp_path / "ray")) >= 4


def _candidate_job(tmp_path, primitives, **kw):
    from archai.algos.petridish.jobs import CandidateJob

    parent = build_model(parent_desc())
    return CandidateJob(
        name="child_000_candidates",
        parent_desc=parent_desc().to_data(),
        parent_weights=str(_saved(parent, tmp_path)),
        dataset={"name": "fashion_mnist_mini", "dataroot": None, "download": False},
        loader={
            "batch_size": 32,
            "eval_batch_size": 256,
            "val_fraction": 0.2,
            "train_limit": 480,
            "test_limit": 64,
            "augment": False,
            "cutout": 0,
            "num_workers": 0,
            "pin_memory": False,
        },
        trainer=trainer_conf(epochs=6, log_every_steps=0, progress_every_s=0.0).to_dict(),
        job_dir=str(tmp_path / "job"),
        primitives=primitives,
        seed=3,
        device="cpu",
        **kw,
    )


def test_candidate_phase_trains_the_alphas_and_selects_the_useful_op(tmp_path):
    # 'none' outputs zeros: its weights get no gradient from the loss, only from the L1 penalty,
    # so a trained candidate phase must rank a sep_conv pair first. Untrained weights (their
    # random start) would rank the pairs by noise.
    from archai.algos.petridish.jobs import init_candidates, run_candidate_job

    prims = ["none", "sep_conv_3x3"]
    job = _candidate_job(tmp_path, prims, top_k=1, stop_forward_scale=1.0)  # published init and L1
    start = Supernet(candidate_desc(parent_desc(), prims), weighting="linear")
    init_candidates(start, None, None, 1, 1.0)
    result = run_candidate_job(job.as_args()[0])
    for kind, trained in result["alphas"].items():
        trained, initial = torch.tensor(trained), start.alphas[kind].detach()
        assert not torch.allclose(trained, initial, atol=1e-4), kind  # the alphas moved
        assert (trained[:, 0].abs() < initial[:, 0].abs()).all(), kind  # none: only L1, shrinks
        assert trained[:, 1].abs().max() > 1.1 * trained[:, 0].abs().max(), kind  # grew past none
        assert [op for _, op in result["selection"][kind]] == ["sep_conv_3x3"], kind


def test_final_training_doubles_normal_cells_and_channels_of_the_found_model():
    from types import SimpleNamespace

    from archai.common.config import Config, ConfigError
    from archai.search.evaluator import scale_desc
    from archai.space.spaces.base import make_space

    selection = {"normal": [(0, "sep_conv_3x3"), (2, "max_pool_3x3")], "reduction": [(1, "skip_connect")]}
    found = child_desc(SeedBuilder(init_channels=8, n_cells=5, n_nodes=1).build(), selection)
    conf = Config({"eval": {"model": {"aux_head": False}}})
    ctx = SimpleNamespace(space=make_space("darts"), conf=conf)
    assert scale_desc(ctx, found, 1, 1) is found
    big = scale_desc(ctx, found, 2, 2)
    kinds = [c.kind for c in big.cells]  # 3 normal cells (1 per resolution) -> 6, at C=16
    assert kinds == ["normal"] * 2 + ["reduction"] + ["normal"] * 2 + ["reduction"] + ["normal"] * 2
    assert big.init_channels == 16 and big.meta["scaled"] == {"depth_multiplier": 2, "width_multiplier": 2}
    for cell in big.cells:  # the found cells, grown node and its merge included
        twin = next(c for c in found.cells if c.kind == cell.kind)
        assert cell.nodes == twin.nodes and cell.concat == twin.concat
    ctx.space = make_space("nb201")
    with pytest.raises(ConfigError, match="set both to 1"):
        scale_desc(ctx, make_space("nb201").sample(__import__("random").Random(0)), 2, 1)


def test_a_grown_child_exports_and_runs_without_archai(tmp_path):
    from archai.space.export import check_export, export_model

    selection = {"normal": [(0, "sep_conv_3x3"), (2, "max_pool_3x3")], "reduction": [(1, "skip_connect")]}
    desc = child_desc(parent_desc(), selection, "concat_proj")
    torch.manual_seed(0)
    model = build_model(desc).eval()
    with torch.no_grad():  # an open gate, so the projected node counts in the output
        for g in model.parameters():
            g.add_(0.1)
    out = export_model(desc, model.state_dict(), tmp_path / "m.pt", "torchscript", check=False)
    assert check_export(out.path, "torchscript", model, [1, 12, 12]) < 1e-4  # in a Python without Archai


def _seed_file(tmp_path, with_weights=True):
    desc = SeedBuilder(
        init_channels=4, n_cells=3, n_nodes=1, in_channels=1, image_size=28, n_classes=10, stem_stride=2
    ).build()
    path = desc.save(tmp_path / "net.yaml")
    entry = {"desc": str(path)}
    if with_weights:
        torch.manual_seed(0)
        torch.save(build_model(desc).state_dict(), tmp_path / "net.pt")
        entry["weights"] = str(tmp_path / "net.pt")
    return desc, entry


@pytest.mark.parametrize(
    "entries,epochs,message",
    [
        ([{"desc": "net.yaml", "genotype": "DARTS_V2"}], 1, r"seed_models\[0\]: give exactly one of"),
        ([{"genotype": "DARTS_V2", "wieghts": "x.pt"}], 1, r"unknown key\(s\) \['wieghts'\]"),
        ([{"desc": "no_such.yaml"}], 1, r"seed_models\[0\].desc: no file no_such.yaml"),
        ([{"genotype": "DARTS_V9"}], 1, r"seed_models\[0\].genotype: .*published ones: .*DARTS_V2"),
        ([{"genotype": "DARTS_V2"}], 0, "seed_epochs 0 trains no seed"),
        (
            [{"genotype": "DARTS_V2", "n_cells": 0}],
            1,
            r"seed_models\[0\].n_cells: expected a positive integer",
        ),
        ([], 0, "seed_epochs 0 trains no seed"),
    ],
)
def test_seed_models_are_checked_before_the_run(entries, epochs, message):
    from archai.algos.petridish.searcher import PetridishSearcher
    from archai.common.config import Config, ConfigError

    conf = Config(
        {"space": {"name": "darts"}, "algos": {"petridish": {"seed_models": entries, "seed_epochs": epochs}}}
    )
    with pytest.raises(ConfigError, match=message):
        PetridishSearcher.check_conf(conf)


def test_a_genotype_seed_takes_the_search_shape_or_its_own():
    from archai.algos.petridish.seeds import check_seed_models, seed_model_desc

    shape = {"init_channels": 4, "n_cells": 3, "in_channels": 1, "image_size": 28, "n_classes": 10}
    plain, sized = check_seed_models(
        [{"genotype": "DARTS_V2"}, {"genotype": "DARTS_V2", "init_channels": 16, "n_cells": 5}]
    )
    assert (seed_model_desc(plain, shape).init_channels, len(seed_model_desc(plain, shape).cells)) == (4, 3)
    big = seed_model_desc(sized, shape)
    assert (big.init_channels, len(big.cells), big.in_channels) == (16, 5, 1)


def test_seed_weights_must_fit_their_network(tmp_path):
    from archai.algos.petridish.seeds import check_fits
    from archai.common.config import ConfigError

    desc, entry = _seed_file(tmp_path)
    data = {"in_channels": 1, "image_size": 28, "n_classes": 10}
    check_fits(desc, entry, 0, data)
    with pytest.raises(ConfigError, match="n_classes 10, the run's dataset 100"):
        check_fits(desc, entry, 0, {**data, "n_classes": 100})
    wider = SeedBuilder(init_channels=8, n_cells=3, n_nodes=1, in_channels=1, image_size=28).build()
    with pytest.raises(ConfigError, match=r"does not fit the seed's network \(other shape: stem"):
        check_fits(wider, entry, 0, data)


def test_warm_started_seed_with_weights_is_not_trained_again(tmp_path):
    desc, entry = _seed_file(tmp_path)
    exp = tmp_path / "exp"
    seeds = json.dumps([entry])  # JSON is YAML: the override parses it
    p = _main(
        exp,
        [
            "--algos.petridish.seed_models",
            seeds,
            "--algos.petridish.seed_epochs",
            "0",
            "--algos.petridish.max_models",
            "2",
        ],
    )
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    run = exp / "petridish"
    entries = {e["id"]: e for e in json.loads((run / "search" / "petridish.json").read_text())["pool"]}
    seed = entries["seed_00"]
    assert seed["epochs"] == 0 and seed["trained_epochs"] == 0 and 0 < seed["metrics"]["val_top1"] < 1
    given, kept = torch.load(entry["weights"]), torch.load(run / seed["weights"])
    assert given.keys() == kept.keys() and all(torch.equal(given[k], kept[k]) for k in given)  # untrained
    assert ModelDesc.load(run / seed["desc"]).cells == desc.cells
    child = entries["child_000"]  # grown from the given network
    assert child["parent"] == "seed_00" and child["trained_epochs"] == 0 + 1 + child["epochs"]


def _chain_seed():
    from archai.space.spaces.base import make_space

    shape = {"in_channels": 1, "image_size": 12, "n_classes": 10, "init_channels": 4, "stem_stride": 1}
    space = make_space("chain", shape, layers_per_stage=2, primitives=["sep_conv_3x3", "max_pool_3x3"])
    return space, space.build([[("sep_conv_3x3", (0,))]] * 3)


def test_macro_growth_changes_one_place_and_starts_as_the_parent(tmp_path):
    from archai.algos.petridish.space import macro_place

    space, parent = _chain_seed()
    net = Supernet(candidate_desc(parent, space.primitives, per_cell=True), weighting="linear")
    assert sorted(net.alphas) == ["cell0", "cell2", "cell4"]  # every stage its own candidates
    with torch.no_grad():  # as if trained: the last stage's candidates weigh most
        net.alphas["cell0"].fill_(0.1)
        net.alphas["cell2"].copy_(torch.tensor([[0.2, 0.0], [0.0, 0.05]]))
        net.alphas["cell4"].copy_(torch.tensor([[0.0, 0.3], [0.1, 0.0]]))
    weights = net.mixing_weights()
    place = macro_place(weights, 2)
    assert place == "cell4"
    selection = {place: select_pairs(weights[place], space.primitives, 2)}
    child = child_desc(parent, selection)
    grown = [i for i, (a, b) in enumerate(zip(parent.cells, child.cells)) if a != b]
    assert grown == [4] and [(e.input, e.op.name) for e in child.cells[4].nodes[-1].edges] == [
        (0, "max_pool_3x3"),
        (1, "sep_conv_3x3"),
    ]
    grown_model = build_model(child).eval()
    grown_model.load_state_dict(
        child_init_state(net.state_dict(), grown_model, parent, selection, space.primitives)
    )
    x = x_batch()
    assert torch.equal(grown_model(x), net.eval()(x))  # the zero gate: the candidate phase's parent
    src = net.model.state_dict()["cells.4.nodes.1.1._ops.0.0.1.weight"]  # stage 3's chosen sep_conv
    assert torch.equal(grown_model.state_dict()["cells.4.nodes.1.1.0.1.weight"], src)


def test_petridish_macro_search_on_the_chain_space(tmp_path):
    p = _main(tmp_path / "macro", ["--space", "chain"])
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]
    run = tmp_path / "macro" / "petridish"
    entries = {e["id"]: e for e in json.loads((run / "search" / "petridish.json").read_text())["pool"]}
    children = [e for e in entries.values() if e["parent"] is not None]
    assert children
    for e in children:  # each growth adds one node at one place of the network
        parent, child = (ModelDesc.load(run / entries[i]["desc"]) for i in (e["parent"], e["id"]))
        changed = [i for i, (a, b) in enumerate(zip(parent.cells, child.cells)) if a != b]
        assert len(changed) == 1 and child.skeleton == "chain", e["id"]
        assert len(child.cells[changed[0]].nodes) == len(parent.cells[changed[0]].nodes) + 1
    gallery = json.loads((run / "gallery" / "gallery.json").read_text())
    assert gallery and all(
        ModelDesc.load(run / "gallery" / f"{g['id']}.yaml").skeleton == "chain" for g in gallery
    )
    assert json.loads((run / "summary.json").read_text())["test_top1"] > 0


def test_macro_final_training_cannot_scale_cells_it_does_not_have():
    from archai.common.config import Config, ConfigError
    from archai.search.evaluator import check_eval_shape

    conf = {
        "space": {"name": "chain"},
        "eval": {"expand": False, "depth_multiplier": 2, "width_multiplier": 1},
        "algos": {"petridish": {"seed_models": [], "seed_epochs": 1}},
    }
    with pytest.raises(ConfigError, match="on --space chain set --eval.depth_multiplier 1"):
        check_eval_shape(Config(conf))
    conf["eval"]["depth_multiplier"] = 1
    check_eval_shape(Config(conf))


def test_async_search_keeps_every_worker_busy_and_resumes_after_a_kill(tmp_path):
    """The asynchronous schedule on two local workers: no slot idles while a child waits or a
    parent could be drawn, and a run killed mid-search and resumed ends with the uninterrupted
    run's pool."""
    extra = [
        "--algos.petridish.schedule",
        "async",
        "--executor.workers",
        "2",
        "--algos.petridish.max_models",
        "6",
    ]
    ref = _main(tmp_path / "ref", extra, threads=1)
    victim = _main(
        tmp_path / "killed",
        extra,
        threads=1,
        kill_after="killed/petridish/jobs/child_001_candidates/result.json",
    )
    _, err = victim.communicate(timeout=600)
    assert victim.returncode == -signal.SIGKILL, err[-2000:]
    resumed = _main(tmp_path / "killed", [*extra, "--resume"], threads=1)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    _, err = ref.communicate(timeout=600)
    assert ref.returncode == 0, err[-3000:]
    assert _pool(tmp_path / "killed") == _pool(tmp_path / "ref")
    state = json.loads((tmp_path / "ref" / "petridish" / "search" / "petridish.json").read_text())
    assert len(state["pool"]) == 6 and state["stopped"] == "max_models=6 reached"
    assert not state["in_flight"] and not state["children"]
    trace = state["trace"]
    assert trace and all(n == 2 for n, waiting, could_draw in trace if waiting or could_draw), trace
    assert trace[-1][0] == 0  # drained at the end
