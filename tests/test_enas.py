"""ENAS: the controller learns, weights are shared one path at a time, resume is exact."""

import random

import pytest
import torch

from archai.algos.enas.controller import Controller, Reinforce
from archai.algos.enas.searcher import EnasHook, _op_values
from archai.common.config import ConfigError
from archai.search.trainer import Trainer, TrainerHook, trainer_conf
from archai.space import Supernet, make_space
from archai.space.ops import ENAS_PRIMITIVES

SHAPE = {
    "in_channels": 1,
    "image_size": 12,
    "init_channels": 4,
    "n_cells": 3,
    "n_nodes": 2,
    "stem_multiplier": 1,
}


def darts_space(n_nodes=2):
    return make_space("darts", shape={**SHAPE, "n_nodes": n_nodes}, primitives=list(ENAS_PRIMITIVES))


def fraction_sep5(values):
    ops = [v for v in values if isinstance(v, str)]
    return sum(op == "sep_conv_5x5" for op in ops) / len(ops)


def test_controller_learns_a_synthetic_reward():
    torch.manual_seed(0)
    ctrl = Controller(darts_space().decisions(), hidden=32)
    rl = Reinforce(ctrl, lr=0.0035, samples_per_update=5)
    with torch.no_grad():
        before = sum(fraction_sep5(ctrl().values) for _ in range(100)) / 100
    for _ in range(200):
        rl.update(fraction_sep5)
    with torch.no_grad():
        after = sum(fraction_sep5(ctrl().values) for _ in range(100)) / 100
    assert before < 0.3 and after > before + 0.15, (before, after)


@pytest.mark.parametrize("name", ["darts", "nb201"])
def test_controller_samples_architectures_of_the_space(name):
    space = darts_space(5) if name == "darts" else make_space("nb201", shape=SHAPE, cells_per_stage=1)
    torch.manual_seed(1)
    ctrl = Controller(space.decisions())
    for _ in range(20):
        s = ctrl()
        desc = space.from_decisions(s.values)
        desc.validate()
        assert space.encode(desc)  # a member of the space: the space reads it
        if name == "darts":  # two distinct inputs per node, as the darts space requires
            for cell in desc.cells:
                assert all(len({e.input for e in n.edges}) == 2 for n in cell.nodes)
    assert s.log_prob.requires_grad and s.entropy > 0
    assert ctrl(greedy=True).values == ctrl(greedy=True).values


def child(space):
    torch.manual_seed(0)
    return Supernet(space.supernet_desc())


A = ["sep_conv_3x3", "avg_pool_3x3", "identity", "max_pool_3x3"]


def _values(space, inputs, ops):
    """Decision values: per kind, node and edge the (input, op) pairs given, the same in both cells."""
    pairs = [(i, o) for i, o in zip(inputs, ops)]
    return [v for _ in range(2) for pair in pairs for v in pair]


def test_only_the_sampled_path_runs_and_its_weights_are_shared():
    space = darts_space()
    net = child(space)
    x = torch.randn(2, 1, 12, 12)
    grads = {}
    arch_a = _values(space, [0, 1, 2, 1], ["sep_conv_3x3", "avg_pool_3x3", "identity", "max_pool_3x3"])
    arch_b = _values(space, [0, 1, 1, 2], ["sep_conv_3x3", "identity", "sep_conv_5x5", "avg_pool_3x3"])
    for name, values in (("A", arch_a), ("B", arch_b)):
        net.zero_grad(set_to_none=True)
        desc = space.from_decisions(values)
        net.path = space.path(net.desc, desc)
        net(x).sum().backward()
        grads[name] = {k for k, p in net.named_parameters() if p.grad is not None and "._ops." in k}
    cands = net.candidates["normal"]
    # cell 0, node 0, edge from state 0 (mixed edge 0): sep_conv_3x3 is in both, the same tensors
    shared = f"model.cells.0.nodes.0.0._ops.{cands.index('sep_conv_3x3')}.0.1.weight"
    assert shared in grads["A"] and shared in grads["B"]
    # node 1 reads state 1 through sep_conv_5x5 in B only: no gradient in A
    b_only = f"model.cells.0.nodes.1.1._ops.{cands.index('sep_conv_5x5')}.0.1.weight"
    assert b_only in grads["B"] and b_only not in grads["A"]
    # in A, only the chosen candidate of each edge of cell 0 has gradients
    path = space.path(net.desc, space.from_decisions(arch_a))["normal"]
    edges = [(n, j) for n in range(2) for j in range(2 + n)]
    for k in grads["A"]:
        if k.startswith("model.cells.0.nodes."):
            parts = k.split(".")
            node, edge, cand = int(parts[4]), int(parts[5]), int(parts[7])
            assert (cand,) == path[edges.index((node, edge))], k
    assert not any(p.grad is not None for p in net.arch_parameters())  # paths use no mixing weights


def test_a_path_computes_what_its_own_network_computes():
    space = make_space("nb201", shape=SHAPE, cells_per_stage=1)
    net = child(space).eval()
    desc = space.sample(random.Random(4))
    net.path = space.path(net.desc, desc)
    from archai.space import build_model

    model = build_model(desc.__class__.from_data({**desc.to_data(), "affine": False})).eval()
    # the same modules in the same order once the unchosen candidates are dropped
    chosen = {}
    for name, value in net.model.state_dict().items():
        parts = name.split(".")
        if "_ops" in parts:
            i = parts.index("_ops")
            row = space.path(net.desc, desc)["normal"][
                [(n, j) for n in range(3) for j in range(n + 1)].index((int(parts[i - 2]), int(parts[i - 1])))
            ]
            if (int(parts[i + 1]),) != row:
                continue
            name = ".".join(parts[:i] + parts[i + 2 :])
        chosen[name] = value
    model.load_state_dict(chosen)
    x = torch.randn(3, 1, 12, 12)
    assert torch.allclose(net(x), model(x), atol=1e-5)


class CrashAt(TrainerHook):
    def __init__(self, epoch):
        self.epoch = epoch

    def before_epoch(self, trainer, epoch):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _setup(tmp_path, name, extra=()):
    space = darts_space()
    net = child(space)
    torch.manual_seed(5)
    ctrl = Controller(space.decisions(), hidden=16)
    rl = Reinforce(ctrl, samples_per_update=2)
    g = torch.Generator().manual_seed(0)
    data = [
        (torch.randn(8, 1, 12, 12, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(3)
    ]
    hook = EnasHook(net, space, rl, data, steps=2, seed=0)
    conf = trainer_conf(epochs=3, channels_last=False, log_every_steps=0)
    return (
        Trainer(net, conf, device="cpu", hooks=[hook, *extra], checkpoint_path=tmp_path / name, seed=0),
        data,
        ctrl,
    )


def test_enas_resume_restores_controller_child_and_baseline(tmp_path):
    ref, data, ref_ctrl = _setup(tmp_path, "ref.pt")
    torch.manual_seed(9)
    ref.fit(data)
    killed, _, _ = _setup(tmp_path, "k.pt", [CrashAt(2)])
    torch.manual_seed(9)
    with pytest.raises(KeyboardInterrupt):
        killed.fit(data)
    resumed, _, ctrl = _setup(tmp_path, "k.pt", [TrainerHook()])
    resumed.fit(data)
    for (k, a), b in zip(ref.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(ref_ctrl.parameters(), ctrl.parameters()):
        assert torch.equal(a, b)
    assert ref.hooks[0].reinforce.baseline == resumed.hooks[0].reinforce.baseline


PRIOR = dict(
    op_prior={"sep_conv_3x3": 10.0, "sep_conv_5x5": 10.0},
    normal_op_bias={
        "sep_conv_3x3": 0.25,
        "sep_conv_5x5": 0.25,
        "avg_pool_3x3": -0.25,
        "max_pool_3x3": -0.25,
        "identity": -0.25,
    },
)


def test_controller_starts_from_the_published_op_prior():
    # the published micro controller: sep convs 0.315 each (others 0.123) in normal cells,
    # 0.254 (others 0.164) in reduction cells, before any update
    torch.manual_seed(0)
    ctrl = Controller(darts_space().decisions(), **PRIOR)
    seen = []
    pick = ctrl._pick

    def record(logits, greedy):
        seen.append(torch.softmax(logits.detach(), -1))
        return pick(logits, greedy)

    ctrl._pick = record
    with torch.no_grad():
        ctrl()
    op_probs = [p for p in seen if len(p) == len(ENAS_PRIMITIVES)]  # input picks have 2..3 entries
    normal, reduction = op_probs[:4], op_probs[4:]
    expected_normal = torch.tensor([0.315, 0.315, 0.123, 0.123, 0.123])
    expected_reduction = torch.tensor([0.254, 0.254, 0.164, 0.164, 0.164])
    for p in normal:
        assert torch.allclose(p, expected_normal, atol=0.02), p
    for p in reduction:
        assert torch.allclose(p, expected_reduction, atol=0.02), p
    assert ctrl.op_bias.requires_grad and not any(n == "normal_op_bias" for n, _ in ctrl.named_parameters())
    # the config's [op, value] pairs; ops a prior does not name (nb201's) start at 0
    assert _op_values([["sep_conv_3x3", 10]], "op_prior") == {"sep_conv_3x3": 10.0}
    with pytest.raises(ConfigError, match=r"op_prior: 10.0 is not an \[op, value\] pair"):
        _op_values([10.0], "op_prior")
    # and the config refuses the old form before a run starts
    from archai.algos import EnasSearcher
    from archai.common.checks import check_values
    from archai.search.conf_rules import value_rules

    bad = {"algos": {"enas": {"controller": {"op_prior": [10.0, 10.0, 0.0]}}}}
    with pytest.raises(ConfigError, match="algos.enas.controller.op_prior: .* a pair"):
        check_values(bad, value_rules(EnasSearcher, "enas"))
    nb201 = Controller(make_space("nb201").decisions(), op_prior={"avg_pool_3x3": 1.0})
    assert nb201.op_bias.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0] and not nb201.normal_op_bias.any()


def test_derive_scores_every_sample_on_the_same_data():
    from torch.utils.data import DataLoader, TensorDataset

    space = darts_space()
    net = child(space).train()
    ctrl = Controller(space.decisions(), **PRIOR)
    data = TensorDataset(torch.randn(96, 1, 12, 12), torch.randint(0, 10, (96,)))
    loader = DataLoader(data, batch_size=32, shuffle=True)
    hook = EnasHook(net, space, Reinforce(ctrl), loader, steps=1, seed=0)
    trainer = Trainer(net, trainer_conf(epochs=1, log_every_steps=0), device="cpu")
    hook.restart_validation(-1)
    batches = [hook.val_batch(trainer) for _ in range(2)]
    with torch.no_grad():
        archs = [ctrl().values for _ in range(6)]
    forward = [hook.reward(trainer, a, batches) for a in archs]
    backward = [hook.reward(trainer, a, batches) for a in reversed(archs)][::-1]
    assert forward == backward  # the same score whatever the order: the same data for every sample
    assert len(set(forward)) > 1  # and the scores do tell architectures apart
