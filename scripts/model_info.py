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
import sys
from pathlib import Path

from archai.common.config import confs_dir, load_yaml
from archai.common.errors import UserError
from archai.datasets import DATASETS
from archai.space.cost import measure_cost
from archai.space.genotypes import GENOTYPES, GenotypeError, genotype_to_desc, parse_genotype
from archai.space.model_desc import ModelDesc
from archai.space.nb201 import arch_to_desc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", nargs="?", help="genotype name or string, NB201 arch string, or description file")
    ap.add_argument("--space", choices=["darts", "nb201"], default="darts")
    ap.add_argument("--dataset", default="cifar10", help=f"one of {', '.join(DATASETS.names())}")
    ap.add_argument("--init-channels", type=int, default=None, help="C (default 36 darts, 16 nb201)")
    ap.add_argument(
        "--cells", type=int, default=None, help="cells (default 20 darts; nb201: cells per stage, 5)"
    )
    ap.add_argument("--aux", action="store_true", help="add the auxiliary head (darts)")
    ap.add_argument("--latency", action="store_true", help="also measure latency (median of 10 runs)")
    ap.add_argument("--memory", action="store_true", help="also measure peak training memory")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--list", action="store_true", help="list the built-in genotypes and exit")
    return ap.parse_args(argv)


def dataset_skeleton(name: str) -> str:
    """The skeleton ``confs/datasets/NAME.yaml`` names (``darts`` when it names none)."""
    path = confs_dir() / "datasets" / f"{name}.yaml"
    data = load_yaml(path) if path.is_file() else {}
    return str(data.get("model", {}).get("skeleton", "darts"))


def resolve_spec(args: argparse.Namespace) -> ModelDesc:
    info = DATASETS.get(args.dataset).info
    shape = dict(in_channels=info.channels, image_size=info.size, n_classes=info.n_classes)
    spec = args.spec
    if spec.endswith((".yaml", ".yml", ".json")) or Path(spec).is_file():
        return ModelDesc.load(spec)
    if args.space == "nb201":
        return arch_to_desc(
            spec, init_channels=args.init_channels or 16, n_per_stage=args.cells or 5, **shape
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
        init_channels=args.init_channels or 36,
        n_cells=args.cells or 20,
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
        report = measure_cost(
            desc, latency=args.latency, memory=args.memory, batch_size=args.batch_size, device=args.device
        )
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
