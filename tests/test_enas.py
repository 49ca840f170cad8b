"""ENAS: the controller learns, weights are shared, resume is exact."""

import pytest
import torch

from archai.algos.enas.child import EnasChild, arch_to_cell, loose_ends
from archai.algos.enas.controller import Controller, Reinforce
from archai.algos.enas.searcher import EnasHook
from archai.search.trainer import Trainer, TrainerHook, trainer_conf
from archai.space.ops import ENAS_PRIMITIVES


def fraction_sep5(arch):
    ops = [op for cell in arch.values() for node in cell for op in (node[1], node[3])]
    return sum(op == "sep_conv_5x5" for op in ops) / len(ops)


def test_controller_learns_a_synthetic_reward():
    torch.manual_seed(0)
    ctrl = Controller(ENAS_PRIMITIVES, n_nodes=2, hidden=32)
    rl = Reinforce(ctrl, lr=0.0035, samples_per_update=5)
    with torch.no_grad():
        before = sum(fraction_sep5(ctrl().arch) for _ in range(100)) / 100
    for _ in range(200):
        rl.update(fraction_sep5)
    with torch.no_grad():
        after = sum(fraction_sep5(ctrl().arch) for _ in range(100)) / 100
    assert before < 0.3 and after > before + 0.15, (before, after)


def test_controller_samples_valid_architectures():
    torch.manual_seed(1)
    ctrl = Controller(ENAS_PRIMITIVES, n_nodes=5)
    s = ctrl()
    assert set(s.arch) == {"normal", "reduction"}
    for cell in s.arch.values():
        assert len(cell) == 5
        for n, (ia, oa, ib, ob) in enumerate(cell):
            assert 0 <= ia < 2 + n and 0 <= ib < 2 + n and {oa, ob} <= set(ENAS_PRIMITIVES)
    assert s.log_prob.requires_grad and s.entropy > 0
    assert ctrl(greedy=True).arch == ctrl(greedy=True).arch


def child():
    torch.manual_seed(0)
    return EnasChild(
        init_channels=4,
        n_cells=3,
        n_nodes=2,
        ops=ENAS_PRIMITIVES,
        in_channels=1,
        n_classes=10,
        stem_multiplier=1,
    )


A = {
    "normal": [(0, "sep_conv_3x3", 1, "avg_pool_3x3"), (2, "identity", 1, "max_pool_3x3")],
    "reduction": [(1, "sep_conv_5x5", 0, "max_pool_3x3"), (0, "identity", 2, "sep_conv_3x3")],
}
B = {
    "normal": [(0, "sep_conv_3x3", 0, "identity"), (1, "sep_conv_5x5", 2, "avg_pool_3x3")],
    "reduction": [(1, "sep_conv_5x5", 1, "avg_pool_3x3"), (2, "sep_conv_3x3", 0, "identity")],
}


def test_shared_weights_and_only_sampled_ops_get_gradients():
    net = child()
    x = torch.randn(2, 1, 12, 12)
    grads = {}
    for name, arch in (("A", A), ("B", B)):
        net.zero_grad(set_to_none=True)
        net.arch = arch
        net(x).sum().backward()
        grads[name] = {k for k, p in net.named_parameters() if p.grad is not None and ".ops." in k}
    # node 0's (input 0, sep_conv_3x3) is in both: the same tensors, trained by both
    shared = "cells.0.ops.0_0_sep_conv_3x3.0.1.weight"
    assert shared in grads["A"] and shared in grads["B"]
    assert "cells.0.ops.0_1_sep_conv_5x5.0.1.weight" not in grads["A"]  # not sampled in A: no gradient
    assert "cells.0.ops.1_1_sep_conv_5x5.0.1.weight" in grads["B"]
    sampled_a = {
        f"{n}_{i}_{o}" for n, (ia, oa, ib, ob) in enumerate(A["normal"]) for i, o in ((ia, oa), (ib, ob))
    }
    for k in grads["A"]:
        if k.startswith("cells.0.ops."):
            assert k.split(".")[3] in sampled_a


def test_derived_cell_concatenates_loose_ends():
    assert loose_ends(A["normal"]) == [3]
    cell = arch_to_cell(A["normal"], "normal")
    assert cell.concat == [3] and [e.op.name for e in cell.nodes[1].edges] == ["identity", "max_pool_3x3"]


class CrashAt(TrainerHook):
    def __init__(self, epoch):
        self.epoch = epoch

    def before_epoch(self, trainer, epoch):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _setup(tmp_path, name, extra=()):
    net = child()
    torch.manual_seed(5)
    ctrl = Controller(ENAS_PRIMITIVES, n_nodes=2, hidden=16)
    rl = Reinforce(ctrl, samples_per_update=2)
    g = torch.Generator().manual_seed(0)
    data = [
        (torch.randn(8, 1, 12, 12, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(3)
    ]
    hook = EnasHook(net, rl, data, steps=2, seed=0)
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


PRIOR = dict(op_prior=[10.0, 10.0, 0.0, 0.0, 0.0], normal_op_bias=[0.25, 0.25, -0.25, -0.25, -0.25])


def test_controller_starts_from_the_published_op_prior():
    # the published micro controller: sep convs 0.315 each (others 0.123) in normal cells,
    # 0.254 (others 0.164) in reduction cells, before any update
    torch.manual_seed(0)
    ctrl = Controller(ENAS_PRIMITIVES, n_nodes=2, **PRIOR)
    seen = []
    pick = ctrl._pick

    def record(logits, greedy):
        seen.append(torch.softmax(logits.detach(), -1))
        return pick(logits, greedy)

    ctrl._pick = record
    with torch.no_grad():
        ctrl()
    op_probs = [p for p in seen if len(p) == len(ENAS_PRIMITIVES)]  # index picks have 2..3 entries
    normal, reduction = op_probs[:4], op_probs[4:]
    expected_normal = torch.tensor([0.315, 0.315, 0.123, 0.123, 0.123])
    expected_reduction = torch.tensor([0.254, 0.254, 0.164, 0.164, 0.164])
    for p in normal:
        assert torch.allclose(p, expected_normal, atol=0.02), p
    for p in reduction:
        assert torch.allclose(p, expected_reduction, atol=0.02), p
    assert ctrl.op_bias.requires_grad and not any(n == "normal_op_bias" for n, _ in ctrl.named_parameters())
    with pytest.raises(ValueError, match="op_prior has 2 values for 5 primitives"):
        Controller(ENAS_PRIMITIVES, n_nodes=2, op_prior=[1.0, 2.0])


def test_derive_scores_every_sample_on_the_same_data():
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    net = child().train()
    ctrl = Controller(ENAS_PRIMITIVES, n_nodes=2, **PRIOR)
    data = TensorDataset(torch.randn(96, 1, 12, 12), torch.randint(0, 10, (96,)))
    hook = EnasHook(net, Reinforce(ctrl), DataLoader(data, batch_size=32, shuffle=True), steps=1, seed=0)
    trainer = Trainer(net, trainer_conf(epochs=1, log_every_steps=0), device="cpu")
    hook.restart_validation(-1)
    batches = [hook.val_batch(trainer) for _ in range(2)]
    with torch.no_grad():
        archs = [ctrl().arch for _ in range(6)]
    forward = [hook.reward(trainer, a, batches) for a in archs]
    backward = [hook.reward(trainer, a, batches) for a in reversed(archs)][::-1]
    assert forward == backward  # the same score whatever the order: the same data for every sample
    assert len(set(forward)) > 1  # and the scores do tell architectures apart
