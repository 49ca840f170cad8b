"""Build a tabular benchmark of a finite space:
``python scripts/build_benchmark.py --config confs/benchmarks/nb201_mini.yaml --out table.npz``
(see ``archai.cli.build_benchmark_main`` and docs/benchmarks.md)."""

import sys

from archai.cli import build_benchmark_main

if __name__ == "__main__":
    sys.exit(build_benchmark_main())
