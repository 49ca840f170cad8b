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


def test_zero_gate_child_equals_parent_and_warm_start_copies_weights(tmp_path):
    torch.manual_seed(0)
    parent = build_model(parent_desc()).eval()
    selection = {"normal": [(0, "sep_conv_3x3"), (2, "max_pool_3x3")], "reduction": [(1, "skip_connect")]}
    child = build_model(child_desc(parent_desc(), selection)).eval()
    new = warm_start(child, _saved(parent, tmp_path))
    assert new and all("nodes.1." in k or "gates" in k for k in new)
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


def test_select_pairs_by_absolute_weight():
    w = torch.tensor([[0.1, -0.9, 0.0], [0.5, 0.05, -0.6], [0.0, 0.2, 0.0]])
    assert select_pairs(w, PRIMS, 3) == [(0, "max_pool_3x3"), (1, "skip_connect"), (1, "sep_conv_3x3")]


def test_parent_sampling_favours_cheaper_and_less_expanded_models():
    import random
    from types import SimpleNamespace

    from archai.algos.petridish.searcher import PetridishSearcher
    from archai.common.config import Config

    conf = Config({"epsilon": 0.5, "cost": "macs", "max_macs": 1e9})
    searcher = PetridishSearcher(SimpleNamespace(algo_conf=conf))

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
    from archai.algos.petridish.jobs import run_candidate_job
    from archai.common.seeding import seed_everything

    prims = ["none", "sep_conv_3x3"]
    job = _candidate_job(tmp_path, prims, top_k=1, l1_weight=1e-2)
    seed_everything(job.seed)  # the job's own seeding: the same initial alphas as inside it
    start = Supernet(candidate_desc(parent_desc(), prims), alpha_init=job.alpha_init, weighting="linear")
    result = run_candidate_job(job.as_args()[0])
    for kind, trained in result["alphas"].items():
        trained, initial = torch.tensor(trained), start.alphas[kind].detach()
        assert not torch.allclose(trained, initial, atol=1e-4), kind  # the alphas moved
        assert (trained[:, 0].abs() < initial[:, 0].abs()).all(), kind  # none: only L1, shrinks
        assert trained[:, 1].abs().max() > 2 * trained[:, 0].abs().max(), kind
        assert [op for _, op in result["selection"][kind]] == ["sep_conv_3x3"], kind
