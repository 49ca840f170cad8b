"""Search, train and report: ``python scripts/main.py --algos petridish`` (see ``archai.cli``)."""

import sys

from archai.cli import main, parse_args  # noqa: F401  (parse_args: for callers of this script's API)

if __name__ == "__main__":
    sys.exit(main())
