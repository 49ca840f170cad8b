"""Peak memory of one ProxylessNAS search step against a DARTS-style all-paths step and one fixed
path's training step, on the same block space, batch and device, in one run.

    python bench/proxyless_memory.py                          # the paper's network at 224x224, batch 8, CPU
    python bench/proxyless_memory.py --toy --batch 64         # the toy protocol's network (28x28)
    python bench/proxyless_memory.py --device cuda --batch 32 --json out.json

Steps (each a forward and backward pass of one batch):

- ``fixed``: the network of one path (every layer ``--block``) built alone, as it is trained
  once found;
- ``weight``: ProxylessNAS' weight step, the supernet running that same path (the other
  candidates neither run nor keep anything);
- ``arch``: ProxylessNAS' architecture step, two paths per layer through binary gates (the
  inactive one without autograd), weights frozen, gradients to the gates;
- ``all_paths``: DARTS' step, every candidate of every layer mixed by the softmax of the
  architecture weights, gradients to weights and architecture weights alike.

On the CPU the figure is what a step holds at its peak: the tensors autograd saves for backward
(each storage once), the parameters held and the gradients the step makes; on CUDA it is the
allocator's peak above what was allocated before the step. The ratios to ``fixed`` are printed;
the supernet's parameters (all candidates') are held by every supernet step and listed apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from archai.space.model import build_model  # noqa: E402
from archai.space.spaces import make_space  # noqa: E402
from archai.space.supernet import MixedOpOptions, Supernet  # noqa: E402

TOY = {
    "stages": [[12, 2, 2], [16, 2, 2], [24, 2, 1]],
    "stem_channels": 8,
    "first_channels": 8,
    "head_channels": 64,
}


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measure(step, params, device: torch.device) -> dict:
    """Peak memory (MiB) of ``step()`` (which runs forward and backward), as the module says."""
    for p in params:
        p.grad = None
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        return {"peak_mb": peak / 2**20}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        try:
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = max(seen.get(storage.data_ptr(), 0), storage.nbytes())
        except RuntimeError:
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    grads = _bytes(p.grad for p in params if p.grad is not None)
    held = _bytes(params)
    saved = sum(seen.values())
    return {
        "activations_mb": saved / 2**20,
        "params_mb": held / 2**20,
        "grads_mb": grads / 2**20,
        "peak_mb": (saved + held + grads) / 2**20,
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toy", action="store_true", help="the toy protocol's network (28x28, 1 channel)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--block", default="mb_conv_7x7_e6", help="the fixed path's block in every layer")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    shape = (
        {"in_channels": 1, "image_size": 28, "n_classes": 10}
        if args.toy
        else {"image_size": 224, "n_classes": 1000}
    )
    space = make_space("mobilenet", shape=shape, **(TOY if args.toy else {}))
    torch.manual_seed(0)
    x = torch.randn(
        args.batch, shape.get("in_channels", 3), shape["image_size"], shape["image_size"], device=device
    )
    y = torch.randint(0, shape["n_classes"], (args.batch,), device=device)
    desc = space.build([args.block] * len(space.layers))
    fixed = build_model(desc).to(device).train()
    net = Supernet(space.supernet_desc(), options=MixedOpOptions()).to(device).train()
    path = space.path(net.desc, desc)
    results = {}

    def loss_of(model):
        return F.cross_entropy(model(x), y)

    results["fixed"] = measure(lambda: loss_of(fixed).backward(), list(fixed.parameters()), device)
    fixed = None  # its memory back before the supernet steps
    weights, alphas = net.weight_parameters(), net.arch_parameters()

    def weight_step():
        net.context.gates, net.path = None, path
        loss_of(net).backward()

    results["weight"] = measure(weight_step, weights + alphas, device)

    def arch_step():
        net.path = {g: [(p[0][0], (p[0][0] + 1) % len(net.candidates[g]))] for g, p in path.items()}
        gates = {
            g: torch.zeros_like(a).index_fill_(1, torch.tensor([path[g][0][0]], device=device), 1.0)
            for g, a in net.alphas.items()
        }
        net.context.gates = {g: t.requires_grad_() for g, t in gates.items()}
        for w in weights:
            w.requires_grad_(False)
        try:
            torch.autograd.grad(loss_of(net), list(net.context.gates.values()))
        finally:
            for w in weights:
                w.requires_grad_(True)
            net.context.gates = None

    results["arch"] = measure(arch_step, weights + alphas, device)

    def all_paths_step():
        net.context.gates, net.path = None, None
        loss_of(net).backward()

    results["all_paths"] = measure(all_paths_step, weights + alphas, device)
    base = results["fixed"]["peak_mb"]
    for r in results.values():
        r["vs_fixed"] = r["peak_mb"] / base
    what = "toy network, 28x28" if args.toy else "paper network, 224x224"
    print(f"mobilenet space ({what}), batch {args.batch}, {device}; fixed path: {args.block} everywhere")
    cols = ["peak_mb", "activations_mb", "params_mb", "grads_mb", "vs_fixed"]
    print(f"{'step':10s} " + " ".join(f"{c:>15s}" for c in cols))
    for name, r in results.items():
        print(f"{name:10s} " + " ".join(f"{r[c]:15.2f}" if c in r else f"{'-':>15s}" for c in cols))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"batch": args.batch, "device": str(device), "toy": args.toy, "steps": results}, indent=1
            )
        )
    return results


if __name__ == "__main__":
    main()
