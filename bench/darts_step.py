"""Time and peak memory of one DARTS search step: the project's fast supernet against the plain one.

    python bench/darts_step.py                                   # both paths, compared (CPU)
    python bench/darts_step.py --impl fast --shape 3x32x32 --batch 32 --warmup 1 --steps 3 --json OUT
    python bench/darts_step.py --shape 1x28x28 --batch 64 --order 2
    python bench/darts_step.py --levers skip_none,shared_relu,checkpoint    # choose the levers
    python bench/darts_step.py --device cuda

A step is what the DARTS searcher does per training batch: the architecture step on a validation
batch (Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3; first or second order), then the weight
step on a training batch (SGD 0.025, momentum 0.9, weight decay 3e-4, gradient clipping at 5).
The supernet has ``--cells`` cells of ``--nodes`` nodes over all eight DARTS candidates.

``--impl fast`` builds the supernet with the mixed-edge levers of ``confs/algos/darts.yaml``
(``algos.darts.supernet``, or ``--levers``); ``--impl reference`` with the plain per-op sum.
Each path runs in its own process (peak memory is per process): the median seconds per step
after the warm-up steps, and the peak memory (the process's peak RSS, ``ru_maxrss``, on the CPU;
``torch.cuda.max_memory_allocated`` on CUDA), are printed and, with ``--json``, written as
``{"s_per_step": ..., "peak_mb": ...}`` plus details. Without ``--impl`` both paths run and the
fast/reference ratios are printed; ``--repeats N`` alternates them N times (reference, fast,
reference, ...) and reports the median over the runs, since a shared machine drifts.

glibc's allocator returns the GB-sized activations of a step to the system and faults them in
again on the next, which makes CPU step times vary by a third. Unless ``--malloc system`` is
given, each measuring process runs with ``GLIBC_TUNABLES`` set to keep that memory (the setting
must be in place before Python starts, so the process re-executes itself once to apply it; the
``malloc`` key of the output says whether it took effect).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LEVERS = (
    "skip_none",
    "shared_relu",
    "checkpoint",
    "dilation_by_phases",
    "fused_sum",
    "shared_phases",
    "weight_grad_by_blocks",
    "scale_in_bn",
    "share_across_edges",
)
TUNED_MALLOC = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184"


def _darts_defaults() -> dict:
    from archai.common.config import confs_dir, load_yaml

    return load_yaml(confs_dir() / "algos" / "darts.yaml")


def _configured_levers() -> str:
    conf = _darts_defaults()["algos"]["darts"]["supernet"]
    return ",".join(k for k in LEVERS if conf.get(k))


def _configured_checkpoint_cells() -> int:
    return int(_darts_defaults()["algos"]["darts"]["supernet"].get("checkpoint_cells", 0))


def _configured_channels_last() -> bool | None:
    return _darts_defaults().get("search", {}).get("trainer", {}).get("channels_last")


def measure(args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F

    from archai.algos.darts.arch_step import DartsArchStep
    from archai.search.trainer import Trainer, trainer_conf
    from archai.space.ops import DARTS_PRIMITIVES
    from archai.space.supernet import PLAIN, MixedOpOptions, Supernet, SupernetBuilder

    if args.threads:
        torch.set_num_threads(args.threads)
    c, h, w = (int(v) for v in args.shape.split("x"))
    torch.manual_seed(0)
    levers = [v for v in args.levers.split(",") if v] if args.levers is not None else []
    unknown = set(levers) - set(LEVERS)
    if unknown:
        raise SystemExit(f"darts_step.py: unknown lever(s) {sorted(unknown)}; known: {', '.join(LEVERS)}")
    options = (
        PLAIN
        if args.impl == "reference"
        else MixedOpOptions(**{k: k in levers for k in LEVERS}, checkpoint_cells=args.checkpoint_cells)
    )
    if args.channels_last == "auto":  # the fast path as the DARTS search runs it; the plain one in NCHW
        channels_last = _configured_channels_last() if args.impl == "fast" else False
    else:
        channels_last = args.channels_last
    desc = SupernetBuilder(
        list(DARTS_PRIMITIVES),
        init_channels=args.C,
        n_cells=args.cells,
        n_nodes=args.nodes,
        in_channels=c,
        image_size=h,
        n_classes=10,
        affine=False,
    ).build()
    net = Supernet(desc, options=options)
    conf = trainer_conf(
        epochs=1,
        channels_last=channels_last,
        optimizer={"name": "sgd", "lr": 0.025, "momentum": 0.9, "weight_decay": 3e-4},
        grad_clip=5.0,
    )
    trainer = Trainer(net, conf, device=args.device)
    dev = trainer.device

    def data(seed: int):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(args.batch, c, h, w, generator=g)
        return trainer.to_device(x), torch.randint(0, 10, (args.batch,), generator=g).to(dev)

    val = [data(1)]
    hook = DartsArchStep(
        net,
        val,
        order=args.order,
        lr=3e-4,
        betas=(0.5, 0.999),
        weight_decay=1e-3,
        frozen_passes=args.impl == "fast",  # the reference keeps every parameter trainable
    )
    train = data(2)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(args.warmup + args.steps):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        hook.before_step(trainer, i, train)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(train[0]), train[1])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainer.params, 5.0)
        trainer.optimizer.step()
        hook.after_step(trainer, i, train, float(loss.detach()))
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "s_per_step": statistics.median(times),
        "peak_mb": round(peak, 1),
        "impl": args.impl,
        "levers": levers if args.impl == "fast" else [],
        "checkpoint_cells": args.checkpoint_cells if args.impl == "fast" else 0,
        "steps_s": [round(t, 3) for t in times],
        "shape": args.shape,
        "batch": args.batch,
        "C": args.C,
        "cells": args.cells,
        "nodes": args.nodes,
        "order": args.order,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "malloc": "tuned" if os.environ.get("GLIBC_TUNABLES") == TUNED_MALLOC else "system",
        "channels_last": trainer.memory_format == torch.channels_last,
        "torch": torch.__version__,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", choices=["fast", "reference"], help="run one path (default: both, compared)")
    ap.add_argument("--shape", default="3x32x32", help="CxHxW of the inputs")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--C", type=int, default=16, help="initial channels")
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--order", type=int, choices=[1, 2], default=1)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    ap.add_argument(
        "--channels-last",
        type=lambda v: "auto" if v == "auto" else (None if v == "device" else v == "true"),
        default="auto",
        help="true, false, device (the trainer's per-device default) or auto (default): the fast "
        "path as confs/algos/darts.yaml runs the search, the reference in NCHW as a plain "
        "transcription runs",
    )
    ap.add_argument(
        "--checkpoint-cells",
        type=int,
        help="with the checkpoint lever: only the first N cells (0: all; default: confs/algos/darts.yaml)",
    )
    ap.add_argument("--repeats", type=int, default=1, help="without --impl: run each path this many times")
    ap.add_argument(
        "--malloc",
        choices=["tuned", "system"],
        default="tuned",
        help="tuned (default): keep freed memory for the next step (GLIBC_TUNABLES); system: as is",
    )
    ap.add_argument("--levers", help=f"fast path levers, comma-separated from {', '.join(LEVERS)}")
    ap.add_argument("--json", type=Path, help="write the figures of --impl as JSON")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.repeats < 1:
        raise SystemExit(f"darts_step.py: --repeats must be 1 or more, got {args.repeats}")
    if args.levers is None:
        args.levers = _configured_levers()
    if args.checkpoint_cells is None:
        args.checkpoint_cells = _configured_checkpoint_cells()
    if args.impl:
        tuned = os.environ.get("GLIBC_TUNABLES") == TUNED_MALLOC
        if args.malloc == "tuned" and not tuned and not os.environ.get("ARCHAI_BENCH_REEXEC"):
            argv = argv if argv is not None else sys.argv[1:]
            env = {**os.environ, "GLIBC_TUNABLES": TUNED_MALLOC, "ARCHAI_BENCH_REEXEC": "1"}
            sys.exit(subprocess.run([sys.executable, __file__, *argv], env=env).returncode)
        out = measure(args)
        print(json.dumps(out))
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
        return
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--json"]
    if args.json:  # --json OUT without --impl: the comparison goes there
        i = passthrough.index(str(args.json)) if str(args.json) in passthrough else -1
        if i >= 0:
            passthrough.pop(i)
    runs: dict[str, list[dict]] = {"reference": [], "fast": []}
    for _ in range(args.repeats):
        for impl in runs:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out.json"
                cmd = [sys.executable, __file__, *passthrough, "--impl", impl, "--json", str(out)]
                cmd += ["--levers", args.levers] if "--levers" not in passthrough else []
                cmd += ["--checkpoint-cells", str(args.checkpoint_cells)]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # applies --malloc itself
                runs[impl].append(json.loads(out.read_text()))
    rows = {}
    for impl, results in runs.items():
        rows[impl] = {
            **results[0],
            "s_per_step": statistics.median(r["s_per_step"] for r in results),
            "peak_mb": statistics.median(r["peak_mb"] for r in results),
            "runs": [{"s_per_step": r["s_per_step"], "peak_mb": r["peak_mb"]} for r in results],
        }
    ref, fast = rows["reference"], rows["fast"]
    print(
        f"DARTS search step, order {args.order}, batch {args.batch}, {args.shape}, C={args.C}, "
        f"{args.cells} cells x {args.nodes} nodes, {ref['device']}, {ref['threads']} threads, "
        f"{ref['malloc']} malloc, median of {args.repeats} run(s) per path"
    )
    print("| path | levers | memory format | s/step | peak MB |\n|---|---|---|---|---|")
    for name, r in rows.items():
        levers = ",".join(r["levers"]) + (
            f" (first {r['checkpoint_cells']} cells)"
            if r["checkpoint_cells"] and "checkpoint" in r["levers"]
            else ""
        )
        fmt = "channels-last" if r["channels_last"] else "NCHW"
        spread = ""
        if len(r["runs"]) > 1:
            times = [x["s_per_step"] for x in r["runs"]]
            spread = f" ({min(times):.2f}-{max(times):.2f})"
        print(f"| {name} | {levers or '-'} | {fmt} | {r['s_per_step']:.2f}{spread} | {r['peak_mb']:.0f} |")
    print(
        f"fast / reference: time {fast['s_per_step'] / ref['s_per_step']:.2f}x, "
        f"peak memory {fast['peak_mb'] / ref['peak_mb']:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
