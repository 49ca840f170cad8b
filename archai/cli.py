"""Search, train and report: ``python scripts/main.py --algos petridish`` (toy protocol), also
``python -m archai --algos petridish``.

    python scripts/main.py --algos darts,random          # toy protocol on the bundled dataset
    python scripts/main.py --algos random,darts --space nb201   # NAS-Bench-201's cells
    python scripts/main.py --algos darts --full --dataset cifar10 --dataroot ~/data
    python scripts/main.py --algos darts --search.trainer.epochs 3 --resume
    python scripts/main.py --algos mine --plugins my_package.my_searcher

Any other ``--a.b.c VALUE`` sets that config key (validated: an unknown key is an error).
"""

from __future__ import annotations

import argparse
import sys
import traceback

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


if __name__ == "__main__":
    sys.exit(main())
