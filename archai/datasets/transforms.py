"""Per-dataset augmentation: random crop and flip, normalization and cutout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from archai.datasets.provider import DatasetProvider


class Cutout(torch.nn.Module):
    """Zeroes one ``length`` x ``length`` square at a uniformly random centre (clipped at borders).

    As in DeVries & Taylor (2017) and the DARTS evaluation protocol; applied after normalization.
    Takes one image ``(C, H, W)`` or a batch ``(N, C, H, W)``, one square per image.
    """

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.ndim == 3:
            return self.forward(img[None])[0]
        n, _, h, w = img.shape
        cy, cx = torch.randint(h, (n, 1)), torch.randint(w, (n, 1))
        half = self.length // 2
        rows, cols = torch.arange(h)[None], torch.arange(w)[None]
        in_rows = (rows >= cy - half) & (rows < cy + half)  # (N, H)
        in_cols = (cols >= cx - half) & (cols < cx + half)  # (N, W)
        hole = in_rows[:, :, None] & in_cols[:, None, :]
        return img.masked_fill(hole[:, None], 0)


class BatchAugment(torch.nn.Module):
    """The in-memory datasets' transform, applied to a whole batch of uint8 images at once.

    Each image gets its own random crop (zero padding ``padding`` on every side, then a
    ``size`` x ``size`` window at a uniformly random offset, as ``v2.RandomCrop(size,
    padding=padding)``) and, with ``hflip``, its own coin for a horizontal flip; then the batch is
    scaled to [0, 1] and normalised by ``mean`` and ``std``, and ``cutout`` (if > 0) zeroes one
    square per image. Per image, torchvision's transforms cost about 0.35 ms on a 2-core CPU,
    a seventh of a toy model's training step; on the whole batch, 20 times less
    (``python bench/run.py --suite data``).
    Random draws come from torch's global generator (seeded per job and per loader worker).

    Example:
        >>> t = BatchAugment(28, mean=(0.5,), std=(0.5,), padding=2)
        >>> t(torch.zeros(4, 1, 28, 28, dtype=torch.uint8)).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(
        self,
        size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        *,
        padding: int = 0,
        hflip: bool = False,
        cutout: int = 0,
    ) -> None:
        super().__init__()
        self.size, self.padding, self.hflip = size, padding, hflip
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.cutout = Cutout(cutout) if cutout > 0 else None

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image random crops of a uint8 batch ``(N, C, H, W)``."""
        p, s = self.padding, self.size
        if p == 0 and tuple(x.shape[-2:]) == (s, s):
            return x
        x = F.pad(x, (p, p, p, p))
        n, _, h, w = x.shape
        top, left = torch.randint(h - s + 1, (n, 1)), torch.randint(w - s + 1, (n, 1))
        rows, cols = top + torch.arange(s), left + torch.arange(s)  # (N, s) each
        picked = x[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (N, s, s, C)
        return picked.permute(0, 3, 1, 2).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            return self.forward(x[None])[0]
        x = self.crop(x)
        if self.hflip:
            flip = torch.rand(len(x)) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        x = (x.float().div_(255) - self.mean) / self.std
        return self.cutout(x) if self.cutout is not None else x


def tensor_transforms(provider: DatasetProvider, *, train: bool, augment: bool, cutout: int) -> BatchAugment:
    """The batch transform of uint8 ``(N, C, H, W)`` tensors, as used by every in-memory dataset."""
    info = provider.info
    augment = train and augment
    return BatchAugment(
        info.size,
        info.mean,
        info.std,
        padding=provider.crop_padding if augment else 0,
        hflip=augment and provider.hflip,
        cutout=cutout if train else 0,
    )


def folder_transforms(provider: DatasetProvider, *, train: bool, augment: bool, cutout: int) -> v2.Compose:
    """Transforms for PIL images read from folders (ImageNet-style, 224x224 crops)."""
    info = provider.info
    if train and augment:
        steps: list = [
            v2.RandomResizedCrop(info.size),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2),
        ]
    else:
        steps = [v2.Resize(int(info.size * 256 / 224)), v2.CenterCrop(info.size)]
    steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(info.mean, info.std)]
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    return v2.Compose(steps)
