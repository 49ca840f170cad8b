"""Per-dataset augmentation: random crop and flip, normalization and cutout."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from archai.datasets.provider import DatasetProvider


class Cutout(torch.nn.Module):
    """Zeroes one ``length`` x ``length`` square at a uniformly random centre (clipped at borders).

    As in DeVries & Taylor (2017) and the DARTS evaluation protocol; applied after normalization.
    """

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
        half = self.length // 2
        img = img.clone()
        img[..., max(0, cy - half) : min(h, cy + half), max(0, cx - half) : min(w, cx + half)] = 0
        return img


def tensor_transforms(provider: DatasetProvider, *, train: bool, augment: bool, cutout: int) -> v2.Compose:
    """Transforms for uint8 ``(C, H, W)`` tensors, as used by every in-memory dataset."""
    info = provider.info
    steps: list = []
    if train and augment:
        steps.append(v2.RandomCrop(info.size, padding=provider.crop_padding))
        if provider.hflip:
            steps.append(v2.RandomHorizontalFlip())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(info.mean, info.std)]
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    return v2.Compose(steps)


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
