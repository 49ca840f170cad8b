"""DARTS: mixed ops, the bilevel step (first and second order) and the finalizer."""

import copy

import pytest
import torch
import torch.nn.functional as F

from archai.algos.darts.arch_step import DartsArchStep
from archai.search.trainer import Trainer, trainer_conf
from archai.space.model_desc import CellDesc, EdgeDesc, NodeDesc, OpDesc
from archai.space.supernet import MIXED, Supernet, SupernetBuilder, finalize_cell


def tiny_net(dtype=torch.float32, prims=("none", "skip_connect", "nor_conv_3x3", "avg_pool_3x3")):
    torch.manual_seed(0)
    desc = SupernetBuilder(
        list(prims), init_channels=2, n_cells=1, n_nodes=2, in_channels=1, image_size=6, stem_multiplier=1
    ).build()
    return Supernet(desc).to(dtype)


def batches(dtype=torch.float32, n=3):
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(4, 1, 6, 6, generator=g, dtype=dtype), torch.randint(0, 10, (4,), generator=g))
        for _ in range(n)
    ]


def make_trainer(net, **kw):
    conf = trainer_conf(
        epochs=1, channels_last=False, optimizer={"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}, **kw
    )
    return Trainer(net, conf, device="cpu")


@pytest.mark.parametrize("order", [1, 2])
def test_arch_step_moves_alphas_only(order):
    net = tiny_net()
    trainer = make_trainer(net)
    hook = DartsArchStep(net, batches(), order=order, lr=0.1)
    weights = copy.deepcopy(net.model.state_dict())
    alphas = [a.detach().clone() for a in net.arch_parameters()]
    hook.before_step(trainer, 0, batches()[0])
    assert any(not torch.equal(a, b) for a, b in zip(alphas, net.arch_parameters()))
    for k, v in net.model.state_dict().items():  # weights and BatchNorm statistics untouched
        assert torch.equal(v, weights[k]), k


def test_second_order_matches_exact_unrolled_gradient():
    torch.manual_seed(0)
    net = tiny_net(torch.float64, prims=("skip_connect", "nor_conv_3x3", "avg_pool_3x3"))
    for m in net.modules():  # keep BatchNorm in a fixed mode so the loss is a smooth function
        if isinstance(m, torch.nn.BatchNorm2d):
            m.track_running_stats = False
    trainer = make_trainer(net)
    eta = trainer.lr
    (xt, yt), (xv, yv) = batches(torch.float64, 2)
    hook = DartsArchStep(net, [(xv, yv)], order=2, unrolled_r=1e-4)
    approx = hook._unrolled_grads(trainer, (xt, yt), (xv, yv))

    # exact: d/d(alpha) of L_val(w - eta * dL_train/dw (w, alpha), alpha), by double backprop
    weights, alphas = net.weight_parameters(), net.arch_parameters()
    g = torch.autograd.grad(F.cross_entropy(net(xt), yt), weights, create_graph=True)
    originals = [w.detach().clone() for w in weights]
    unrolled = [w - eta * gi for w, gi in zip(weights, g)]
    params = {n: p for n, p in net.named_parameters()}
    names = [n for n, p in params.items() if any(p is w for w in weights)]
    from torch.func import functional_call

    out = functional_call(net, {**params, **dict(zip(names, unrolled))}, (xv,))
    exact = torch.autograd.grad(F.cross_entropy(out, yv), alphas)
    for a, e in zip(approx, exact):
        assert torch.allclose(a, e, rtol=1e-3, atol=1e-6), (a - e).abs().max()
    for w, w0 in zip(weights, originals):
        assert torch.equal(w, w0)


def test_darts_trains_alphas_and_weights_through_the_trainer():
    net = tiny_net()
    alphas0 = {k: a.detach().clone() for k, a in net.alphas.items()}
    conf = trainer_conf(epochs=2, channels_last=False, log_every_steps=0)
    hook = DartsArchStep(net, batches(), order=1, lr=0.05)
    Trainer(net, conf, device="cpu", hooks=[hook]).fit(batches())
    assert all(not torch.equal(alphas0[k], net.alphas[k]) for k in alphas0)
    assert set(map(id, net.arch_parameters())).isdisjoint(map(id, net.weight_parameters()))


def test_finalize_keeps_top_k_and_never_none():
    cands = ["none", "skip_connect", "sep_conv_3x3"]
    op = OpDesc(MIXED, {"candidates": cands})
    cell = CellDesc(
        "normal",
        4,
        [
            NodeDesc([EdgeDesc(op, 0), EdgeDesc(op, 1)]),
            NodeDesc([EdgeDesc(op, 0), EdgeDesc(op, 1), EdgeDesc(op, 2)]),
        ],
        [2, 3],
    )
    w = torch.tensor(
        [
            [0.9, 0.03, 0.07],  # none dominates edge 0->2, but none is never chosen
            [0.1, 0.2, 0.7],
            [0.0, 0.6, 0.4],
            [0.0, 0.1, 0.9],
            [0.0, 0.3, 0.2],
        ]
    )
    out = finalize_cell(cell, w, k=2)
    assert [(e.op.name, e.input) for e in out.nodes[0].edges] == [("sep_conv_3x3", 1), ("sep_conv_3x3", 0)]
    assert [(e.op.name, e.input) for e in out.nodes[1].edges] == [("sep_conv_3x3", 1), ("skip_connect", 0)]
    assert all(e.op.name != "none" for n in out.nodes for e in n.edges)


def test_each_pass_freezes_what_it_does_not_update_and_the_updates_stay_the_same():
    net = tiny_net()
    by_hand = copy.deepcopy(net)
    (xv, yv), (x, y) = batches()[0], batches()[1]
    # through the hook: the architecture pass with frozen weights, the weight step with frozen alphas
    trainer = make_trainer(net)
    hook = DartsArchStep(net, [(xv, yv)], order=1, lr=0.1)
    hook.before_step(trainer, 0, (x, y))
    assert not any(a.requires_grad for a in net.arch_parameters())
    trainer.optimizer.zero_grad()
    F.cross_entropy(net(x), y).backward()
    trainer.optimizer.step()
    hook.after_step(trainer, 0, (x, y), 0.0)
    assert all(a.requires_grad for a in net.arch_parameters()) and all(
        a.grad is not None for a in net.arch_parameters()
    )
    # by hand, nothing frozen: the published order of operations
    trainer_b = make_trainer(by_hand)
    adam = torch.optim.Adam(by_hand.arch_parameters(), lr=0.1, betas=(0.5, 0.999), weight_decay=1e-3)
    buffers = [b.detach().clone() for b in by_hand.buffers()]
    grads = torch.autograd.grad(F.cross_entropy(by_hand(xv), yv), by_hand.arch_parameters())
    with torch.no_grad():
        for b, b0 in zip(by_hand.buffers(), buffers):
            b.copy_(b0)
    for a, g in zip(by_hand.arch_parameters(), grads):
        a.grad = g
    adam.step()
    trainer_b.optimizer.zero_grad()
    F.cross_entropy(by_hand(x), y).backward()
    trainer_b.optimizer.step()
    for (k, v), w in zip(net.state_dict().items(), by_hand.state_dict().values()):
        assert torch.allclose(v.float(), w.float(), rtol=1e-5, atol=1e-7), k
