"""The in-memory datasets' batch transform: each image its own crop, flip and cutout."""

import pytest
import torch
from torchvision.transforms import v2

from archai.datasets import build_loaders
from archai.datasets.provider import ImageTensorDataset
from archai.datasets.transforms import BatchAugment, Cutout

MEAN, STD = (0.3, 0.4, 0.5), (0.2, 0.25, 0.3)


def _images(n: int, size: int = 8, channels: int = 3) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randint(1, 256, (n, channels, size, size), dtype=torch.uint8)  # no zeros: padding shows


def _offset(out: torch.Tensor, padded: torch.Tensor, size: int) -> tuple[int, int] | None:
    """The window of ``padded`` that ``out`` is, or None."""
    span = padded.shape[-1] - size + 1
    for top in range(span):
        for left in range(span):
            if torch.equal(padded[:, top : top + size, left : left + size], out):
                return top, left
    return None


def test_crop_gives_each_image_its_own_uniform_window_of_the_zero_padded_image():
    x = _images(400)
    t = BatchAugment(8, MEAN, STD, padding=2)
    torch.manual_seed(1)
    out = t.crop(x)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = [_offset(o, p, 8) for o, p in zip(out, padded)]
    assert None not in offsets  # every output is a window of its own padded image
    counts = torch.zeros(5, 5)
    for top, left in offsets:
        counts[top, left] += 1
    assert (counts > 0).all()  # all 25 offsets occur (16 expected each)
    assert counts.max() < 40


def test_flip_is_a_coin_per_image_and_off_without_hflip():
    x = _images(400)
    torch.manual_seed(2)
    out = BatchAugment(8, MEAN, STD, hflip=True)(x)
    plain = BatchAugment(8, MEAN, STD)(x)
    kept = [torch.equal(o, p) for o, p in zip(out, plain)]
    flipped = [torch.equal(o, p.flip(-1)) for o, p in zip(out, plain)]
    assert all(k or f for k, f in zip(kept, flipped))
    assert 140 < sum(flipped) < 260
    assert torch.equal(BatchAugment(8, MEAN, STD)(x), plain)  # no randomness without augmentation


def test_normalisation_matches_torchvision_per_image():
    x = _images(5)
    ref = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    out = BatchAugment(8, MEAN, STD)(x)
    for o, img in zip(out, x):
        torch.testing.assert_close(o, ref(img))
    torch.testing.assert_close(BatchAugment(8, MEAN, STD)(x[0]), out[0])  # one (C, H, W) image too


@pytest.mark.parametrize("length", [3, 4])
def test_cutout_zeroes_one_square_per_image_clipped_at_the_borders(length):
    torch.manual_seed(3)
    out = Cutout(length)(torch.ones(300, 2, 10, 10))
    sides = set()
    for img in out:
        hole = img[0] == 0
        assert torch.equal(hole, img[1] == 0)  # the same square in every channel
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert hole.sum() == len(rows) * len(cols)  # a rectangle
        assert len(rows) <= 2 * (length // 2) and len(cols) <= 2 * (length // 2)
        sides.add((len(rows), len(cols)))
    assert (2 * (length // 2), 2 * (length // 2)) in sides  # whole squares away from the borders
    assert len(sides) > 1  # and clipped ones at them


def test_loader_batches_come_whole_and_cover_the_split_once():
    images = _images(50, size=28, channels=1)
    ds = ImageTensorDataset(images, torch.arange(50))
    x, y = ds.__getitems__([4, 2])
    assert torch.equal(x, images[[4, 2]].float() / 255) and y.tolist() == [4, 2]
    view = ds.view(torch.tensor([10, 20, 30]))
    assert view[1][1] == 20 and torch.equal(view[1][0], images[20].float() / 255)

    conf = {
        "batch_size": 64, "eval_batch_size": 500, "val_fraction": 0.2, "train_limit": 0, "test_limit": 0,
        "augment": True, "cutout": 0, "num_workers": 0, "pin_memory": False,
    }  # fmt: skip
    loaders = build_loaders({"name": "fashion_mnist_mini"}, conf, seed=0, with_test=True)
    seen, sizes = [], []
    for x, y in loaders.train:
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28) and len(x) == len(y)
        sizes.append(len(x))
        seen.append(y)
    assert sizes[:-1] == [64] * (len(sizes) - 1) and sum(sizes) == 4800
    assert torch.equal(torch.cat(seen).sort().values, loaders.train.dataset.targets.sort().values)
    test_x, _ = next(iter(loaders.test))
    assert len(test_x) == 500 and abs(float(test_x.mean())) < 0.2  # normalised, not augmented
