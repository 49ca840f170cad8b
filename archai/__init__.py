"""Archai: a modular neural-architecture-search library in PyTorch.

The packages, each using only those before it:

- ``archai.common``: config, logging, checkpoints, seeding, registries, plugins
  (:func:`archai.common.plugins.load_plugins`, for modules that add to the registries);
- ``archai.datasets``: dataset providers, splits and loaders;
- ``archai.space``: descriptions, ops, skeletons, models, supernets, search spaces, cost;
- ``archai.search``: trainer, jobs and executors, the searcher base class, evaluation, Pareto
  fronts, experiments;
- ``archai.algos``: DARTS, ENAS, Petridish, random search, evolution, local search (registered
  with ``archai.search.SEARCHERS``, which imports them at its first look-up).

One import is enough in a notebook: ``archai.search_and_evaluate(...)`` (a :class:`RunResult`)
is :mod:`archai.search.api`, imported at the first use of either name.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {"search_and_evaluate": "archai.search.api", "RunResult": "archai.search.api"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'archai' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
