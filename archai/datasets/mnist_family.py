"""Fashion-MNIST (bundled mini subset and full) and MNIST, read from IDX files."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from archai.datasets.idx import find_idx, idx_shape, read_idx
from archai.datasets.provider import (
    DATASETS,
    DatasetCorruptError,
    DatasetInfo,
    DatasetNotFoundError,
    DatasetProvider,
    ImageTensorDataset,
)

#: SHA-256 of ``archai/datasets/data/fashion_mnist_mini.npz`` as made by
#: ``scripts/make_mini_dataset.py``; checked at every load.
MINI_SHA256 = "ad89d509ce7367d9ed4d21c170773e8d910a786f62b5db9f744a441bf9ec253a"
MINI_FILE = "fashion_mnist_mini.npz"
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _to_dataset(images: np.ndarray, labels: np.ndarray) -> ImageTensorDataset:
    x = torch.from_numpy(np.array(images, copy=True)).unsqueeze(1)  # N,1,28,28
    return ImageTensorDataset(x, torch.from_numpy(labels.astype(np.int64)))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _IdxProvider(DatasetProvider):
    """A dataset stored as the four IDX files of the MNIST family."""

    crop_padding = 2
    hflip = False
    torchvision_name: str = ""
    apt_package: str | None = None
    system_dir: Path | None = None

    def candidate_dirs(self, dataroot: Path | None) -> list[Path]:
        dirs = []
        if dataroot is not None:
            dataroot = Path(dataroot).expanduser()
            dirs += [
                dataroot,
                dataroot / self.info.name.replace("_", "-"),
                dataroot / self.torchvision_name / "raw",
            ]
        if self.system_dir is not None:
            dirs.append(self.system_dir)
        return dirs

    def _find(self, dirs: list[Path]) -> Path | None:
        for d in dirs:
            if all(find_idx(d, s) for pair in _IDX_STEMS.values() for s in pair):
                return d
        return None

    def check(self, dataroot, download):
        """Missing files raise the detailed not-found error; present ones are checked for a
        bad magic number, a length that differs from their header and image/label counts that
        differ (without reading the images into memory)."""
        folder = self._find(self.candidate_dirs(dataroot))
        if folder is None:
            if not download:
                self.load(dataroot, download)  # raises the detailed not-found error
            return
        for split, (img_stem, lbl_stem) in _IDX_STEMS.items():
            images, labels = idx_shape(find_idx(folder, img_stem)), idx_shape(find_idx(folder, lbl_stem))
            if len(images) != 3 or len(labels) != 1 or images[0] != labels[0]:
                raise DatasetCorruptError(
                    f"{folder}: {split} images have shape {images} and labels {labels} (expected "
                    f"[N, H, W] and [N]); replace the files with an intact copy"
                )

    def load(self, dataroot, download):
        dirs = self.candidate_dirs(dataroot)
        folder = self._find(dirs)
        if folder is None and download:
            if dataroot is None:
                raise DatasetNotFoundError(f"{self.info.name}: download: true needs dataset.dataroot")
            import torchvision

            try:
                getattr(torchvision.datasets, self.torchvision_name)(str(dataroot), download=True)
            except OSError as e:  # URLError (no network), HTTP errors, a full disk
                raise DatasetNotFoundError(
                    f"{self.info.name}: the download into {dataroot} failed ({type(e).__name__}: {e}); "
                    f"check the network, or put the files there and set dataset.download: false"
                ) from None
            folder = self._find(dirs)
        if folder is None:
            how = ["set dataset.dataroot to a folder holding the files"]
            if self.apt_package:
                how.insert(0, f"run 'apt-get install -y {self.apt_package}'")
            how.append("or set dataset.download: true where the network allows")
            files = ", ".join(s + "[.gz]" for pair in _IDX_STEMS.values() for s in pair)
            raise DatasetNotFoundError(
                f"{self.info.name}: the files {files} were not found in any of: "
                f"{', '.join(str(d) for d in dirs) or '(no folder: dataset.dataroot is null)'}. "
                f"To get them: {'; '.join(how)}."
            )
        out = []
        for split in ("train", "test"):
            img_stem, lbl_stem = _IDX_STEMS[split]
            images = read_idx(find_idx(folder, img_stem))
            labels = read_idx(find_idx(folder, lbl_stem))
            if len(images) != len(labels):
                raise DatasetCorruptError(f"{folder}: {split} has {len(images)} images, {len(labels)} labels")
            out.append(_to_dataset(images, labels))
        return out[0], out[1]


@DATASETS.register("fashion_mnist")
class FashionMnist(_IdxProvider):
    """Fashion-MNIST (Xiao et al., 2017): 60,000 + 10,000 grey 28x28 images of 10 garments."""

    info = DatasetInfo("fashion_mnist", 10, 1, 28, (0.2860,), (0.3530,))
    torchvision_name = "FashionMNIST"
    apt_package = "dataset-fashion-mnist"
    system_dir = SYSTEM_FASHION_MNIST


@DATASETS.register("mnist")
class Mnist(_IdxProvider):
    """MNIST handwritten digits: 60,000 + 10,000 grey 28x28 images."""

    info = DatasetInfo("mnist", 10, 1, 28, (0.1307,), (0.3081,))
    torchvision_name = "MNIST"


@DATASETS.register("fashion_mnist_mini")
class FashionMnistMini(DatasetProvider):
    """A stratified 6,000 + 2,000 image subset of Fashion-MNIST shipped inside the package.

    It needs no download, so the toy protocol runs anywhere. Made by
    ``scripts/make_mini_dataset.py``; its SHA-256 is checked at load.
    """

    info = DatasetInfo("fashion_mnist_mini", 10, 1, 28, (0.2860,), (0.3530,))
    crop_padding = 2
    hflip = False

    @staticmethod
    def path() -> Path:
        return Path(str(resources.files("archai.datasets") / "data" / MINI_FILE))

    def load(self, dataroot, download):
        path = self.path()
        if not path.is_file():
            raise DatasetNotFoundError(
                f"the bundled dataset {path} is missing; reinstall archai or recreate it with "
                f"'python scripts/make_mini_dataset.py' (needs 'apt-get install -y dataset-fashion-mnist')"
            )
        digest = sha256_file(path)
        if digest != MINI_SHA256:
            raise DatasetCorruptError(
                f"{path} fails its checksum (sha256 {digest}, expected {MINI_SHA256}); "
                f"reinstall archai or recreate it with 'python scripts/make_mini_dataset.py'"
            )
        with np.load(path) as z:
            return _to_dataset(z["x_train"], z["y_train"]), _to_dataset(z["x_test"], z["y_test"])
