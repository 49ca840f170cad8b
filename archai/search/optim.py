"""Optimizers and learning-rate schedules from config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "multistep", "constant")


def build_optimizer(params: Iterable[torch.nn.Parameter], conf: Mapping[str, Any]) -> torch.optim.Optimizer:
    """``conf``: ``name`` (sgd/adam/adamw), ``lr``, ``momentum``, ``nesterov``, ``weight_decay``, ``betas``.

    Example:
        >>> opt = build_optimizer(torch.nn.Linear(2, 2).parameters(), {"name": "sgd", "lr": 0.1,
        ...     "momentum": 0.9, "nesterov": False, "weight_decay": 3e-4, "betas": [0.9, 0.999]})
        >>> type(opt).__name__
        'SGD'
    """
    name = conf["name"].lower()
    lr, wd = float(conf["lr"]), float(conf["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=float(conf["momentum"]), nesterov=bool(conf["nesterov"]), weight_decay=wd
        )
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=tuple(conf["betas"]), weight_decay=wd)
    raise ValueError(f"optimizer.name '{conf['name']}' is not one of {', '.join(OPTIMIZERS)}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, conf: Mapping[str, Any], epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-epoch schedule; ``conf``: ``name``, ``min_lr``, ``step_size``, ``gamma``,
    ``milestones``, ``warmup_epochs`` (linear warm-up from ``warmup_start_factor`` x lr)."""
    name = conf["name"].lower()
    warm = int(conf["warmup_epochs"])
    main_epochs = max(1, epochs - warm)
    if name == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, main_epochs, eta_min=float(conf["min_lr"])
        )
    elif name == "step":
        main = torch.optim.lr_scheduler.StepLR(optimizer, int(conf["step_size"]), float(conf["gamma"]))
    elif name == "multistep":
        main = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(conf["milestones"]), float(conf["gamma"]))
    elif name == "constant":
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    else:
        raise ValueError(f"lr_schedule.name '{conf['name']}' is not one of {', '.join(SCHEDULES)}")
    if warm <= 0:
        return main
    warmup = torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=float(conf["warmup_start_factor"]), total_iters=warm
    )
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warm])
