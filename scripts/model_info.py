"""Prints the cost of an architecture as one JSON object.

    python scripts/model_info.py DARTS_V2 --dataset cifar10 --init-channels 36 --cells 20 --aux
    python scripts/model_info.py "Genotype(normal=[...], ...)" --cells 8
    python scripts/model_info.py "|nor_conv_3x3~0|+|...|" --space nb201
    python scripts/model_info.py runs/toy/darts/final_desc.yaml --latency --memory

SPEC is a built-in genotype name (see --list), a genotype string, a NAS-Bench-201 arch string
(with --space nb201) or a description file (.yaml/.json). Exit code 2 on a bad SPEC.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

from archai.common.config import confs_dir, load_yaml
from archai.common.errors import UserError
from archai.datasets import DATASETS
from archai.space.cost import measure_cost
from archai.space.genotypes import GENOTYPES, GenotypeError, genotype_to_desc, parse_genotype
from archai.space.model import build_model, count_params
from archai.space.model_desc import ModelDesc
from archai.space.spaces.nb201 import arch_to_desc

#: far above any published network (DARTS: 20 cells, C=36); beyond them the tool would only
#: spend minutes building something that cannot be meant
MAX_CELLS, MAX_CHANNELS = 1000, 4096


def bounded_int(lo: int, hi: int | None = None):
    """An argparse type: an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo or (hi is not None and value > hi):
            allowed = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{value} is not allowed; it must be {allowed}")
        return value

    return parse


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (exit 2), like every other error of the tool."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = _OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", nargs="?", help="genotype name or string, NB201 arch string, or description file")
    ap.add_argument("--space", choices=["darts", "nb201"], default="darts")
    ap.add_argument("--dataset", default="cifar10", help=f"one of {', '.join(DATASETS.names())}")
    ap.add_argument(
        "--init-channels",
        type=bounded_int(1, MAX_CHANNELS),
        default=None,
        help="C (default 36 darts, 16 nb201)",
    )
    ap.add_argument(
        "--cells",
        type=bounded_int(1, MAX_CELLS),
        default=None,
        help="cells (default 20 darts; nb201: cells per stage, 5)",
    )
    ap.add_argument("--aux", action="store_true", help="add the auxiliary head (darts)")
    ap.add_argument("--latency", action="store_true", help="also measure latency (median of 10 runs)")
    ap.add_argument("--memory", action="store_true", help="also measure peak training memory")
    ap.add_argument("--batch-size", type=bounded_int(1), default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--list", action="store_true", help="list the built-in genotypes and exit")
    return ap.parse_args(argv)


def dataset_skeleton(name: str) -> str:
    """The skeleton ``confs/datasets/NAME.yaml`` names (``darts`` when it names none)."""
    path = confs_dir() / "datasets" / f"{name}.yaml"
    data = load_yaml(path) if path.is_file() else {}
    return str(data.get("model", {}).get("skeleton", "darts"))


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits(desc: ModelDesc) -> None:
    """Refuses a description whose float32 weights alone would not fit in this machine's
    memory, counted on the meta device (nothing is allocated)."""
    with torch.device("meta"):
        params = count_params(build_model(desc), include_aux=True)
    need, have = 4 * params, memory_bytes()
    if need > have // 2:
        raise SizeError(
            f"the model has {params:,} parameters ({need / 2**30:.1f} GiB as float32), more than "
            f"half of this machine's {have / 2**30:.0f} GiB; choose a smaller --init-channels or --cells"
        )


class SizeError(UserError):
    """A model or batch too large for this machine."""


def resolve_spec(args: argparse.Namespace) -> ModelDesc:
    info = DATASETS.get(args.dataset).info
    shape = dict(in_channels=info.channels, image_size=info.size, n_classes=info.n_classes)
    spec = args.spec
    if spec.endswith((".yaml", ".yml", ".json")) or Path(spec).is_file():
        return ModelDesc.load(spec)
    if args.space == "nb201":
        return arch_to_desc(
            spec,
            init_channels=_default(args.init_channels, 16),
            n_per_stage=_default(args.cells, 5),
            **shape,
        )
    genotype = GENOTYPES.get(spec) or (parse_genotype(spec) if spec.lstrip().startswith("Genotype") else None)
    if genotype is None:
        raise GenotypeError(
            f"'{spec}' is not a built-in genotype ({', '.join(GENOTYPES)}), a genotype string, "
            f"or a description file; for a NAS-Bench-201 arch string add --space nb201"
        )
    skeleton = dataset_skeleton(args.dataset)
    return genotype_to_desc(
        genotype,
        init_channels=_default(args.init_channels, 36),
        n_cells=_default(args.cells, 20),
        aux_head=args.aux,
        skeleton=skeleton,
        **shape,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print("\n".join(GENOTYPES))
        return 0
    if not args.spec:
        print("model_info.py: error: SPEC is required (see --help)", file=sys.stderr)
        return 2
    try:
        desc = resolve_spec(args)
        check_fits(desc)
        try:
            report = measure_cost(
                desc, latency=args.latency, memory=args.memory, batch_size=args.batch_size, device=args.device
            )
        except (MemoryError, RuntimeError) as e:  # torch's OutOfMemoryError is a RuntimeError
            if not isinstance(e, MemoryError) and "alloc" not in str(e) and "out of memory" not in str(e):
                raise
            raise SizeError(
                f"out of memory measuring {args.spec} at batch size {args.batch_size} "
                f"(C={desc.init_channels}, {len(desc.cells)} cells) on {args.device}; "
                f"choose a smaller --batch-size, --init-channels or --cells"
            ) from None
    except UserError as e:  # a bad spec, file or op name: one line, not a traceback
        print(f"model_info.py: error: {e}", file=sys.stderr)
        return 2
    out = {
        "spec": args.spec,
        "cells": len(desc.cells),
        "init_channels": desc.init_channels,
        **report.as_dict(),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
