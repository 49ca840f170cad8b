"""Export a run's final model: ``python scripts/export.py runs/toy --algo petridish --format onnx``
(see ``archai.cli.export_main`` and docs/export.md)."""

import sys

from archai.cli import export_main

if __name__ == "__main__":
    sys.exit(export_main())
