"""Dataset providers, augmentation and loaders.

Example:
    >>> from archai.datasets import DATASETS
    >>> "fashion_mnist_mini" in DATASETS and "cifar10" in DATASETS
    True
"""

from archai.datasets import mnist_family, torchvision_sets  # noqa: F401  (register providers)
from archai.datasets.loaders import DataLoaders, build_loaders, split_indices
from archai.datasets.provider import (
    DATASETS,
    DatasetCorruptError,
    DatasetInfo,
    DatasetNotFoundError,
    DatasetProvider,
    ImageTensorDataset,
    get_provider,
)

__all__ = [
    "DATASETS",
    "DataLoaders",
    "DatasetCorruptError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DatasetProvider",
    "ImageTensorDataset",
    "build_loaders",
    "get_provider",
    "split_indices",
]
