"""ProxylessNAS: binarized paths, the two-path update, the latency table and loss, and runs."""

import json
import signal

import pytest
import torch
from toy_runs import SMALL, flags, run, run_killed

from archai.algos.proxylessnas.binarize import (
    pair_probs,
    rescale_pair,
    sample_one,
    sample_pair,
    two_path_grad,
)
from archai.algos.proxylessnas.latency import LatencyTable, latency_loss, measure_table
from archai.algos.proxylessnas.searcher import ProxylessArchStep
from archai.algos.shared_weights import PathSampler
from archai.search.trainer import Trainer, trainer_conf
from archai.space.spaces import make_space
from archai.space.supernet import MixedOp, Supernet

SHAPE = {"in_channels": 1, "image_size": 8, "n_classes": 3}


def small_space():
    return make_space(
        "mobilenet",
        shape=SHAPE,
        stages=[[6, 2, 2], [8, 1, 1]],
        blocks=["mb_conv_3x3_e3", "mb_conv_5x5_e6"],
        stem_channels=4,
        first_channels=4,
        head_channels=12,
    )


def small_net(seed=0):
    torch.manual_seed(seed)
    space = small_space()
    return space, Supernet(space.supernet_desc(), alpha_init=0.5)


def batches(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 1, 8, 8, generator=g), torch.randint(0, 3, (4,), generator=g)) for _ in range(n)]


def calls(net):
    """Per mixed op, the candidates that run in each forward (forward hooks)."""
    ran = {}
    for m in net.modules():
        if isinstance(m, MixedOp):
            for j, op in enumerate(m._ops):
                op.register_forward_hook(
                    lambda mod, i, out, k=m.kind, j=j: ran.setdefault(k, []).append((j, out.requires_grad))
                )
    return ran


def test_a_binarized_layer_runs_one_path_and_an_architecture_pass_two():
    _, net = small_net()
    ran = calls(net)
    path = {g: [(len(net.candidates[g]) - 1,)] for g in net.alphas}
    net.path = path
    net(batches(1)[0][0]).sum().backward()
    assert ran == {g: [(p[0][0], True)] for g, p in path.items()}  # only the sampled op ran
    ran.clear()
    # architecture pass: the active path with autograd, the other sampled one without, no third
    net.path = {g: [(0, 1)] for g in net.alphas}
    net.context.gates = {
        g: torch.zeros_like(a).index_fill_(1, torch.tensor([0]), 1.0).requires_grad_()
        for g, a in net.alphas.items()
    }
    out = net(batches(1)[0][0])
    assert ran == {g: [(0, True), (1, False)] for g in net.alphas}
    with torch.no_grad():
        net.context.gates = None
        net.path = {g: [(0,)] for g in net.alphas}
        assert torch.allclose(out, net(batches(1)[0][0]))  # gates 1 and 0: the active path's output


def test_the_two_path_gradient_is_the_softmax_gradient_over_the_pair():
    alpha = torch.randn(5, requires_grad=True)
    gate_grad = torch.randn(5)
    pair = (3, 1)
    q = torch.softmax(alpha[list(pair)], 0)
    (q * gate_grad[list(pair)]).sum().backward()  # gates standing for the pair's probabilities
    assert torch.allclose(two_path_grad(alpha, pair, gate_grad), alpha.grad, atol=1e-6)
    assert two_path_grad(alpha, pair, gate_grad)[[0, 2, 4]].abs().sum() == 0


def test_an_architecture_step_leaves_the_unsampled_paths_probabilities_unchanged():
    space, net = small_net()
    table = measure_table(space.supernet_desc(), runs=2, warmup=1)
    step = ProxylessArchStep(
        net,
        batches(),
        batches(1),
        table=table,
        target_ms=table.minimum(),
        loss={"kind": "add#linear", "alpha": 0.2, "beta": 0.3, "lambda": 0.5},
        lr=0.5,
        betas=(0.0, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        every=1,
        steps=1,
        skip_epochs=0,
        seed=0,
    )
    trainer = Trainer(net, trainer_conf(epochs=1, channels_last=False), device="cpu")
    step.before_epoch(trainer, 0)
    weights_before = [p.detach().clone() for p in net.weight_parameters()]
    moved = 0
    for _ in range(3):
        before = {g: torch.softmax(a.detach()[0], 0) for g, a in net.alphas.items()}
        generator_state = step.generator.get_state()
        pairs = {g: sample_pair(a[0], step.generator) for g, a in net.alphas.items()}
        step.generator.set_state(generator_state)  # the step draws the same pairs
        step.arch_step(trainer)
        for g, a in net.alphas.items():
            after = torch.softmax(a.detach()[0], 0)
            others = [j for j in range(len(after)) if j not in pairs[g]]
            assert torch.allclose(after[others], before[g][others], atol=1e-6), g
            assert torch.allclose(after[list(pairs[g])].sum(), before[g][list(pairs[g])].sum(), atol=1e-6)
            moved += not torch.allclose(after, before[g])
    assert moved  # the sampled pairs did change
    assert all(torch.equal(w, p) for w, p in zip(weights_before, net.weight_parameters()))


def test_rescaling_restores_the_pairs_total_probability():
    alpha = torch.tensor([0.3, -0.2, 0.1])
    old = alpha[[0, 1]].clone()
    alpha[[0, 1]] += torch.tensor([1.0, 2.0])
    rescale_pair(alpha, (0, 1), old)
    assert torch.allclose(torch.logsumexp(alpha[[0, 1]], 0), torch.logsumexp(old, 0))


def test_the_expected_latency_is_the_probability_weighted_sum_of_the_table():
    space, net = small_net()
    table = measure_table(space.supernet_desc(), runs=2, warmup=1)
    assert [(e["group"], e["row"]) for e in table.edges] == [(g, 0) for g in net.alphas]
    assert all(list(e["latency"]) == net.candidates[e["group"]] for e in table.edges)
    for e in table.edges:
        lat = e["latency"]
        assert lat.get("none", 0.0) == 0.0 and min(v for k, v in lat.items() if k != "none") > 0
    probs = {g: torch.softmax(a.detach(), 1) for g, a in net.alphas.items()}
    by_hand = table.fixed_ms + sum(
        float(probs[e["group"]][0, j]) * ms for e in table.edges for j, ms in enumerate(e["latency"].values())
    )
    assert float(table.expected(probs)) == pytest.approx(by_hand, rel=1e-5)
    path = {g: [(0,)] for g in net.alphas}
    one_hot = {g: torch.eye(len(net.candidates[g]))[:1] for g in net.alphas}
    assert float(table.expected(one_hot)) == pytest.approx(table.latency(path), rel=1e-5)
    assert table.latency(path) == pytest.approx(
        table.fixed_ms + sum(next(iter(e["latency"].values())) for e in table.edges)
    )
    # the two-path weighting: only the pair counts, by the softmax of its two weights
    a = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    p = pair_probs(a, (2, 0))
    assert p[1] == 0 and torch.allclose(p[[0, 2]], torch.softmax(torch.tensor([0.0, 2.0]), 0))


def test_the_table_measures_every_block_in_turns_and_keeps_each_ones_median(monkeypatch):
    """All blocks once per turn (a drifting machine slows every entry alike), median per block."""
    import archai.algos.proxylessnas.latency as latency

    space, calls = small_space(), []
    monkeypatch.setattr(
        latency, "measure_latency", lambda module, shape, **kw: calls.append(id(module)) or 1.0
    )
    latency.measure_table(space.supernet_desc(), turns=1)
    n_jobs = len(calls)  # stem, head, the fixed cells and every block (none is not measured)
    assert n_jobs == 4 + sum(c != "zero" for row in space.candidates for c in row)
    calls.clear()

    def fake(module, shape, **kw):  # turn 1 slow, turn 2 fast, turn 3 in between
        calls.append(id(module))
        i = len(calls) - 1
        return [3.0, 1.0, 2.0][i // n_jobs] * (1 + 0.01 * (i % n_jobs))

    monkeypatch.setattr(latency, "measure_latency", fake)
    table = latency.measure_table(space.supernet_desc(), turns=3)
    assert len(calls) == 3 * n_jobs
    assert [len(set(calls[t * n_jobs : (t + 1) * n_jobs])) for t in range(3)] == [
        n_jobs
    ] * 3  # each once a turn
    values = [v for e in table.edges for c, v in e["latency"].items() if c != "none"]
    assert all(1.9 < v < 2.2 for v in values)  # the middle turn's figure: each block's median
    assert 4 * 1.9 < table.fixed_ms < 4 * 2.2


def test_repeated_cells_share_rows_and_each_edge_is_measured():
    space = make_space(
        "nb201", shape={"in_channels": 1, "image_size": 8, "init_channels": 4}, cells_per_stage=2
    )
    table = measure_table(space.supernet_desc(), runs=1, warmup=0)
    assert len(table.edges) == 6 * 6 and {e["row"] for e in table.edges} == set(range(6))
    probs = {"normal": torch.full((6, 5), 0.2)}
    mean = sum(sum(e["latency"].values()) / 5 for e in table.edges)
    assert float(table.expected(probs)) == pytest.approx(table.fixed_ms + mean, rel=1e-5)


def test_the_latency_loss_pushes_towards_faster_candidates():
    table = LatencyTable.of_layers("cpu", 1, 2.0, {"l": {"slow": 10.0, "fast": 1.0}})
    for kind, target in (("add#linear", 3.0), ("mul#log", 3.0)):
        alpha = torch.zeros(2, requires_grad=True)
        loss = latency_loss(torch.tensor(1.0), table.expected({"l": pair_probs(alpha, (0, 1))}), target, kind)
        loss.backward()
        assert alpha.grad[0] > 0 > alpha.grad[1], kind  # a descent step favours the fast block


def test_a_single_path_step_trains_only_the_sampled_paths_weights():
    _, net = small_net()
    conf = trainer_conf(epochs=1, channels_last=False, optimizer={"lr": 0.1, "weight_decay": 1e-3})
    draw = lambda rng: {g: [(sample_one(a[0], rng),)] for g, a in net.alphas.items()}  # noqa: E731
    sampler = PathSampler(net, draw, seed=0, phase="test")
    trainer = Trainer(net, conf, device="cpu", hooks=[sampler])
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    trainer.fit(batches(1))
    chosen = {g: p[0][0] for g, p in net.path.items()}
    for m in net.modules():
        if isinstance(m, MixedOp):
            for j, op in enumerate(m._ops):
                prefix = next(n for n, mod in net.named_modules() if mod is op)
                changed = [not torch.equal(p, before[f"{prefix}.{n}"]) for n, p in op.named_parameters()]
                if j == chosen[m.kind] and changed:
                    assert all(changed), prefix
                else:
                    assert not any(changed), prefix
    assert any(not torch.equal(p, before[n]) for n, p in net.named_parameters() if n.startswith("model.stem"))
    assert all(torch.equal(a, before[f"alphas.{g}"]) for g, a in net.alphas.items())


#: two epochs of warm-up and search on a few hundred images; the architecture step after every weight step
TINY = {
    **SMALL,
    "loader.train_limit": 256,
    "loader.test_limit": 128,
    "common.num_threads": 1,
    "algos.proxylessnas.warmup.epochs": 1,
    "algos.proxylessnas.arch_skip_epochs": 0,
    "algos.proxylessnas.latency.runs": 3,
    "algos.proxylessnas.latency.turns": 1,
    "search.trainer.epochs": 2,
}


def test_proxylessnas_end_to_end_kill_and_resume(tmp_path):
    """Killed after the first search epoch's checkpoint and resumed: the same alphas and found
    network as the uninterrupted run, and the latency table of the killed session reused (no
    target here: measured latencies vary between sessions, the search without a target does not)."""
    settings = flags(TINY)
    assert run("proxylessnas", tmp_path / "ref", settings=settings) == 0
    killed = run_killed("proxylessnas", tmp_path / "k", "proxylessnas/search/supernet.pt", settings=settings)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    table_file = tmp_path / "k" / "proxylessnas" / "search" / "latency_table.json"
    measured = table_file.read_text()
    assert run("proxylessnas", tmp_path / "k", "--resume", settings=settings) == 0
    assert table_file.read_text() == measured
    ref, res = (
        json.loads((p / "proxylessnas" / "search_result.json").read_text())
        for p in (tmp_path / "ref", tmp_path / "k")
    )
    ref_alphas = torch.load(tmp_path / "ref" / "proxylessnas" / "search" / "supernet.pt", weights_only=False)[
        "model"
    ]
    res_alphas = torch.load(tmp_path / "k" / "proxylessnas" / "search" / "supernet.pt", weights_only=False)[
        "model"
    ]
    for k in ref_alphas:
        if k.startswith("alphas."):
            assert torch.equal(ref_alphas[k], res_alphas[k]), k
    [ref_c], [res_c] = ref["candidates"], res["candidates"]
    assert ref_c["digest"] == res_c["digest"] and ref_c["metrics"]["val_top1"] == res_c["metrics"]["val_top1"]
    assert ref_c["metrics"]["table_latency_ms"] > 0 and ref_c["metrics"]["latency_ms"] > 0
    summary = json.loads((tmp_path / "ref" / "proxylessnas" / "summary.json").read_text())
    assert summary["test_top1"] > 0 and summary["space"] == "mobilenet"


def test_proxylessnas_on_the_nb201_table_reports_the_derived_cells_rank(tmp_path):
    """On a space whose repeated cells share their weights (one row per edge), the tabled final."""
    assert run("proxylessnas", tmp_path, "--benchmark", "nb201_mini", settings=flags(TINY)) == 0
    summary = json.loads((tmp_path / "proxylessnas" / "summary.json").read_text())
    assert summary["space"] == "nb201" and 1 <= summary["table_rank"] <= summary["table_size"] == 321
    table = json.loads((tmp_path / "proxylessnas" / "search" / "latency_table.json").read_text())
    assert {e["row"] for e in table["edges"]} == set(range(6)) and len(table["edges"]) % 6 == 0


def test_a_log_latency_loss_below_one_millisecond_is_refused_before_the_run(tmp_path, capsys):
    flags_ = ["--algos.proxylessnas.latency.loss", "mul#log", "--algos.proxylessnas.latency.target_ms", "0.5"]
    assert run("proxylessnas", tmp_path / "exp", *flags_) == 2
    err = capsys.readouterr().err
    assert "target above 1 ms" in err and "add#linear" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "exp").exists()


def test_measuring_the_table_leaves_the_random_stream_as_it_was():
    space = small_space()
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    measure_table(space.supernet_desc(), runs=1, warmup=0, turns=1)
    assert torch.equal(torch.rand(3), expected)
