"""Hand-made baselines that a search result is read against: a logistic regression and two
small CNNs, trained with the run's final-training protocol (``eval.loader``, ``eval.trainer``)
on the same training set and tested on the same test set as the found models.

Example (one epoch of the logistic regression on 500 mini Fashion-MNIST images):
    >>> from archai.common.config import confs_dir, load_config
    >>> from archai.search.experiment import config_schema
    >>> conf = load_config([config_schema()[0], confs_dir() / "toy.yaml"],
    ...                    ["--eval.trainer.epochs", "1", "--eval.loader.train_limit", "500"])
    >>> row = train_baseline(conf, "logistic regression", seed=0)
    >>> row["params"], 0.1 < row["test_top1"] <= 1.0
    (7850, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch import nn

from archai.common.config import Config, ConfigError
from archai.common.device import resolve_device
from archai.common.seeding import seed_everything
from archai.datasets import DatasetInfo, build_loaders, get_provider
from archai.search.trainer import Trainer
from archai.space.model import count_params


def small_cnn(widths: tuple[int, ...], info: DatasetInfo) -> nn.Module:
    """3x3 conv-BN-ReLU layers of ``widths`` channels, max-pooling between them, global average
    pooling and a linear classifier."""
    layers: list[nn.Module] = []
    c = info.channels
    for i, w in enumerate(widths):
        layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, info.n_classes))


def logistic_regression(info: DatasetInfo) -> nn.Module:
    """One linear layer on the flattened pixels."""
    return nn.Sequential(nn.Flatten(), nn.Linear(info.channels * info.size**2, info.n_classes))


#: name -> a builder of the network for a dataset
BASELINES: dict[str, Callable[[DatasetInfo], nn.Module]] = {
    "logistic regression": logistic_regression,
    "CNN 16/32/32": lambda info: small_cnn((16, 32, 32), info),
    "CNN 32/64/64": lambda info: small_cnn((32, 64, 64), info),
}


def train_baseline(conf: Config, name: str, seed: int) -> dict[str, Any]:
    """Trains the baseline ``name`` with ``conf``'s final-training protocol and ``seed`` on
    ``conf.dataset``; returns ``name``, ``seed``, ``test_top1``, ``params`` and ``seconds``."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    device = str(resolve_device(conf.common.device))
    loaders = build_loaders(conf.dataset, conf.eval.loader, seed=seed, device=device)
    seed_everything(seed)
    model = BASELINES[name](get_provider(conf.dataset.name).info)
    start = time.perf_counter()
    trainer = Trainer(model, conf.eval.trainer, device=device, seed=seed)
    trainer.fit(loaders.train)
    seconds = time.perf_counter() - start
    test = trainer.evaluate(loaders.test)["top1"]
    return {"name": name, "seed": seed, "test_top1": test, "params": count_params(model), "seconds": seconds}
