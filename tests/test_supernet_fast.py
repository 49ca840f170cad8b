"""The supernet's fast mixed edges compute what the plain per-op sum computes.

Every :class:`MixedOpOptions` lever (skipping ``none``, one ReLU per edge, activation
checkpointing, dilated convolutions by sub-grids) must leave logits, loss, weight gradients, alpha gradients, BatchNorm statistics
and a whole DARTS search step (first and second order) unchanged up to floating-point rounding.
"""

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from archai.algos.darts.arch_step import DartsArchStep
from archai.search.trainer import Trainer, trainer_conf
from archai.space.ops import DARTS_PRIMITIVES
from archai.space.supernet import PLAIN, MixedOpOptions, Supernet, SupernetBuilder

LEVERS = {
    "skip_none": dataclasses.replace(PLAIN, skip_none=True),
    "shared_relu": dataclasses.replace(PLAIN, shared_relu=True),
    "checkpoint": dataclasses.replace(PLAIN, checkpoint=True),
    "dilation_by_phases": dataclasses.replace(PLAIN, dilation_by_phases=True),
    "all": MixedOpOptions(skip_none=True, shared_relu=True, checkpoint=True, dilation_by_phases=True),
}


def pair(options):
    torch.manual_seed(0)
    desc = SupernetBuilder(
        list(DARTS_PRIMITIVES), init_channels=4, n_cells=3, n_nodes=2, in_channels=3, image_size=8
    ).build()
    ref = Supernet(desc, options=PLAIN)
    with torch.no_grad():  # alphas away from uniform, so every op's weight matters
        for a in ref.arch_parameters():
            a.normal_()
    fast = Supernet(desc, options=options)
    fast.load_state_dict(ref.state_dict())
    return ref.train(), fast.train()


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 10, (6,), generator=g)


def close(a, b):
    return torch.allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("lever", list(LEVERS))
def test_fast_edges_give_the_same_logits_loss_gradients_and_statistics(lever):
    ref, fast = pair(LEVERS[lever])
    x, y = batch()
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
    assert any(
        close(a.grad, b.grad) and a.grad.abs().sum() > 0
        for a, b in zip(ref.arch_parameters(), fast.arch_parameters())
    )
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

    from toy_runs import cli

    tiny = ["--search.loader.train_limit", "128", "--search.trainer.epochs", "1", "--eval.enabled", "false"]
    tiny += ["--common.quiet", "true", "--common.progress", "false", "--common.num_threads", "1"]
    summaries = []
    for name, levers in (("plain", ["false", "false", "false"]), ("fast", ["true", "true", "true"])):
        args = ["--algos", "darts", "--exp-dir", str(tmp_path / name), *tiny]
        args += [
            "--algos.darts.supernet.skip_none",
            levers[0],
            "--algos.darts.supernet.checkpoint",
            levers[1],
            "--algos.darts.supernet.dilation_by_phases",
            levers[2],
        ]
        assert cli.main(args) == 0
        summaries.append(json.loads((tmp_path / name / "darts" / "summary.json").read_text()))
    assert summaries[0]["genotype"] == summaries[1]["genotype"]
    assert abs(summaries[0]["val_top1"] - summaries[1]["val_top1"]) < 1e-9
