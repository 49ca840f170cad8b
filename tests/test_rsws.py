"""Random search with weight sharing: uniform single paths, the ranking rounds, resume, tables."""

import json
import random
import signal

import torch
from toy_runs import SMALL, flags, run, run_killed

from archai.algos.shared_weights import PathSampler, path_accuracy
from archai.search.trainer import Trainer, trainer_conf
from archai.space.spaces import make_space
from archai.space.supernet import MixedOp, Supernet

#: two supernet epochs, two rounds of 6 architectures on 2 batches, the 2 best re-scored; 2 trained
TINY = {
    **SMALL,
    "loader.train_limit": 256,
    "loader.test_limit": 128,
    "common.num_threads": 1,
    "search.trainer.epochs": 2,
    "algos.rsws.n_samples": 12,
    "algos.rsws.round_size": 6,
    "algos.rsws.eval_batches": 2,
    "algos.rsws.rescore_top": 2,
    "algos.rsws.train_top": 2,
    "algos.rsws.candidate_epochs": 1,
}


def test_each_step_runs_one_uniform_architecture_of_the_space():
    space = make_space(
        "nb201", shape={"in_channels": 1, "image_size": 8, "init_channels": 4}, cells_per_stage=1
    )
    torch.manual_seed(0)
    net = Supernet(space.supernet_desc())
    sdesc = net.desc
    seen = []

    def draw(rng):
        desc = space.sample(rng)
        seen.append(space.label(desc))
        return space.path(sdesc, desc)

    ran = []
    for m in net.modules():
        if isinstance(m, MixedOp):
            for j, op in enumerate(m._ops):
                op.register_forward_hook(lambda mod, i, o, m=m, j=j: ran.append((m.index, j)))
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(4, 1, 8, 8, generator=g), torch.randint(0, 10, (4,), generator=g)) for _ in range(3)]
    conf = trainer_conf(epochs=1, channels_last=False, optimizer={"lr": 0.1})
    Trainer(net, conf, device="cpu", hooks=[PathSampler(net, draw, 0, "test")]).fit(data)
    assert len(seen) == 3 and len(set(seen)) > 1  # a new architecture per batch
    # each step ran exactly the sampled op on each of the 6 edges of each of the 3 cells
    assert len(ran) == 3 * 3 * 6
    last = space.path(sdesc, space.sample(random.Random()))  # a path has one candidate per edge
    assert all(len(c) == 1 for c in last["normal"])
    acc = path_accuracy(net, last, data, Trainer(net, conf, device="cpu"))
    assert 0 <= acc["top1"] <= 1 and acc["loss"] > 0


def test_rsws_end_to_end_kill_after_a_ranking_round_and_resume(tmp_path):
    settings = flags(TINY)
    assert run("rsws", tmp_path / "ref", settings=settings) == 0
    scores = "rsws/search/rsws_scores.json"
    killed = run_killed("rsws", tmp_path / "k", scores, settings=settings)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    first = json.loads((tmp_path / "k" / scores).read_text())["rounds"]
    assert len(first) == 1 and len(first[0]) == 6
    assert run("rsws", tmp_path / "k", "--resume", settings=settings) == 0
    ref, res = (json.loads((p / scores).read_text())["rounds"] for p in (tmp_path / "ref", tmp_path / "k"))
    assert res == ref and len(ref) == 2
    assert len({s["digest"] for r in ref for s in r}) == 12  # distinct architectures
    assert all(sum("full_top1" in s for s in r) == 2 for r in ref)  # each round's best two re-scored
    result = json.loads((tmp_path / "ref" / "rsws" / "search_result.json").read_text())
    trained = {c["id"]: c["metrics"]["val_top1"] for c in result["candidates"]}
    assert len(trained) == 2 and result["final"][0] == max(trained, key=trained.get)
    summary = json.loads((tmp_path / "ref" / "rsws" / "summary.json").read_text())
    assert summary["test_top1"] > 0 and summary["space"] == "darts"


def test_on_a_benchmark_table_the_shared_weight_ranking_is_correlated_with_the_table(tmp_path):
    assert run("rsws", tmp_path, "--benchmark", "nb201_mini", settings=flags(TINY)) == 0
    rows = (tmp_path / "rsws" / "search" / "rsws_ranking.csv").read_text().splitlines()
    assert rows[0] == "digest,label,shared_top1,table_test_top1" and len(rows) == 13
    result = json.loads((tmp_path / "rsws" / "search_result.json").read_text())
    metrics = result["candidates"][0]["metrics"]
    assert metrics["table_n"] == 12 and -1 <= metrics["table_kendall"] <= 1 and metrics["tabular"]
    summary = json.loads((tmp_path / "rsws" / "summary.json").read_text())
    assert summary["table_size"] == 321 and 1 <= summary["table_rank"] <= 321
