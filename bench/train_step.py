"""Training throughput of small models: the project's Trainer against a bare loop, jobs side by side.

    python bench/train_step.py                          # every case, trainer and bare loop
    python bench/train_step.py --case toy_final --jobs 1,2
    python bench/train_step.py --compare 834f71a        # the same on another commit, alternating
    python bench/train_step.py --case toy_search --mode trainer --jobs 2 --json out.json

Cases (random inputs of the dataset's shape; the model and trainer settings of the protocol):

  toy_final   the toy protocol's final model: DARTS_V2 cells, C=8, 5 cells, stride-2 stem,
              1x28x28, batch 64, the toy eval trainer (lr 0.05, clipping at 5)
  toy_search  a search-sized model: Petridish's larger toy seed (C=16, 5 cells of one
              sep_conv_3x3 node, stride-2 stem), 1x28x28, batch 32, the toy search trainer
  full_eval   the full protocol's eval network (DARTS_V2, C=36, 20 cells, auxiliary head,
              drop-path 0.2), 3x32x32, at batch 16

Models and inputs are in the memory format the measured code's trainer chooses on the CPU by
default (``--memory-format`` to choose). Modes: ``trainer`` is ``Trainer.fit`` over a list of pre-collated batches, with a run logger as
in a job (metrics every 20 steps); ``bare`` is the same arithmetic written as a plain loop (SGD
with momentum and weight decay, cross-entropy (plus the auxiliary loss), gradient clipping at 5,
the loss read once per step). ``--jobs K`` starts K processes at once, each with
``cores / K`` threads (``--threads`` to choose), that warm up, wait for each other, then time
``--steps`` steps; the figure is images per second summed over the K jobs, which is what a
machine running K small trainings side by side gets done. Every measurement runs in fresh
processes (peak memory is each process's peak RSS). Separate processes of the same code spread
by 10-20% on a small machine, more than the trainer's overhead, so with both modes and one
job the trainer's overhead is also measured in one process: six trainer and bare-loop runs in
turn, the median of their ratios.

``--compare REV`` checks REV out in a temporary git worktree and alternates each measurement
between it and this checkout ``--repeats`` times (default 3), printing medians and the ratio
this/REV: absolute figures differ 2x between machines, ratios measured side by side do not.
Set ``ONEDNN_MAX_CPU_ISA=AVX2`` to measure oneDNN's AVX2 kernels on an AVX-512 CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("toy_final", "toy_search", "full_eval")
MODES = ("trainer", "bare")


# ----------------------------------------------------------------------------- the worker


def _build(case: str, batch: int | None):
    """(model, input shape, batch, trainer overrides) of a case."""
    from archai.space.genotypes import GENOTYPES, genotype_to_desc
    from archai.space.model import build_model

    if case == "toy_final":
        desc = genotype_to_desc(
            GENOTYPES["DARTS_V2"], init_channels=8, n_cells=5, stem_multiplier=2, stem_stride=2,
            in_channels=1, image_size=28,
        )  # fmt: skip
        return build_model(desc), (1, 28, 28), batch or 64, {"optimizer": {"lr": 0.05}}
    if case == "toy_search":
        from archai.algos.petridish.space import SeedBuilder

        desc = SeedBuilder(
            init_channels=16, n_cells=5, n_nodes=1, stem_multiplier=2, stem_stride=2, in_channels=1,
            image_size=28,
        ).build()  # fmt: skip
        return build_model(desc), (1, 28, 28), batch or 32, {"optimizer": {"lr": 0.05}}
    if case == "full_eval":
        desc = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=36, n_cells=20, aux_head=True)
        conf = {"optimizer": {"lr": 0.025}, "aux_weight": 0.4, "drop_path_prob": 0.2}
        return build_model(desc), (3, 32, 32), batch or 16, conf
    raise SystemExit(f"unknown case {case!r}; choose from {', '.join(CASES)}")


def _bare_loop(model, batches, conf) -> None:
    """The trainer's arithmetic as a plain loop (the reference the trainer is held to)."""
    import torch
    import torch.nn.functional as F

    opt = conf["optimizer"]
    sgd = torch.optim.SGD(
        model.parameters(), lr=opt["lr"], momentum=opt["momentum"], weight_decay=opt["weight_decay"]
    )
    aux_w, clip = float(conf["aux_weight"]), float(conf["grad_clip"])
    if hasattr(model, "drop_path_prob"):
        model.drop_path_prob = 0.0  # the first epoch of the trainer's ramp
    model.train()
    total = 0.0
    for x, y in batches:
        sgd.zero_grad(set_to_none=True)
        out = model(x)
        logits, aux = out if isinstance(out, tuple) else (out, None)
        loss = F.cross_entropy(logits, y)
        if aux is not None and aux_w > 0:
            loss = loss + aux_w * F.cross_entropy(aux, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        sgd.step()
        total += float(loss.detach())


def worker(spec: dict) -> dict:
    """Runs one timed measurement as described by ``spec``; returns its figures."""
    sys.path.insert(0, spec["src"])
    import resource

    import torch

    import archai
    from archai.common.logger import RunLogger
    from archai.search.trainer import Trainer, resolve_memory_format, trainer_conf

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model, shape, batch, overrides = _build(spec["case"], spec["batch"])
    if spec["memory_format"] != "default":
        overrides["channels_last"] = spec["memory_format"] == "channels_last"
    conf = trainer_conf(epochs=1, log_every_steps=20, **overrides)
    try:  # the trainer's choice
        fmt = resolve_memory_format(conf["channels_last"], torch.device("cpu"), model)
    except TypeError:  # code of before it looked at the model
        fmt = resolve_memory_format(conf["channels_last"], torch.device("cpu"))
    model = model.to(memory_format=fmt)
    n_distinct = 8
    data = [
        (torch.randn(batch, *shape).contiguous(memory_format=fmt), torch.randint(0, 10, (batch,)))
        for _ in range(n_distinct)
    ]

    def batches(n: int) -> list:
        return [data[i % n_distinct] for i in range(n)]

    def run(mode: str, n: int, tmp: str) -> float:
        start = time.perf_counter()
        if mode == "bare":
            _bare_loop(model, batches(n), conf)
        else:
            with RunLogger(tmp, console=False, tensorboard=False) as log:
                Trainer(model, conf, device="cpu", logger=log, scope="bench").fit(batches(n))
        return time.perf_counter() - start

    paired = spec["mode"] == "paired"
    with tempfile.TemporaryDirectory() as tmp:
        run("trainer" if paired else spec["mode"], spec["warmup"], tmp + "/warmup")
        Path(spec["ready"]).touch()
        while not Path(spec["go"]).exists():
            time.sleep(0.005)
        if paired:  # trainer and bare loop in turn in this process: their ratio without the
            # process-to-process spread of separate measurements
            pairs = [
                (run("trainer", spec["steps"], f"{tmp}/{i}"), run("bare", spec["steps"], tmp))
                for i in range(6)
            ]
            ratio = statistics.median(b / t for t, b in pairs)
        seconds = (
            run(spec["mode"], spec["steps"], tmp + "/timed") if not paired else sum(t for t, _ in pairs) / 6
        )
    return {
        "trainer_over_bare": ratio if paired else None,
        "images_per_s": spec["steps"] * batch / seconds,
        "seconds": seconds,
        "batch": batch,
        "threads": torch.get_num_threads(),
        "channels_last": fmt == torch.channels_last,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "archai": str(Path(archai.__file__).resolve().parents[1]),
    }


# ----------------------------------------------------------------------------- the driver


def measure(src: str, case: str, mode: str, jobs: int, args: argparse.Namespace) -> dict:
    """Starts ``jobs`` workers on ``src`` at once; returns their summed throughput."""
    threads = args.threads or max(1, (os.cpu_count() or 1) // jobs)
    with tempfile.TemporaryDirectory() as tmp:
        go = Path(tmp) / "go"
        procs, specs = [], []
        for j in range(jobs):
            spec = {
                "src": src, "case": case, "mode": mode, "threads": threads, "batch": args.batch,
                "steps": args.steps, "warmup": args.warmup, "memory_format": args.memory_format,
                "ready": f"{tmp}/ready{j}", "go": str(go), "out": f"{tmp}/out{j}.json",
            }  # fmt: skip
            specs.append(spec)
            procs.append(subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)]))
        while not all(Path(s["ready"]).exists() for s in specs):
            if any(p.poll() not in (None, 0) for p in procs):
                raise SystemExit(f"a worker failed ({case}, {mode}, {src})")
            time.sleep(0.01)
        go.touch()
        for p in procs:
            if p.wait() != 0:
                raise SystemExit(f"a worker failed ({case}, {mode}, {src})")
        outs = [json.loads(Path(s["out"]).read_text()) for s in specs]
    if any(o["archai"] != str(Path(src).resolve()) for o in outs):
        raise SystemExit(f"workers imported archai from {outs[0]['archai']}, not {src}")
    return {
        "images_per_s": sum(o["images_per_s"] for o in outs),
        "per_job": [round(o["images_per_s"], 1) for o in outs],
        "threads": outs[0]["threads"],
        "channels_last": outs[0]["channels_last"],
        "batch": outs[0]["batch"],
        "peak_mb": max(o["peak_mb"] for o in outs),
        "trainer_over_bare": outs[0]["trainer_over_bare"],
    }


def worktree(rev: str, where: Path) -> Path:
    """A detached checkout of ``rev`` (its configs linked where an uninstalled package looks)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    link = where / "archai" / "confs"
    if not link.exists():
        link.symlink_to(where / "confs")
    return where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", default=",".join(CASES), help=f"comma-separated: {', '.join(CASES)}")
    ap.add_argument("--mode", default=",".join(MODES), help="trainer, bare or both")
    ap.add_argument("--jobs", default="1", help="comma-separated numbers of jobs run at once, e.g. 1,2")
    ap.add_argument("--threads", type=int, default=0, help="threads per job (0: cores / jobs)")
    ap.add_argument("--batch", type=int, default=0, help="batch size (0: the case's)")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per job")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--memory-format", choices=("default", "channels_last", "contiguous"), default="default",
                    help="the trainer's default of the measured code (trainer.channels_last: null), or this one")  # fmt: skip
    ap.add_argument("--compare", metavar="REV", help="alternate with this commit; print this/REV")
    ap.add_argument(
        "--repeats", type=int, default=0, help="alternating runs per figure (default 1, 3 with --compare)"
    )
    ap.add_argument("--json", type=Path, help="write every figure here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        Path(spec["out"]).write_text(json.dumps(worker(spec)))
        return
    cases, modes = args.case.split(","), args.mode.split(",")
    jobs = [int(j) for j in args.jobs.split(",")]
    repeats = args.repeats or (3 if args.compare else 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        srcs = {"this": str(ROOT)}
        if args.compare:
            srcs[args.compare] = str(worktree(args.compare, Path(tmp) / "rev"))
        try:
            for case in cases:
                for k in jobs:
                    # every figure of a case and job count is measured in turn, repeat after
                    # repeat, so that a machine drifting in speed biases none of them
                    runs: dict = {(m, s): [] for m in modes for s in srcs}
                    for _ in range(repeats):
                        for label, src in srcs.items():
                            for mode in modes:
                                runs[(mode, label)].append(measure(src, case, mode, k, args))
                    if k == 1 and {"trainer", "bare"} <= set(modes):
                        for label, src in srcs.items():
                            runs[("paired", label)] = [measure(src, case, "paired", 1, args)]
                    for mode in [m for m in ("trainer", "bare", "paired") if (m, "this") in runs]:
                        row = {"case": case, "mode": mode, "jobs": k}
                        for label in srcs:
                            rs = runs[(mode, label)]
                            ips = [r["images_per_s"] for r in rs]
                            row[label] = {**rs[0], "images_per_s": statistics.median(ips), "runs": ips}
                        rows.append(row)
                        _print_row(row, list(srcs))
        finally:
            if args.compare:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", srcs[args.compare]],
                               check=False)  # fmt: skip
    _print_ratios(rows, list(srcs))
    if args.json:
        args.json.write_text(
            json.dumps({"isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"), "rows": rows}, indent=1)
        )


def _print_row(row: dict, labels: list[str]) -> None:
    parts = [f"{row['case']:10s} {row['mode']:7s} jobs={row['jobs']}"]
    for label in labels:
        r = row[label]
        spread = f" ({min(r['runs']):.0f}-{max(r['runs']):.0f})" if len(r["runs"]) > 1 else ""
        parts.append(
            f"{label}: {r['images_per_s']:7.1f} img/s{spread} {r['threads']}thr b{r['batch']} "
            f"{'NHWC' if r['channels_last'] else 'NCHW'} {r['peak_mb']:.0f}MB"
        )
    if len(labels) == 2:
        parts.append(f"this/{labels[1]} {row['this']['images_per_s'] / row[labels[1]]['images_per_s']:.2f}x")
    print("  ".join(parts), flush=True)


def _print_ratios(rows: list[dict], labels: list[str]) -> None:
    """The trainer's throughput against the bare loop's, measured in turn in one process."""
    for r in rows:
        if r["mode"] != "paired":
            continue
        for label in labels:
            ratio = r[label]["trainer_over_bare"]
            print(
                f"{r['case']:10s} {label}: trainer/bare {ratio:.3f} in one process, median of 6 pairs "
                f"(overhead {100 * (1 / ratio - 1):+.1f}%)"
            )


if __name__ == "__main__":
    main()
