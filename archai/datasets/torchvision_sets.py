"""CIFAR-10/100, SVHN and ImageNet (folder), through torchvision's readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from archai.datasets.provider import (
    DATASETS,
    DatasetInfo,
    DatasetNotFoundError,
    DatasetProvider,
    ImageTensorDataset,
)


def _missing(name: str, root: Path | None, what: str, exc: Exception | None = None) -> DatasetNotFoundError:
    where = str(root) if root is not None else "(dataset.dataroot is null)"
    return DatasetNotFoundError(
        f"{name}: {what} not found under {where}. Put the dataset there (torchvision's layout) "
        f"and set dataset.dataroot, or set dataset.download: true where the network allows"
        + (f" [{type(exc).__name__}: {exc}]" if exc else "")
    )


class _TorchvisionArrays(DatasetProvider):
    """Small image datasets that torchvision reads into memory; kept as uint8 tensors."""

    def _read(self, root: Path, train: bool, download: bool):
        raise NotImplementedError

    def load(self, dataroot, download):
        if dataroot is None:
            raise _missing(self.info.name, None, "files")
        root = Path(dataroot).expanduser()
        try:
            return self._read(root, True, download), self._read(root, False, download)
        except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
            raise _missing(self.info.name, root, "files", e) from None
        except OSError as e:  # download: true without a network (URLError), HTTP errors
            raise DatasetNotFoundError(
                f"{self.info.name}: the download into {root} failed ({type(e).__name__}: {e}); check the "
                f"network, or put the files there and set dataset.download: false"
            ) from None


class _Cifar(_TorchvisionArrays):
    tv_class = ""

    def _read(self, root, train, download):
        import torchvision

        ds = getattr(torchvision.datasets, self.tv_class)(str(root), train=train, download=download)
        x = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
        return ImageTensorDataset(x, torch.as_tensor(ds.targets))


@DATASETS.register("cifar10")
class Cifar10(_Cifar):
    """CIFAR-10: 50,000 + 10,000 colour 32x32 images, 10 classes."""

    info = DatasetInfo("cifar10", 10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    tv_class = "CIFAR10"


@DATASETS.register("cifar100")
class Cifar100(_Cifar):
    """CIFAR-100: 50,000 + 10,000 colour 32x32 images, 100 classes."""

    info = DatasetInfo("cifar100", 100, 3, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
    tv_class = "CIFAR100"


@DATASETS.register("svhn")
class Svhn(_TorchvisionArrays):
    """SVHN street-view digits (train + test splits, no extra): colour 32x32, 10 classes."""

    info = DatasetInfo("svhn", 10, 3, 32, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970))
    hflip = False

    def _read(self, root, train, download):
        import torchvision

        ds = torchvision.datasets.SVHN(str(root), split="train" if train else "test", download=download)
        return ImageTensorDataset(torch.from_numpy(ds.data), torch.as_tensor(ds.labels))


@DATASETS.register("imagenet")
class ImageNet(DatasetProvider):
    """ImageNet as class folders: ``dataroot/train/<class>/*.JPEG`` and ``dataroot/val/<class>/``."""

    info = DatasetInfo("imagenet", 1000, 3, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

    def load(self, dataroot, download):
        import torchvision

        if (
            dataroot is None
            or not (Path(dataroot) / "train").is_dir()
            or not (Path(dataroot) / "val").is_dir()
        ):
            raise _missing("imagenet", Path(dataroot) if dataroot else None, "folders train/ and val/")
        root = Path(dataroot)
        return (
            torchvision.datasets.ImageFolder(str(root / "train")),
            torchvision.datasets.ImageFolder(str(root / "val")),
        )
