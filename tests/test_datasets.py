"""Dataset providers, the bundled mini set, splits and error messages."""

import gzip
import shutil

import pytest
import torch

from archai.datasets import (
    DATASETS,
    DatasetCorruptError,
    DatasetNotFoundError,
    build_loaders,
    get_provider,
    mnist_family,
    split_indices,
)
from archai.datasets.idx import read_idx

LOADER = {
    "batch_size": 32,
    "eval_batch_size": 100,
    "val_fraction": 0.0,
    "train_limit": 0,
    "test_limit": 0,
    "augment": True,
    "cutout": 0,
    "num_workers": 0,
    "pin_memory": False,
}
MINI = {"name": "fashion_mnist_mini", "dataroot": None, "download": False}


def test_registry_has_every_dataset():
    for name in ["fashion_mnist_mini", "fashion_mnist", "mnist", "cifar10", "cifar100", "svhn", "imagenet"]:
        assert name in DATASETS


def test_bundled_mini_set_shapes_labels_and_balance():
    train, test = get_provider("fashion_mnist_mini").load(None, False)
    assert train.images.shape == (6000, 1, 28, 28) and test.images.shape == (2000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert torch.bincount(train.labels).tolist() == [600] * 10
    assert torch.bincount(test.labels).tolist() == [200] * 10
    assert 0.2 < train.images.float().mean().item() / 255 < 0.4  # real images, not noise or zeros


def test_bundled_mini_checksum_detects_damage(tmp_path, monkeypatch):
    bad = tmp_path / "mini.npz"
    data = bytearray(mnist_family.FashionMnistMini.path().read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(mnist_family.FashionMnistMini, "path", staticmethod(lambda: bad))
    with pytest.raises(DatasetCorruptError, match="checksum"):
        get_provider("fashion_mnist_mini").load(None, False)


def test_search_split_disjoint_and_deterministic():
    tr, va = split_indices(1000, 0.5, seed=3)
    tr2, va2 = split_indices(1000, 0.5, seed=3)
    assert torch.equal(tr, tr2) and torch.equal(va, va2)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == 1000
    assert not torch.equal(split_indices(1000, 0.5, seed=4)[1], va)


def test_loaders_split_limits_and_normalization():
    loaders = build_loaders(MINI, {**LOADER, "val_fraction": 0.25, "train_limit": 600}, seed=0)
    assert len(loaders.train.dataset) == 600 and len(loaders.val.dataset) == 600
    x, y = next(iter(loaders.val))
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.3 and 0.7 < x.std().item() < 1.3  # normalized
    assert loaders.info.n_classes == 10


def test_missing_dataroot_message_says_where_and_how(tmp_path):
    provider = get_provider("mnist")
    with pytest.raises(DatasetNotFoundError) as e:
        provider.load(tmp_path / "nothing", False)
    msg = str(e.value)
    assert str(tmp_path / "nothing") in msg and "train-images-idx3-ubyte" in msg and "download: true" in msg
    with pytest.raises(DatasetNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        p = get_provider("fashion_mnist")
        p.system_dir = None
        p.load(tmp_path, False)
    with pytest.raises(DatasetNotFoundError, match="cifar10"):
        get_provider("cifar10").load(tmp_path, False)


@pytest.mark.skipif(
    not mnist_family.SYSTEM_FASHION_MNIST.is_dir(), reason="dataset-fashion-mnist not installed"
)
def test_full_fashion_mnist_and_truncation_detected(tmp_path):
    train, test = get_provider("fashion_mnist").load(None, False)
    assert len(train) == 60000 and len(test) == 10000
    for f in mnist_family.SYSTEM_FASHION_MNIST.iterdir():
        shutil.copy(f, tmp_path / f.name)
    raw = gzip.decompress((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DatasetCorruptError, match="truncated"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DatasetCorruptError):
        get_provider("fashion_mnist").load(tmp_path, False)
