"""Archai: a modular neural-architecture-search library in PyTorch.

The packages, each using only those before it:

- ``archai.common``: config, logging, checkpoints, seeding, registries, plugins
  (:func:`archai.common.plugins.load_plugins`, for modules that add to the registries);
- ``archai.datasets``: dataset providers, splits and loaders;
- ``archai.space``: descriptions, ops, skeletons, models, supernets, sampling, cost;
- ``archai.search``: trainer, jobs and executors, the searcher base class, evaluation, Pareto
  fronts, experiments;
- ``archai.algos``: DARTS, ENAS, Petridish, random search, evolution (registered with
  ``archai.search.SEARCHERS``, which imports them at its first look-up).
"""

__version__ = "0.1.0"
