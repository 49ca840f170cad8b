"""Train/val/test loaders from config: search split, augmentation, deterministic shuffling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from archai.datasets.provider import DatasetInfo, ImageTensorDataset, batch_collate, get_provider
from archai.datasets.transforms import folder_transforms, tensor_transforms


@dataclass
class DataLoaders:
    """The loaders of one protocol. ``val`` is ``None`` when no training data is held out;
    ``test`` is ``None`` when it was not asked for (searches never see the test split)."""

    info: DatasetInfo
    train: DataLoader
    val: DataLoader | None
    test: DataLoader | None


class _TransformedSubset(Dataset):
    """A subset of a dataset of PIL images with its own transform (for folder datasets)."""

    def __init__(self, base: Dataset, indices: torch.Tensor, transform) -> None:
        self.base, self.indices, self.transform = base, indices, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        x, y = self.base[int(self.indices[i])]
        return self.transform(x), y


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded permutation of ``range(n)`` cut into (train, val); val has ``round(n * f)`` items."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"loader.val_fraction must be in [0, 1), got {val_fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = int(round(n * val_fraction))
    return perm[n_val:], perm[:n_val]


def _limit(indices: torch.Tensor, limit: int) -> torch.Tensor:
    return indices[:limit] if limit > 0 else indices


def build_loaders(
    dataset_conf: Mapping[str, Any],
    loader_conf: Mapping[str, Any],
    *,
    seed: int,
    device: str = "cpu",
    with_test: bool = True,
    split_seed: int | None = None,
) -> DataLoaders:
    """Builds the loaders of one protocol.

    ``dataset_conf``: ``name``, ``dataroot``, ``download``. ``loader_conf``: ``batch_size``,
    ``eval_batch_size``, ``val_fraction`` (held out from train, DARTS-style search split),
    ``train_limit``/``test_limit`` (0 = all), ``augment``, ``cutout``, ``num_workers``,
    ``pin_memory``. The split and the shuffling order are fixed by ``seed`` (the split by
    ``split_seed`` where given: trainings over several seeds on one split); the trainer reseeds
    the train loader's generator every epoch so a resumed run sees the same batches.
    ``with_test=False`` builds no test loader (``test`` is ``None``): what a search gets.

    Example:
        >>> loaders = build_loaders({"name": "fashion_mnist_mini", "dataroot": None, "download": False},
        ...     {"batch_size": 64, "eval_batch_size": 256, "val_fraction": 0.5, "train_limit": 0,
        ...      "test_limit": 0, "augment": True, "cutout": 0, "num_workers": 0, "pin_memory": False},
        ...     seed=0)
        >>> len(loaders.train.dataset), len(loaders.val.dataset), len(loaders.test.dataset)
        (3000, 3000, 2000)
    """
    provider = get_provider(dataset_conf["name"])
    root = dataset_conf.get("dataroot")
    train_raw, test_raw = provider.load(
        Path(root) if root else None, bool(dataset_conf.get("download", False))
    )
    augment, cutout = bool(loader_conf["augment"]), int(loader_conf["cutout"])
    make = tensor_transforms if isinstance(train_raw, ImageTensorDataset) else folder_transforms
    t_train = make(provider, train=True, augment=augment, cutout=cutout)
    t_eval = make(provider, train=False, augment=False, cutout=0)

    train_idx, val_idx = split_indices(
        len(train_raw), float(loader_conf["val_fraction"]), seed if split_seed is None else split_seed
    )
    train_idx = _limit(train_idx, int(loader_conf["train_limit"]))
    val_idx = _limit(val_idx, int(loader_conf["train_limit"]))
    test_idx = _limit(torch.arange(len(test_raw)), int(loader_conf["test_limit"]))

    def view(ds: Dataset, idx: torch.Tensor, transform) -> Dataset:
        if isinstance(ds, ImageTensorDataset):
            return ds.view(idx, transform)
        return _TransformedSubset(ds, idx, transform)

    workers = int(loader_conf["num_workers"])
    common = dict(
        num_workers=workers,
        pin_memory=bool(loader_conf["pin_memory"]) and device.startswith("cuda"),
        persistent_workers=workers > 0,
    )

    def loader(ds: Dataset, batch_size: int, **kw) -> DataLoader:
        if isinstance(ds, ImageTensorDataset):  # whole batches, transformed at once
            kw["collate_fn"] = batch_collate
        return DataLoader(ds, batch_size=batch_size, **common, **kw)

    train = loader(
        view(train_raw, train_idx, t_train),
        int(loader_conf["batch_size"]),
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        drop_last=False,
    )
    eval_bs = int(loader_conf["eval_batch_size"])
    val = loader(view(train_raw, val_idx, t_eval), eval_bs) if len(val_idx) else None
    test = loader(view(test_raw, test_idx, t_eval), eval_bs) if with_test else None
    return DataLoaders(provider.info, train, val, test)
