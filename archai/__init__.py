"""Archai: a modular neural-architecture-search library in PyTorch.

The packages, each using only those before it:

- ``archai.common``: config, logging, checkpoints, seeding, registries, plugin imports;
- ``archai.datasets``: dataset providers, splits and loaders;
- ``archai.space``: descriptions, ops, skeletons, models, supernets, sampling, cost;
- ``archai.search``: trainer, jobs and executors, the searcher base class, evaluation, Pareto
  fronts, experiments;
- ``archai.algos``: DARTS, ENAS, Petridish, random search, evolution;
- ``archai.plugins``: :func:`archai.plugins.load`, for modules that add to the registries.
"""

__version__ = "0.1.0"
