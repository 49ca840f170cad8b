"""End-to-end runs in tests: the command line, and the toy protocol made smaller still.

>>> flags({"search.trainer.epochs": 1, "algos.petridish.seeds.n_cells": "[3]"})
['--search.trainer.epochs', '1', '--algos.petridish.seeds.n_cells', '[3]']
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import main as cli  # noqa: E402, F401  (scripts/main.py, for the tests that run it in-process)
import model_info  # noqa: E402, F401  (scripts/model_info.py)

#: one-epoch searches and final trainings on a few hundred images, nothing on the console
SMALL = {
    "loader.train_limit": 512,
    "loader.test_limit": 256,
    "search.loader.train_limit": 256,
    "search.trainer.epochs": 1,
    "eval.trainer.epochs": 1,
    "common.progress": "false",
    "common.quiet": "true",
}

#: a Petridish search of two 3-cell seeds and two children, one epoch each
PETRIDISH_SMALL = {
    "algos.petridish.seeds.n_cells": "[3]",
    "algos.petridish.seeds.init_channels": "[4, 8]",
    "algos.petridish.max_models": 4,
    "algos.petridish.seed_epochs": 1,
    "algos.petridish.child_epochs": 1,
    "eval.final_descs": 1,
}


def flags(settings: dict) -> list[str]:
    """``{"a.b": 3}`` as command-line overrides, ``["--a.b", "3"]``."""
    return [part for key, value in settings.items() for part in (f"--{key}", str(value))]
