"""Dataset providers: one small class per dataset, found by name in ``DATASETS``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from archai.common.errors import UserError
from archai.common.registry import Registry


class DatasetNotFoundError(UserError, FileNotFoundError):
    """The files of a dataset are not where we looked; the message says where and how to get them."""


class DatasetCorruptError(UserError, RuntimeError):
    """A dataset file exists but is truncated or fails its checksum."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a model builder needs to know about a dataset."""

    name: str
    n_classes: int
    channels: int
    size: int  # images are size x size
    mean: tuple[float, ...]
    std: tuple[float, ...]


class ImageTensorDataset(Dataset):
    """Images held as one uint8 tensor ``(N, C, H, W)``, with an optional batch transform.

    ``indices`` selects a view without copying, so a train split and its held-out validation
    split can share storage but use different transforms. ``transform`` maps a uint8 batch
    ``(N, C, H, W)`` to float images (e.g. :class:`~archai.datasets.transforms.BatchAugment`);
    without one, pixels are scaled to [0, 1]. A ``DataLoader`` fetches whole batches through
    :meth:`__getitems__`, transformed at once; give it ``collate_fn=`` :func:`batch_collate`.

    Example:
        >>> ds = ImageTensorDataset(torch.zeros(10, 1, 4, 4, dtype=torch.uint8), torch.arange(10))
        >>> x, y = ds.__getitems__([3, 5])
        >>> tuple(x.shape), y.tolist()
        ((2, 1, 4, 4), [3, 5])
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        indices: Sequence[int] | torch.Tensor | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels.long()
        self.transform = transform
        self.indices = torch.as_tensor(indices, dtype=torch.long) if indices is not None else None

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.__getitems__([i])
        return x[0], int(y[0])

    def __getitems__(self, items: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch ``(images, labels)`` of these positions, transformed together."""
        idx = torch.as_tensor(items, dtype=torch.long)
        j = self.indices[idx] if self.indices is not None else idx
        x = self.images[j]
        x = self.transform(x) if self.transform is not None else x.float().div_(255)
        return x, self.labels[j]

    def view(self, indices: Sequence[int] | torch.Tensor, transform=None) -> ImageTensorDataset:
        """A subset of this dataset (indices relative to this view) with another transform."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        if self.indices is not None:
            idx = self.indices[idx]
        return ImageTensorDataset(self.images, self.labels, transform, idx)

    @property
    def targets(self) -> torch.Tensor:
        return self.labels if self.indices is None else self.labels[self.indices]


def batch_collate(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``collate_fn`` of a loader over an :class:`ImageTensorDataset`: its batches come whole."""
    return batch


class DatasetProvider:
    """Base class of dataset providers.

    A provider knows its :class:`DatasetInfo`, where its files live and how to augment it.
    ``load`` returns raw ``(train, test)`` datasets; :func:`archai.datasets.build_loaders` adds
    transforms, splits and loaders.

    Subclass and register to add a dataset::

        @DATASETS.register("my_set")
        class MySet(DatasetProvider):
            info = DatasetInfo("my_set", 10, 3, 32, (0.5,) * 3, (0.25,) * 3)
            def load(self, dataroot, download): ...
    """

    info: DatasetInfo
    #: ``(padding for random crop, horizontal flip)`` used when augmentation is on.
    crop_padding: int = 4
    hflip: bool = True

    def load(self, dataroot: Path | None, download: bool) -> tuple[Dataset, Dataset]:
        raise NotImplementedError

    def check(self, dataroot: Path | None, download: bool) -> None:
        """Raises :class:`DatasetNotFoundError` if the files are missing (run before any work
        starts). The default loads the dataset; providers with large files check cheaply."""
        self.load(dataroot, download)


DATASETS: Registry[type[DatasetProvider]] = Registry("dataset")


def get_provider(name: str) -> DatasetProvider:
    """Instantiates the registered provider ``name``."""
    return DATASETS.get(name)()
