"""Compare searchers on a tabular benchmark at an equal budget over many seeds:
``python scripts/compare.py --algos random,evolution,local --benchmark nb201_mini --seeds 0-99``
(see ``archai.cli.compare_main`` and docs/benchmarks.md)."""

import sys

from archai.cli import compare_main

if __name__ == "__main__":
    sys.exit(compare_main())
