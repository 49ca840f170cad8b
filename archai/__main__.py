"""``python -m archai``: the command line (the same as ``scripts/main.py``)."""

import sys

from archai.cli import main

sys.exit(main())
