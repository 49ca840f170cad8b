"""Speed and memory benchmarks: prints figures, saves them, compares two runs.

    python bench/run.py                          # all suites, CPU
    python bench/run.py --suite ops --device cuda
    python bench/run.py --save before.json
    python bench/run.py --save after.json --compare before.json

Suites:
  ops        forward+backward time of each DARTS op (C=16, 28x28, batch 64), NCHW vs channels-last
  train      one training step (images/s) and peak memory of the toy DARTS supernet, the toy
             Petridish seed and the DARTS_V2 evaluation network (C=36, 20 cells, CIFAR shape)
  data       one pass of the toy protocol's loaders (the bundled 6,000 training images with
             augmentation at batch 64, the 2,000 test images at 500): milliseconds per pass
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from archai.space.cost import measure_peak_memory
from archai.space.genotypes import GENOTYPES, genotype_to_desc
from archai.space.model import build_model
from archai.space.ops import DARTS_PRIMITIVES, make_op
from archai.space.supernet import Supernet, SupernetBuilder


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(fn, device: torch.device, warmup: int = 2, runs: int = 5) -> float:
    """Median milliseconds of ``fn()``."""
    times = []
    for i in range(warmup + runs):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def suite_ops(device: torch.device) -> dict[str, float]:
    out = {}
    for name in DARTS_PRIMITIVES:
        for fmt, mf in (("nchw", torch.contiguous_format), ("cl", torch.channels_last)):
            op = make_op(name, 16, 1, False).to(device, memory_format=mf)
            x = torch.randn(64, 16, 28, 28, device=device).contiguous(memory_format=mf).requires_grad_()

            def step(op=op, x=x):
                y = op(x)
                if y.requires_grad:
                    y.sum().backward()

            out[f"ops/{name}/{fmt}_ms"] = time_it(step, device)
    return out


def _train_step_figures(
    tag: str, model: torch.nn.Module, shape: tuple, batch: int, device: torch.device
) -> dict:
    model = model.to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(batch, *shape, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(logits, y).backward()
        opt.step()

    ms = time_it(step, device, warmup=1, runs=3)
    return {
        f"train/{tag}/step_ms": ms,
        f"train/{tag}/images_per_s": batch / ms * 1000,
        f"train/{tag}/peak_memory_mb": measure_peak_memory(model, shape, batch_size=batch, device=device),
    }


def suite_train(device: torch.device) -> dict[str, float]:
    out = {}
    toy = SupernetBuilder(
        ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3"],
        init_channels=4,
        n_cells=3,
        n_nodes=2,
        stem_multiplier=2,
        in_channels=1,
        image_size=28,
    )
    out.update(_train_step_figures("darts_toy_supernet", Supernet(toy.build()), (1, 28, 28), 32, device))
    from archai.algos.petridish.space import SeedBuilder

    seed = SeedBuilder(
        init_channels=8, n_cells=3, n_nodes=1, stem_multiplier=2, in_channels=1, image_size=28
    ).build()
    out.update(_train_step_figures("petridish_toy_seed", build_model(seed), (1, 28, 28), 32, device))
    v2 = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=36, n_cells=20)
    out.update(_train_step_figures("darts_v2_c36_l20", build_model(v2), (3, 32, 32), 32, device))
    return out


def suite_data(device: torch.device) -> dict[str, float]:
    from archai.datasets import build_loaders

    conf = {
        "batch_size": 64, "eval_batch_size": 500, "train_limit": 0, "test_limit": 0,
        "val_fraction": 0.0, "augment": True, "cutout": 0, "num_workers": 0, "pin_memory": False,
    }  # fmt: skip
    loaders = build_loaders({"name": "fashion_mnist_mini"}, conf, seed=0, device=str(device), with_test=True)

    def epoch(loader):
        for x, _ in loader:
            x.to(device)

    return {
        "data/toy_train_epoch_ms": time_it(lambda: epoch(loaders.train), device, warmup=1, runs=3),
        "data/toy_test_pass_ms": time_it(lambda: epoch(loaders.test), device, warmup=1, runs=3),
    }


SUITES = {"ops": suite_ops, "train": suite_train, "data": suite_data}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    ap.add_argument("--save", type=Path, help="write the figures as JSON")
    ap.add_argument("--compare", type=Path, help="a saved run to compare with (ratio new/old)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    figures = {
        "meta/device": str(device),
        "meta/threads": torch.get_num_threads(),
        "meta/torch": torch.__version__,
    }
    for name, fn in SUITES.items():
        if args.suite in (name, "all"):
            figures.update(fn(device))
    old = json.loads(args.compare.read_text()) if args.compare else {}
    for k, v in figures.items():
        if isinstance(v, float):
            line = f"{k:48s} {v:12.2f}"
            if isinstance(old.get(k), (int, float)) and old[k]:
                line += f"   x{v / old[k]:.2f} vs {old[k]:.2f}"
            print(line)
        else:
            print(f"{k:48s} {v}")
    if args.save:
        args.save.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
