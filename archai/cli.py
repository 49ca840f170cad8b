"""Search, train and report: ``python scripts/main.py --algos petridish`` (toy protocol), also
``python -m archai --algos petridish``.

    python scripts/main.py --algos darts,random          # toy protocol on the bundled dataset
    python scripts/main.py --algos random,darts --space nb201   # NAS-Bench-201's cells
    python scripts/main.py --algos evolution,darts --benchmark nb201_mini   # trainings looked up
    python scripts/main.py --algos darts --full --dataset cifar10 --dataroot ~/data
    python scripts/main.py --algos darts --search.trainer.epochs 3 --resume
    python scripts/main.py --algos mine --plugins my_package.my_searcher

Any other ``--a.b.c VALUE`` sets that config key (validated: an unknown key is an error).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from archai.common.errors import StorageError, UserError, storage_cause
from archai.common.plugins import load_plugins
from archai.search.experiment import ExperimentOptions, format_table, run_experiment
from archai.search.export import export_desc, export_run


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(
        prog="main.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--algos", required=True, help="comma-separated registered searchers, e.g. darts,random")
    ap.add_argument("--full", action="store_true", help="the paper protocol instead of the toy protocol")
    ap.add_argument("--space", help="the search space: darts (default), nb201, chain, or a plugin's")
    ap.add_argument("--dataset", help="dataset name (also layers confs/datasets/NAME.yaml)")
    ap.add_argument("--dataroot", help="folder holding the dataset")
    ap.add_argument("--exp-dir", help="experiment folder (default: common.exp_dir)")
    ap.add_argument(
        "--benchmark",
        help="look trainings up in this tabular benchmark (a .npz file or a shipped table: nb201_mini)",
    )
    ap.add_argument("--config", action="append", default=[], help="extra YAML layer(s), applied in order")
    ap.add_argument(
        "--resume", action="store_true", help="continue (or reuse) the runs in the experiment folder"
    )
    ap.add_argument(
        "--quiet", action="store_true", help="only warnings and errors on the console, no progress bars"
    )
    ap.add_argument(
        "--plugins",
        default="",
        help="comma-separated modules to import here and in every job (they register ops, searchers...)",
    )
    ap.add_argument(
        "--debug", action="store_true", help="also print the traceback of errors the user can fix"
    )
    return ap.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, overrides = parse_args(argv)
    try:
        plugins = load_plugins(args.plugins)
        opts = ExperimentOptions(
            algos=[a.strip() for a in args.algos.split(",") if a.strip()],
            full=args.full,
            space=args.space,
            dataset=args.dataset,
            dataroot=args.dataroot,
            exp_dir=args.exp_dir,
            benchmark=args.benchmark,
            config_files=args.config,
            overrides=overrides + (["--common.quiet", "true"] if args.quiet else []),
            resume=args.resume,
            plugins=plugins,
        )
        summaries = run_experiment(opts)
    except KeyboardInterrupt:  # Ctrl-C: finished work is on disk, and resume is exact
        if args.debug:
            traceback.print_exc()
        print(
            "main.py: interrupted; finished work is kept: run the same command with --resume to continue",
            file=sys.stderr,
        )
        return 130
    except Exception as e:  # anything else is a bug: its traceback is printed, and logged in the
        # run's events.jsonl
        return error_exit("main.py", e, args.debug)
    print()
    print(format_table(summaries))
    return 0


def error_exit(prog: str, e: Exception, debug: bool = False) -> int:
    """Bad input, damaged state, a full or read-only disk: one line on stderr that says what to
    do, and exit status 2 (``debug``: the traceback too). Anything else is a bug: re-raised."""
    if not isinstance(e, UserError):
        if (cause := storage_cause(e)) is None:
            raise e
        e = StorageError.of(cause)
    if debug:
        traceback.print_exc()
    print(f"{prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
    return 2


def export_main(argv: list[str] | None = None) -> int:
    """``python scripts/export.py RUN_DIR [--algo NAME] [--format torchscript|onnx] [--out PATH]``
    (or ``--desc FILE [--weights FILE] [--dataset NAME] --out PATH``): the final model of a run as
    a file that loads without Archai, checked against PyTorch in a fresh interpreter."""
    ap = argparse.ArgumentParser(prog="export.py", description=export_main.__doc__)
    ap.add_argument(
        "run_dir", nargs="?", help="experiment folder (EXP_DIR) or one algorithm's (EXP_DIR/ALGO)"
    )
    ap.add_argument("--algo", help="which algorithm's final model, when EXP_DIR holds several")
    ap.add_argument("--format", default="torchscript", help="torchscript (default) or onnx")
    ap.add_argument("--out", help="the file to write (default RUN/export/model.pt or model.onnx)")
    ap.add_argument("--desc", help="a description file to export instead of a run's final model")
    ap.add_argument(
        "--weights", help="with --desc: a state dict or trainer checkpoint (default: random weights)"
    )
    ap.add_argument("--dataset", help="with --desc: the dataset whose normalisation to record")
    ap.add_argument("--no-check", action="store_true", help="skip running the file without Archai")
    args = ap.parse_args(argv)
    try:
        if args.desc:
            if not args.out:
                raise UserError("--desc needs --out PATH (where to write the exported model)")
            res = export_desc(args.desc, args.weights, args.format, args.out, args.dataset, not args.no_check)
        elif args.run_dir:
            res = export_run(args.run_dir, args.format, args.out, args.algo, not args.no_check)
        else:
            raise UserError("give a run folder (EXP_DIR or EXP_DIR/ALGO), or --desc FILE --out PATH")
    except Exception as e:
        return error_exit("export.py", e)
    check = (
        "not checked (--no-check)"
        if args.no_check
        else f"loads without Archai, outputs match PyTorch within {res.max_abs_diff:.1e}"
    )
    print(f"wrote {res.path} ({res.format}) and {res.sidecar.name}; {check}")
    return 0


def table_report(out: str, table) -> str:
    """What a written table holds, and how far its first two seeds agree (a table whose seeds
    disagree is noise)."""
    key, best = table.oracle()
    lines = [
        f"wrote {out}: {len(table)} architectures, {table.n_epochs} epochs; best test {100 * best:.2f}% ({key})"
    ]
    if table.n_seeds > 1:
        r = table.repeatability()
        lines.append(
            f"seeds 0 and 1 over {r['architectures']} architectures: Kendall tau {r['kendall_tau']:.3f}, "
            f"Spearman {r['spearman']:.3f}; an architecture's test accuracy differs by "
            f"{100 * r['mean_abs_diff']:.2f} points on average (at most {100 * r['max_abs_diff']:.2f}); "
            f"std over seeds {100 * r['seed_std']:.2f} points, across architectures {100 * r['arch_std']:.2f}"
        )
    return "\n".join(lines)


def build_benchmark_main(argv: list[str] | None = None) -> int:
    """``python scripts/build_benchmark.py --config confs/benchmarks/nb201_mini.yaml --out T.npz``:
    trains every distinct architecture of the run's (finite) space with the search protocol (toy
    unless ``--full``) and writes the tabular benchmark; run it again to resume. Any other
    ``--a.b.c VALUE`` sets that config key, as for main.py (docs/benchmarks.md)."""
    ap = argparse.ArgumentParser(prog="build_benchmark.py", description=build_benchmark_main.__doc__)
    ap.add_argument("--out", required=True, help="the table file to write (.npz)")
    ap.add_argument("--work-dir", help="where the trainings are kept (default: runs/benchmarks/OUT's name)")
    ap.add_argument("--full", action="store_true", help="the paper protocol instead of the toy protocol")
    ap.add_argument("--space", help="the (finite) search space, e.g. nb201")
    ap.add_argument("--dataset", help="dataset name (also layers confs/datasets/NAME.yaml)")
    ap.add_argument("--dataroot", help="folder holding the dataset")
    ap.add_argument("--config", action="append", default=[], help="extra YAML layer(s), applied in order")
    ap.add_argument("--seeds", type=int, default=1, help="training seeds per architecture (default 1)")
    ap.add_argument(
        "--repeat-archs",
        type=int,
        default=0,
        help="train the seeds after the first for only this many architectures, drawn at random (0: all)",
    )
    ap.add_argument("--limit", type=int, default=0, help="build only this many architectures (a trial)")
    ap.add_argument("--plugins", default="", help="comma-separated modules to import (their spaces, ops)")
    args, overrides = ap.parse_known_args(argv)
    try:
        from archai.search.benchmark import build_benchmark
        from archai.search.experiment import ExperimentOptions, build_config

        plugins = load_plugins(args.plugins)
        opts = ExperimentOptions(
            algos=[],
            full=args.full,
            space=args.space,
            dataset=args.dataset,
            dataroot=args.dataroot,
            config_files=args.config,
            overrides=overrides,
            plugins=plugins,
        )
        conf = build_config(None, opts)
        work_dir = args.work_dir or f"runs/benchmarks/{Path(args.out).stem}"
        table = build_benchmark(
            conf,
            args.out,
            work_dir=work_dir,
            seeds=args.seeds,
            repeat_archs=args.repeat_archs,
            limit=args.limit,
            plugins=plugins,
        )
    except KeyboardInterrupt:
        print(
            "build_benchmark.py: interrupted; finished trainings are kept: run it again to resume",
            file=sys.stderr,
        )
        return 130
    except Exception as e:
        return error_exit("build_benchmark.py", e)
    print(table_report(args.out, table))
    return 0


def compare_main(argv: list[str] | None = None) -> int:
    """``python scripts/compare.py --algos random,evolution,local --benchmark nb201_mini --seeds 0-99``:
    runs each searcher once per seed at an equal budget and writes a report folder (report.md,
    anytime.png, final.csv, runs.csv, curves.csv; docs/benchmarks.md). With ``--benchmark`` the
    trainings are looked up in the table on a simulated clock; without it every run is real
    (``python scripts/compare.py --algos darts,random --seeds 0-2``: the toy protocol, hand-made
    baselines beside, and proxy.csv). Any other ``--a.b.c VALUE`` sets that config key in every run."""
    ap = argparse.ArgumentParser(prog="compare.py", description=compare_main.__doc__)
    ap.add_argument("--algos", required=True, help="comma-separated searchers")
    ap.add_argument(
        "--benchmark", help="a table (a .npz file or a shipped table: nb201_mini); none: real runs"
    )
    ap.add_argument("--seeds", default="0-9", help="seeds, e.g. 0-99 or 0,3,5 (default 0-9)")
    ap.add_argument(
        "--budget",
        type=float,
        help="search seconds per run: simulated on a table (default a tenth of its training time), "
        "wall-clock otherwise (default: the median search time of the searchers without a time "
        "budget, such as darts, on each seed)",
    )
    ap.add_argument("--out", default="runs/compare", help="the report folder (default runs/compare)")
    ap.add_argument("--plugins", default="", help="comma-separated modules to import (their searchers)")
    real = ap.add_argument_group("real runs (no --benchmark)")
    real.add_argument(
        "--final-descs",
        type=int,
        help="candidates of each search trained finally (default 3): the first is its result, "
        "all of them measure how far the search's figures can be trusted",
    )
    real.add_argument("--no-baselines", action="store_true", help="train no hand-made baselines")
    real.add_argument("--full", action="store_true", help="the paper protocol instead of the toy one")
    args, overrides = ap.parse_known_args(argv)
    try:
        from archai.search.compare import compare, parse_seeds

        plugins = load_plugins(args.plugins)
        given = [
            f
            for f, v in (
                ("--final-descs", args.final_descs),
                ("--no-baselines", args.no_baselines),
                ("--full", args.full),
            )
            if v
        ]
        if args.benchmark and given:
            raise UserError(
                f"{given[0]} is a setting of real runs; a table's runs take none (drop it, or drop --benchmark)"
            )
        if args.final_descs is not None and args.final_descs < 1:
            raise UserError(f"--final-descs {args.final_descs}: give 1 or more")
        extra = {}
        if not args.benchmark:
            extra = dict(
                final_descs=args.final_descs or 3,
                baselines=not args.no_baselines,
                full=args.full,
                plugins=plugins,
            )
        compare(
            [a.strip() for a in args.algos.split(",") if a.strip()],
            args.benchmark,
            parse_seeds(args.seeds),
            budget=args.budget,
            out=args.out,
            overrides=overrides,
            **extra,
        )
    except KeyboardInterrupt:
        print("compare.py: interrupted (finished runs are kept and reused)", file=sys.stderr)
        return 130
    except Exception as e:
        return error_exit("compare.py", e)
    print((Path(args.out) / "report.md").read_text())
    return 0


def convert_nb201_main(argv: list[str] | None = None) -> int:
    """``python scripts/convert_nb201.py --source NAS-Bench-201-v1_1-096897.pth --out nb201.npz --trust``:
    converts the official NAS-Bench-201 / NATS-Bench (topology) file, once, into a table that
    ``--benchmark`` reads without pickle (docs/benchmarks.md). The official file is a pickle:
    ``--trust`` says it is the one you downloaded yourself."""
    ap = argparse.ArgumentParser(prog="convert_nb201.py", description=convert_nb201_main.__doc__)
    ap.add_argument(
        "--source", required=True, help="the official .pth / .pickle.pbz2 file or NATS -simple folder"
    )
    ap.add_argument("--out", required=True, help="the table file to write (.npz)")
    ap.add_argument("--dataset", default="cifar10-valid", help="cifar10-valid (default), cifar10 or cifar100")
    ap.add_argument(
        "--epochs", type=int, default=200, help="the benchmark's 200-epoch (default) or 12-epoch runs"
    )
    ap.add_argument(
        "--trust", action="store_true", help="unpickle the source (it can run code: only your own copy)"
    )
    args = ap.parse_args(argv)
    try:
        from archai.search.nasbench201 import convert_nb201

        table = convert_nb201(args.source, args.out, args.dataset, args.epochs, trust=args.trust)
    except Exception as e:
        return error_exit("convert_nb201.py", e)
    print(table_report(args.out, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
