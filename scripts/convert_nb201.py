"""Convert the official NAS-Bench-201 / NATS-Bench (topology) file into an Archai table, once:
``python scripts/convert_nb201.py --source NAS-Bench-201-v1_1-096897.pth --out nb201.npz --trust``
(see ``archai.cli.convert_nb201_main`` and docs/benchmarks.md)."""

import sys

from archai.cli import convert_nb201_main

if __name__ == "__main__":
    sys.exit(convert_nb201_main())
