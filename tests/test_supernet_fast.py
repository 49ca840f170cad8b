"""The supernet's fast mixed edges compute what the plain per-op sum computes.

Every :class:`MixedOpOptions` lever (skipping ``none``, one ReLU per edge, activation
checkpointing of cells, dilated convolutions by sub-grids, the fused weighted sum, one sub-grid
split per edge, 5x5 depthwise weight gradients by 3x3 blocks, mixing weights as BatchNorm scales,
work shared by the edges that read one state) must leave logits, loss, weight gradients,
alpha gradients, BatchNorm statistics and a whole DARTS search step (first and second order)
unchanged up to floating-point rounding.
"""

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from archai.algos.darts.arch_step import DartsArchStep
from archai.search.trainer import Trainer, trainer_conf
from archai.space.ops import DARTS_PRIMITIVES
from archai.space.supernet import (
    PLAIN,
    ArchWeights,
    MixedOp,
    MixedOpOptions,
    Supernet,
    SupernetBuilder,
    weighted_sum,
)

LEVERS = {
    "skip_none": dataclasses.replace(PLAIN, skip_none=True),
    "shared_relu": dataclasses.replace(PLAIN, shared_relu=True),
    "checkpoint": dataclasses.replace(PLAIN, checkpoint=True),
    "dilation_by_phases": dataclasses.replace(PLAIN, dilation_by_phases=True),
    "fused_sum": dataclasses.replace(PLAIN, fused_sum=True),
    "shared_phases": dataclasses.replace(
        PLAIN, shared_relu=True, dilation_by_phases=True, shared_phases=True
    ),
    "scale_in_bn": dataclasses.replace(PLAIN, scale_in_bn=True),
    "scale_in_bn_on_sub_grids": dataclasses.replace(
        PLAIN, scale_in_bn=True, shared_relu=True, dilation_by_phases=True, shared_phases=True
    ),
    "share_across_edges": dataclasses.replace(PLAIN, share_across_edges=True),
    "share_across_edges_phases": dataclasses.replace(
        PLAIN, share_across_edges=True, shared_relu=True, dilation_by_phases=True, shared_phases=True
    ),
    "all": MixedOpOptions(
        skip_none=True,
        shared_relu=True,
        checkpoint=True,
        dilation_by_phases=True,
        fused_sum=True,
        shared_phases=True,
        weight_grad_by_blocks=True,
        scale_in_bn=True,
        share_across_edges=True,
    ),
}


def pair(options, size=8):
    torch.manual_seed(0)
    desc = SupernetBuilder(
        list(DARTS_PRIMITIVES), init_channels=4, n_cells=3, n_nodes=2, in_channels=3, image_size=size
    ).build()
    ref = Supernet(desc, options=PLAIN)
    with torch.no_grad():  # alphas away from uniform, so every op's weight matters
        for a in ref.arch_parameters():
            a.normal_()
    fast = Supernet(desc, options=options)
    fast.load_state_dict(ref.state_dict())
    return ref.train(), fast.train()


def batch(seed=1, size=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 3, size, size, generator=g), torch.randint(0, 10, (6,), generator=g)


def close(a, b):
    return torch.allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("lever", list(LEVERS))
@pytest.mark.parametrize("size", [8, 7])  # 7: odd maps (7, 4, 2), where sub-grids are padded
def test_fast_edges_give_the_same_logits_loss_gradients_and_statistics(lever, size):
    ref, fast = pair(LEVERS[lever], size)
    x, y = batch(size=size)
    out_ref, out_fast = ref(x), fast(x)
    assert close(out_ref, out_fast)
    loss_ref, loss_fast = F.cross_entropy(out_ref, y), F.cross_entropy(out_fast, y)
    assert close(loss_ref, loss_fast)
    loss_ref.backward()
    loss_fast.backward()
    for (name, p), q in zip(ref.named_parameters(), fast.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert close(p.grad, q.grad), name
    for a, b in zip(ref.arch_parameters(), fast.arch_parameters()):
        assert a.grad.abs().sum() > 0 and close(a.grad, b.grad)
    for (name, b), c in zip(ref.named_buffers(), fast.buffers()):  # updated once, not twice
        assert torch.allclose(b.float(), c.float(), rtol=1e-4, atol=1e-6), name


@pytest.mark.parametrize("order", [1, 2])
def test_a_darts_search_step_is_the_same_with_every_lever(order):
    ref, fast = pair(LEVERS["all"])
    conf = trainer_conf(epochs=1, channels_last=False, optimizer={"lr": 0.025}, grad_clip=5.0)
    val = [batch(2)]
    states = []
    for net in (ref, fast):
        trainer = Trainer(net, conf, device="cpu")
        hook = DartsArchStep(net, copy.deepcopy(val), order=order, lr=3e-4)
        x, y = batch(3)
        hook.before_step(trainer, 0, (x, y))  # architecture step on the validation batch
        trainer.optimizer.zero_grad()
        F.cross_entropy(net(x), y).backward()  # weight step on the training batch
        torch.nn.utils.clip_grad_norm_(trainer.params, 5.0)
        trainer.optimizer.step()
        states.append(net.state_dict())
    for k in states[0]:
        assert torch.allclose(states[0][k].float(), states[1][k].float(), rtol=1e-4, atol=1e-6), k


def test_eval_mode_and_no_grad_skip_checkpointing():
    ref, fast = pair(LEVERS["all"])
    x, _ = batch()
    with torch.no_grad():
        assert close(ref.eval()(x), fast.eval()(x))


def test_the_darts_searcher_takes_its_levers_from_the_config(tmp_path):
    import json

    from toy_runs import cli, flags

    tiny = ["--search.loader.train_limit", "128", "--search.trainer.epochs", "1", "--eval.enabled", "false"]
    tiny += ["--common.quiet", "true", "--common.progress", "false", "--common.num_threads", "1"]
    summaries = []
    levers = (
        "skip_none",
        "checkpoint",
        "dilation_by_phases",
        "fused_sum",
        "shared_phases",
        "weight_grad_by_blocks",
        "scale_in_bn",
        "share_across_edges",
    )
    for name, on in (("plain", "false"), ("fast", "true")):
        args = ["--algos", "darts", "--exp-dir", str(tmp_path / name), *tiny]
        args += flags({f"algos.darts.supernet.{lever}": on for lever in levers})
        assert cli.main(args) == 0
        summaries.append(json.loads((tmp_path / name / "darts" / "summary.json").read_text()))
    assert summaries[0]["genotype"] == summaries[1]["genotype"]
    assert abs(summaries[0]["val_top1"] - summaries[1]["val_top1"]) < 1e-9


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "mixed"])
@pytest.mark.parametrize("arch_grad", [True, False])
def test_the_fused_weighted_sum_has_the_plain_sums_value_and_gradients(layout, arch_grad):
    g = torch.Generator().manual_seed(0)
    ys0 = [torch.randn(3, 4, 5, 5, generator=g) for _ in range(3)]
    if layout != "contiguous":
        ys0[1] = ys0[1].contiguous(memory_format=torch.channels_last)
    if layout == "channels_last":
        ys0 = [y.contiguous(memory_format=torch.channels_last) for y in ys0]
    w0 = torch.softmax(torch.randn(3, generator=g), 0)
    grad_out = torch.randn(3, 4, 5, 5, generator=g)
    results = []
    for fused in (False, True):
        w = w0.clone().requires_grad_(arch_grad)
        ys = [y.clone().requires_grad_() for y in ys0]
        out = weighted_sum(w, ys) if fused else sum(wi * y for wi, y in zip(w, ys))
        out.backward(grad_out)
        results.append((out.detach(), w.grad, [y.grad for y in ys]))
    (o1, w1, y1), (o2, w2, y2) = results
    assert close(o1, o2)
    assert (w2 is None) == (not arch_grad) and (w1 is None or close(w1, w2))
    assert all(close(a, b) for a, b in zip(y1, y2))
    # an expanded (stride-0) gradient, as from out.sum(), takes the general path
    w = w0.clone().requires_grad_()
    weighted_sum(w, ys0).sum().backward()
    assert close(w.grad, torch.stack([y.sum() for y in ys0]))


def test_the_fused_weighted_sum_keeps_its_inputs_only_for_the_weights_gradient():
    ys = [torch.randn(2, 3, 4, 4, requires_grad=True) for _ in range(2)]
    saved = {}
    for arch_grad in (True, False):
        out = weighted_sum(torch.tensor([0.3, 0.7], requires_grad=arch_grad), ys)
        saved[arch_grad] = len(out.grad_fn.saved_tensors)
    assert saved == {True: 3, False: 1}  # the weights, plus every input only when they learn


@pytest.mark.parametrize("order", [1, 2])
def test_frozen_passes_give_the_same_step_and_leave_every_parameter_trainable(order):
    _, fast = pair(LEVERS["all"])
    conf = trainer_conf(
        epochs=1, channels_last=False, optimizer={"lr": 0.025, "momentum": 0.9}, grad_clip=5.0
    )
    states = []
    for net, frozen in ((copy.deepcopy(fast), False), (fast, True)):
        trainer = Trainer(net, conf, device="cpu")
        hook = DartsArchStep(net, [batch(2)], order=order, lr=3e-4, frozen_passes=frozen)
        for step in range(2):  # the second step's virtual step uses the momentum buffer
            x, y = batch(3 + step)
            hook.before_step(trainer, step, (x, y))
            trainer.optimizer.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            trainer.optimizer.step()
            hook.after_step(trainer, step, (x, y), float(loss.detach()))
        assert all(p.requires_grad for p in net.parameters())
        states.append(net.state_dict())
    for k in states[0]:
        assert torch.allclose(states[0][k].float(), states[1][k].float(), rtol=1e-4, atol=1e-6), k


def test_weight_gradients_by_blocks_in_a_channels_last_supernet(monkeypatch):
    from archai.space import ops

    calls = []
    original = ops._DepthwiseByBlocks.backward

    def counted(ctx, g):
        calls.append(g.shape)
        return original(ctx, g)

    monkeypatch.setattr(ops._DepthwiseByBlocks, "backward", staticmethod(counted))
    torch.manual_seed(0)
    desc = SupernetBuilder(
        list(DARTS_PRIMITIVES), init_channels=16, n_cells=3, n_nodes=2, in_channels=3, image_size=8
    ).build()  # 16 and 32 channels, 4x4 and 2x2 maps after the reductions: smaller than 5x5
    nets = []
    for options in (PLAIN, dataclasses.replace(PLAIN, weight_grad_by_blocks=True)):
        net = Supernet(desc, options=options).to(memory_format=torch.channels_last)
        if nets:
            net.load_state_dict(nets[0].state_dict())
        x, y = batch()
        F.cross_entropy(net(x.contiguous(memory_format=torch.channels_last)), y).backward()
        nets.append(net)
        assert bool(calls) == options.weight_grad_by_blocks  # the route runs when, and only when, asked
    for (name, p), q in zip(nets[0].named_parameters(), nets[1].parameters()):
        assert close(p.grad, q.grad), name


def test_the_fused_weighted_sum_promotes_mixed_dtypes_as_the_plain_sum_does():
    w = torch.tensor([0.5, 0.5])
    ys = [torch.ones(2, dtype=torch.bfloat16), torch.full((2,), 1 / 3)]
    out = weighted_sum(w, ys)
    assert out.dtype == torch.float32 and torch.allclose(out, sum(wi * y for wi, y in zip(w, ys)))


def test_an_architecture_step_after_a_failed_weight_step_trains_the_alphas_again():
    _, net = pair(LEVERS["all"])
    trainer = Trainer(net, trainer_conf(epochs=1, channels_last=False), device="cpu")
    hook = DartsArchStep(net, [batch(2)], order=1)
    hook.before_step(trainer, 0, batch(3))  # the weight step that should follow raises instead:
    assert not any(a.requires_grad for a in net.arch_parameters())  # after_step never runs
    before = [a.detach().clone() for a in net.arch_parameters()]
    hook.before_step(trainer, 1, batch(4))
    assert all(not torch.equal(a, b) for a, b in zip(net.arch_parameters(), before))


def test_sub_grids_are_a_cpu_lever_other_devices_keep_native_dilated_kernels():
    from archai.space.ops import DepthwiseConv2d

    ctx = ArchWeights()
    for on in (True, False):
        edge = MixedOp(
            DARTS_PRIMITIVES, 4, 1, ctx, "normal", 0, options=MixedOpOptions(dilation_by_phases=on)
        )
        dilated = [m for m in edge.modules() if isinstance(m, DepthwiseConv2d) and m.dilation[0] > 1]
        assert dilated
        for m in dilated:
            assert m.phases(torch.empty(2, 4, 8, 8)) == on  # the CPU
            assert not m.phases(torch.empty(2, 4, 8, 8, device="meta"))  # any other device


@pytest.mark.parametrize("size", [5, 1])  # 1x1 maps: the CPU kernel misread an expanded weight there
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_scaled_batch_norm_is_the_batch_norm_times_the_scale(size, channels_last, momentum):
    from torch import nn

    from archai.space.ops import scaled_batch_norm

    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(6, 4, size, size, generator=g)
    if channels_last:
        x0 = x0.contiguous(memory_format=torch.channels_last)
    grad_out = torch.randn(6, 4, size, size, generator=g)
    bns = [nn.BatchNorm2d(4, affine=False, momentum=momentum) for _ in range(2)]
    results = []
    for _ in range(2):  # the second step reads the running statistics the first one left
        for bn, fused in zip(bns, (False, True)):
            x, s = x0.clone().requires_grad_(), torch.tensor(0.7, requires_grad=True)
            out = scaled_batch_norm(bn, x, s) if fused else bn(x) * s
            out.backward(grad_out)
            results.append((out.detach(), x.grad, s.grad))
        (o1, x1, s1), (o2, x2, s2) = results[-2:]
        assert close(o1, o2) and close(x1, x2) and close(s1, s2)
    for a, b in zip(bns[0].buffers(), bns[1].buffers()):
        assert torch.allclose(a.float(), b.float(), rtol=1e-5, atol=1e-7)
    for bn in bns:
        bn.eval()
    assert close(bns[0](x0) * 0.7, scaled_batch_norm(bns[1], x0, torch.tensor(0.7)))
    with pytest.raises(ValueError, match="affine"):
        scaled_batch_norm(nn.BatchNorm2d(4), x0, torch.tensor(1.0))


def test_edges_that_read_one_state_pool_it_once():
    from torch import nn

    counts = {}
    for lever in (False, True):
        _, net = pair(dataclasses.replace(LEVERS["all"], share_across_edges=lever))
        calls = []
        for m in net.modules():
            if isinstance(m, nn.MaxPool2d):
                m.register_forward_hook(lambda mod, args, out, calls=calls: calls.append(args[0]))
        net(batch()[0])
        counts[lever] = (len(calls), len({id(t) for t in calls}))
    # 3 cells of 2 nodes: 5 edges each, reading 3 states
    assert counts[False] == (15, 9) and counts[True] == (9, 9)


def test_stop_grad_edges_share_their_detached_input_and_compute_the_same():
    from archai.space.model_desc import EdgeDesc, NodeDesc, OpDesc

    torch.manual_seed(0)
    desc = SupernetBuilder(
        list(DARTS_PRIMITIVES), init_channels=4, n_cells=3, n_nodes=2, in_channels=3, image_size=8
    ).build()
    stop = OpDesc("mixed", {"candidates": list(DARTS_PRIMITIVES), "stop_grad": True})
    cells = [
        dataclasses.replace(c, nodes=[NodeDesc([EdgeDesc(stop, e.input) for e in n.edges]) for n in c.nodes])
        for c in desc.cells
    ]
    desc = dataclasses.replace(desc, cells=cells)
    ref = Supernet(desc, options=PLAIN, weighting="linear")
    fast = Supernet(desc, options=MixedOpOptions(), weighting="linear")
    fast.load_state_dict(ref.state_dict())
    x, y = batch()
    for net in (ref, fast):
        F.cross_entropy(net(x), y).backward()
    for (name, p), q in zip(ref.named_parameters(), fast.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        assert p.grad is None or close(p.grad, q.grad), name


def test_checkpointed_cells_keep_only_their_inputs_and_output_for_backward():
    def saved_in_first_cell(cells: int) -> int:  # 0: no cell is checkpointed
        torch.manual_seed(0)
        desc = SupernetBuilder(
            list(DARTS_PRIMITIVES), init_channels=4, n_cells=3, n_nodes=2, in_channels=3, image_size=8
        ).build()
        net = Supernet(desc, options=MixedOpOptions(checkpoint=bool(cells), checkpoint_cells=cells))
        assert [c.checkpoint for c in net.model.cells] == [bool(cells), False, False]
        inside, saved = [], []
        net.model.cells[0].register_forward_pre_hook(lambda m, a: inside.append(True))
        net.model.cells[0].register_forward_hook(lambda m, a, o: inside.append(False))

        def pack(t):
            if inside and inside[-1]:
                saved.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.cross_entropy(net(batch()[0]), batch()[1])
        loss.backward()
        return sum(saved)

    assert saved_in_first_cell(1) < saved_in_first_cell(0) / 20  # its inputs at most, not every activation


def test_a_checkpointed_cell_is_recomputed_with_the_mixing_weights_of_its_forward():
    grads = []
    for checkpointed in (False, True):
        _, net = pair(dataclasses.replace(LEVERS["all"], checkpoint=checkpointed))
        x, y = batch()
        first = F.cross_entropy(net(x), y)
        with torch.no_grad():  # another forward with other alphas before the backward
            for a in net.arch_parameters():
                a.mul_(-2.0)
        F.cross_entropy(net(x), y)
        first.backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    assert all(close(a, b) for a, b in zip(*grads))


@pytest.mark.parametrize("train", [True, False])
def test_shared_pooling_keeps_each_edges_own_batch_norm_statistics(train):
    from torch import nn

    ref, fast = pair(LEVERS["all"])
    with torch.no_grad():  # the pooling BatchNorms of the edges that read one state now differ
        for i, m in enumerate(m for m in ref.modules() if isinstance(m, nn.BatchNorm2d)):
            m.running_mean.fill_(0.1 * i)
            m.running_var.fill_(1.0 + 0.05 * i)
    fast.load_state_dict(ref.state_dict())
    x, _ = batch()
    with torch.no_grad():
        assert close(ref.train(train)(x), fast.train(train)(x))
    for (name, b), c in zip(ref.named_buffers(), fast.buffers()):
        assert torch.allclose(b.float(), c.float(), rtol=1e-5, atol=1e-6), name


def test_a_module_replaced_after_construction_is_the_one_that_runs():
    from torch import nn

    ref, fast = pair(LEVERS["all"])
    x, _ = batch()
    for net in (ref, fast):
        net(x)
        sep = net.model.cells[0].nodes[0][0]._ops[4]  # sep_conv_3x3 of the first edge
        sep[1][3] = nn.BatchNorm2d(4, affine=False, eps=0.5)
    assert close(ref(x), fast(x))
