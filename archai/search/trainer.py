"""The one training loop: supernets, sampled children, grown children and final models.

Algorithms change its behaviour through :class:`TrainerHook` objects (an architecture step
before each weight step, a controller update after each epoch, an extra loss term), never by
copying the loop.

Example:
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    >>> trainer = Trainer(torch.nn.Linear(4, 2), trainer_conf(epochs=2, optimizer={'lr': 0.1}))
    >>> result = trainer.fit(DataLoader(data, batch_size=16))
    >>> len(result.history)
    2
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archai.common.checkpoint import load_checkpoint, save_checkpoint
from archai.common.config import Config, confs_dir, load_config
from archai.common.device import resolve_device
from archai.common.logger import RunLogger
from archai.common.metrics import RunningMean, topk_correct
from archai.common.seeding import derive_seed, rng_states, set_rng_states
from archai.search.optim import build_optimizer, build_scheduler


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last checkpoint on disk is the last good state."""


def strided_pointwise_convs(model: nn.Module) -> list[str]:
    """Names of ``model``'s 1x1 convolutions with a stride above 1 and fewer than 8 input
    channels per group: in channels-last, oneDNN's AVX2 kernel for their weight gradient returns
    wrong values, hangs or crashes (torch 2.14.1, ``docs/performance.md``). Archai's own ops have none
    (:class:`~archai.space.ops.FactorizedReduce` subsamples, then convolves with stride 1).

    Example:
        >>> strided_pointwise_convs(nn.Sequential(nn.Conv2d(4, 8, 1, stride=2), nn.Conv2d(8, 8, 1, stride=2)))
        ['0']
    """
    return [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
        and m.kernel_size == (1, 1)
        and max(m.stride) > 1
        and m.in_channels // m.groups < 8
    ]


def resolve_memory_format(
    channels_last: bool | None, device: torch.device, model: nn.Module | None = None
) -> torch.memory_format:
    """The memory format of models and input batches for the ``trainer.channels_last`` setting.

    ``None`` (the default) chooses per device: channels-last on CUDA, where NHWC convolutions
    are the fast path (tensor cores, AMP), and on the CPU, where it spares oneDNN the reorders
    between the plain layout and its blocked ones that dominate small networks, and runs
    pooling several times faster (``docs/performance.md``). On the CPU a ``model`` with a
    convolution of :func:`strided_pointwise_convs` keeps the contiguous format, where that
    kernel is right. Other devices keep the contiguous format. The choice never depends on the CPU's
    instruction set, so a run behaves the same on every machine.

    Example:
        >>> resolve_memory_format(None, torch.device("cpu")) == torch.channels_last
        True
        >>> risky = nn.Conv2d(3, 8, 1, stride=2)
        >>> resolve_memory_format(None, torch.device("cpu"), risky) == torch.contiguous_format
        True
        >>> resolve_memory_format(False, torch.device("cpu")) == torch.contiguous_format
        True
    """
    if channels_last is None:
        channels_last = device.type == "cuda" or (
            device.type == "cpu" and not (model is not None and strided_pointwise_convs(model))
        )
    if not isinstance(channels_last, bool):
        raise ValueError(
            f"trainer.channels_last must be true, false or null (per device), not {channels_last!r}"
        )
    return torch.channels_last if channels_last else torch.contiguous_format


def trainer_conf(**overrides: Any) -> Config:
    """The ``trainer`` section of ``confs/base.yaml`` with ``overrides`` applied and validated.

    Nested sections are given as dicts: ``trainer_conf(epochs=3, optimizer={"lr": 0.1})``.
    """
    return load_config([confs_dir() / "base.yaml", {"trainer": overrides}]).trainer


class TrainerHook:
    """Extension points of :class:`Trainer`; override the ones you need.

    A hook that holds state (an architecture optimizer, a controller) returns it from
    ``state_dict`` so it is saved in the trainer's checkpoint and restored on resume.
    """

    def before_fit(self, trainer: Trainer) -> None: ...

    def before_epoch(self, trainer: Trainer, epoch: int) -> None: ...

    def before_step(self, trainer: Trainer, step: int, batch: tuple[torch.Tensor, torch.Tensor]) -> None: ...

    def extra_loss(self, trainer: Trainer, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor | None:
        """A term added to the training loss of this step (e.g. an L1 penalty)."""
        return None

    def after_step(
        self, trainer: Trainer, step: int, batch: tuple[torch.Tensor, torch.Tensor], loss: float
    ) -> None: ...

    def after_epoch(self, trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        """May add entries to ``metrics``; they are logged and kept in the history."""

    def after_fit(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns: one dict of metrics per epoch, oldest first."""

    history: list[dict[str, float]]

    @property
    def last(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def split_logits(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Models return logits, or ``(logits, aux_logits)`` while training with an auxiliary head."""
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


class Trainer:
    """Trains ``model`` with the settings of a ``trainer`` config section.

    Args:
        model: any ``nn.Module`` returning logits (or ``(logits, aux_logits)`` in training).
            If it has ``drop_path_prob``, the trainer ramps it linearly over the epochs.
        conf: the ``trainer`` section (see ``confs/base.yaml`` and :func:`trainer_conf`).
        params: parameters for the weight optimizer; default ``model.weight_parameters()`` when
            the model defines it (so architecture weights are never stepped here), else all.
        hooks: :class:`TrainerHook` objects, called in order.
        checkpoint_path: written atomically after every epoch; ``fit`` resumes from it if present.
        seed: fixes the shuffling order of every epoch (with the loader's generator).
        logger: a :class:`RunLogger`; none means silent.
        scope: the logger scope of this training (``"train"``, ``"search"``, ``"child_3"``...).
    """

    def __init__(
        self,
        model: nn.Module,
        conf: Mapping[str, Any],
        *,
        device: str | torch.device | None = "auto",
        params: Iterable[nn.Parameter] | None = None,
        hooks: Sequence[TrainerHook] = (),
        checkpoint_path: str | Path | None = None,
        seed: int = 0,
        logger: RunLogger | None = None,
        scope: str = "train",
    ) -> None:
        self.conf = conf
        self.device = resolve_device(device)
        self.memory_format = resolve_memory_format(conf["channels_last"], self.device, model)
        self.model = model.to(self.device, memory_format=self.memory_format)
        self.epochs = int(conf["epochs"])
        if params is None:
            params = model.weight_parameters() if hasattr(model, "weight_parameters") else model.parameters()
        self.params = [p for p in params if p.requires_grad]
        self.optimizer = build_optimizer(self.params, conf["optimizer"])
        self.scheduler = build_scheduler(self.optimizer, conf["lr_schedule"], self.epochs)
        self.hooks = list(hooks)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.seed = seed
        self.logger = logger
        self.scope = scope
        self.amp_dtype = None
        if bool(conf["amp"]) and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.history: list[dict[str, float]] = []
        self.epoch = 0  # epochs completed
        self.global_step = 0

    # ------------------------------------------------------------------ public API

    def fit(
        self, train_loader: Iterable, val_loader: Iterable | None = None, *, resume: bool = True
    ) -> TrainResult:
        """Trains for the configured epochs (continuing from the checkpoint if there is one)."""
        if resume and self.checkpoint_path is not None and self.checkpoint_path.is_file():
            self.load_state(load_checkpoint(self.checkpoint_path, self.device))
            self._log_info(f"resumed from {self.checkpoint_path} after epoch {self.epoch}")
        with self._scope():
            for h in self.hooks:
                h.before_fit(self)
            while self.epoch < self.epochs:
                metrics = self._train_epoch(train_loader, self.epoch)
                if val_loader is not None and int(self.conf["bn_recalibrate"]) > 0:
                    self.recalibrate_bn(train_loader, int(self.conf["bn_recalibrate"]))
                if val_loader is not None:
                    metrics.update({f"val/{k}": v for k, v in self.evaluate(val_loader).items()})
                for h in self.hooks:
                    h.after_epoch(self, self.epoch, metrics)
                self.history.append(metrics)
                self.epoch += 1
                if self.logger is not None:
                    self.logger.metrics(metrics, step=self.epoch, epoch=self.epoch)
                if self.checkpoint_path is not None:
                    save_checkpoint(self.state_dict(), self.checkpoint_path)
            for h in self.hooks:
                h.after_fit(self)
        return TrainResult(list(self.history))

    @torch.no_grad()
    def evaluate(self, loader: Iterable) -> dict[str, float]:
        """Loss, top-1 and top-5 accuracy (fractions) of the model on ``loader``."""
        was_training = self.model.training
        self.model.eval()
        loss, n, c1, c5 = 0.0, 0, 0, 0
        try:
            for x, y in loader:
                x, y = self.to_device(x), y.to(self.device, non_blocking=True)
                with self._autocast():
                    logits, _ = split_logits(self.model(x))
                loss += float(F.cross_entropy(logits.float(), y, reduction="sum"))
                k1, k5 = topk_correct(logits, y)
                c1, c5, n = c1 + k1, c5 + k5, n + len(y)
        finally:
            self.model.train(was_training)
        n = max(n, 1)
        return {"loss": loss / n, "top1": c1 / n, "top5": c5 / n}

    @torch.no_grad()
    def recalibrate_bn(self, loader: Iterable, batches: int) -> None:
        """Recomputes every BatchNorm's running statistics as the plain average over ``batches``
        training batches (no weight changes, drop-path off)."""
        bns = [
            m
            for m in self.model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
        ]
        if not bns:
            return
        saved = [m.momentum for m in bns]
        drop = getattr(self.model, "drop_path_prob", None)
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        if drop is not None:
            self.model.drop_path_prob = 0.0
        self.model.train()
        try:
            for i, (x, _) in enumerate(loader):
                if i >= batches:
                    break
                with self._autocast():
                    self.model(self.to_device(x))
        finally:
            for m, mom in zip(bns, saved):
                m.momentum = mom
            if drop is not None:
                self.model.drop_path_prob = drop

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history,
            "rng": rng_states(),
            "hooks": [h.state_dict() for h in self.hooks],
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = [dict(h) for h in state["history"]]
        set_rng_states(state["rng"])
        if len(state["hooks"]) != len(self.hooks):
            raise ValueError(
                f"checkpoint has state for {len(state['hooks'])} hooks, this trainer has {len(self.hooks)}; "
                "resume with the same algorithm settings"
            )
        for h, s in zip(self.hooks, state["hooks"]):
            h.load_state_dict(s)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """Moves an input batch to the trainer's device (and memory format); hooks use it too."""
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=self.memory_format) if x.ndim == 4 else x

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # ------------------------------------------------------------------ internals

    def _scope(self):
        return self.logger.scope(self.scope) if self.logger is not None else contextlib.nullcontext()

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _log_info(self, msg: str) -> None:
        if self.logger is not None:
            self.logger.info(msg)

    def _train_epoch(self, loader: Iterable, epoch: int) -> dict[str, float]:
        gen = getattr(loader, "generator", None)
        if isinstance(gen, torch.Generator):
            gen.manual_seed(derive_seed(self.seed, f"train batches/epoch {epoch}"))  # same if resumed
        if hasattr(self.model, "drop_path_prob"):
            self.model.drop_path_prob = float(self.conf["drop_path_prob"]) * epoch / max(1, self.epochs)
        for h in self.hooks:
            h.before_epoch(self, epoch)
        self.model.train()
        aux_w, clip = float(self.conf["aux_weight"]), float(self.conf["grad_clip"])
        smoothing = float(self.conf["label_smoothing"])
        every = int(self.conf["log_every_steps"])
        lr = self.lr
        loss_m, top1_m, top5_m = RunningMean(), RunningMean(), RunningMean()
        n_images, start = 0, time.perf_counter()
        total = len(loader) if hasattr(loader, "__len__") else None
        progress = self._progress(loader, total, epoch)
        for step, (x, y) in enumerate(progress):
            x, y = self.to_device(x), y.to(self.device, non_blocking=True)
            batch = (x, y)
            for h in self.hooks:
                h.before_step(self, step, batch)
            self.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                logits, aux = split_logits(self.model(x))
                loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
                if aux is not None and aux_w > 0:
                    loss = loss + aux_w * F.cross_entropy(aux, y, label_smoothing=smoothing)
                for h in self.hooks:
                    extra = h.extra_loss(self, batch)
                    if extra is not None:
                        loss = loss + extra
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                where = f"epoch {epoch + 1}, step {step + 1}"
                kept = f"; the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path else ""
                raise NonFiniteLossError(
                    f"training loss is {loss_value} at {where} (lr {lr:.4g}){kept}. "
                    f"Lower the learning rate, set trainer.grad_clip, or check the inputs."
                )
            self.scaler.scale(loss).backward()
            if clip > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.params, clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            k1, k5 = topk_correct(logits.detach(), y)
            bs = len(y)
            loss_m.update(loss_value, bs)
            top1_m.update(k1 / bs, bs)
            top5_m.update(k5 / bs, bs)
            n_images += bs
            self.global_step += 1
            for h in self.hooks:
                h.after_step(self, step, batch, loss_value)
            if progress is not loader:
                elapsed = time.perf_counter() - start
                progress.set_stats(loss=loss_m.mean, images_per_s=n_images / elapsed if elapsed > 0 else 0.0)
            if self.logger is not None and every > 0 and self.global_step % every == 0:
                self.logger.metrics(
                    {"step/loss": loss_m.mean, "step/top1": top1_m.mean, "step/lr": lr},
                    step=self.global_step,
                    epoch=epoch + 1,
                )
        self.scheduler.step()
        seconds = time.perf_counter() - start
        return {
            "train/loss": loss_m.mean,
            "train/top1": top1_m.mean,
            "train/top5": top5_m.mean,
            "lr": lr,
            "images_per_s": n_images / seconds if seconds > 0 else float("nan"),
            "seconds": seconds,
        }

    def _progress(self, loader: Iterable, total: int | None, epoch: int) -> Iterable:
        if self.logger is None:
            return loader
        return self.logger.progress(
            loader,
            total=total,
            desc=f"{self.scope} epoch {epoch + 1}/{self.epochs}",
            every_s=float(self.conf["progress_every_s"]),
        )
