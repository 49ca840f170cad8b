"""Loaders with the shipped defaults, for notebooks and scripts that run without a config file.

Example:
    >>> loaders = data_loaders("fashion_mnist_mini", batch_size=64, val_fraction=0.1)
    >>> len(loaders.train.dataset), len(loaders.val.dataset), len(loaders.test.dataset)
    (5400, 600, 2000)
"""

from __future__ import annotations

from typing import Any

from archai.common.config import Config, confs_dir, load_config
from archai.datasets import DataLoaders, build_loaders


def loader_conf(**overrides: Any) -> Config:
    """The ``loader`` section of ``confs/base.yaml`` with ``overrides`` applied and validated."""
    return load_config([confs_dir() / "base.yaml", {"loader": overrides}]).loader


def data_loaders(
    dataset: str, *, dataroot: str | None = None, seed: int = 0, device: str = "cpu", **loader: Any
) -> DataLoaders:
    """Train/val/test loaders of a registered dataset; ``loader`` overrides keys of the
    ``loader`` section (``batch_size``, ``val_fraction``, ``train_limit``, ``augment``...)."""
    data = {"name": dataset, "dataroot": dataroot, "download": False}
    return build_loaders(data, loader_conf(**loader), seed=seed, device=device)
