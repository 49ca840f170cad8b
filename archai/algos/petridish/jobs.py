"""Petridish's candidate job: train a parent with candidate layers, pick the child's new nodes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from archai.algos.petridish.space import (
    candidate_desc,
    child_desc,
    child_init_state,
    macro_place,
    select_pairs,
)
from archai.common.checkpoint import save_checkpoint
from archai.common.jsonio import write_json
from archai.common.logger import RunLogger
from archai.datasets import build_loaders
from archai.search.jobs import claim_job_dir, finished_result, prepare_job, warm_start, with_notes
from archai.search.trainer import Trainer, TrainerHook
from archai.space.model import Cell, build_model
from archai.space.model_desc import ModelDesc
from archai.space.supernet import Supernet


class L1Penalty(TrainerHook):
    """Adds ``sum over cell kinds of weight[kind] * sum |alpha[kind]|`` to the loss: sparse
    candidate weights."""

    def __init__(self, net: Supernet, weights: dict[str, float]) -> None:
        self.net, self.weights = net, weights

    def extra_loss(self, trainer, batch):
        return sum(self.weights[k] * a.abs().sum() for k, a in self.net.alphas.items())


def init_candidates(
    net: Supernet, alpha_init: float | None, l1_weight: float | None, train_images: int, scale: float | None
) -> dict[str, float]:
    """Sets the candidate weights' start and the stop-forward gradient scale of ``net``, and
    returns the L1 weight of each cell kind. ``None`` means the published setting
    (petridishnn): every weight starts at ``1/n`` and the L1 weight is ``1e-2/n``, ``n`` being a
    kind's (input, op) pairs; the stop-forward join sends back the gradient times
    ``1/train_images`` (its ``1 / (steps per epoch * batch size)``). Otherwise weights start
    from ``N(0, alpha_init**2)`` (the supernet's own draw), the L1 weight is ``l1_weight`` and
    the gradient is scaled by ``scale``."""
    l1 = {}
    for kind, a in net.alphas.items():
        n = a.numel()
        if alpha_init is None:
            with torch.no_grad():
                a.fill_(1.0 / n)
        l1[kind] = 1e-2 / n if l1_weight is None else float(l1_weight)
    factor = 1.0 / max(train_images, 1) if scale is None else float(scale)
    for m in net.modules():
        if isinstance(m, Cell):
            m.stop_forward_scale = factor
    return l1


@dataclass
class CandidateJob:
    """Grow ``parent_desc`` (trained weights in ``parent_weights``) into a child (plain data)."""

    name: str
    parent_desc: dict
    parent_weights: str
    dataset: dict
    loader: dict
    trainer: dict
    job_dir: str
    primitives: list
    top_k: int = 3
    l1_weight: float | None = None  # None: the published 1e-2 / n (see init_candidates)
    alpha_init: float | None = None  # None: the published 1 / n
    stop_forward_scale: float | None = None  # None: the published 1 / training images
    merge: str = "concat_proj"
    macro: bool = False  # every cell its own candidates; the child grows the one place that weighs most
    seed: int = 0
    device: str = "auto"
    num_threads: int = 0
    console: dict = field(default_factory=dict)

    def as_args(self) -> tuple:
        return (asdict(self),)


def run_candidate_job(job_data: dict) -> dict:
    """Trains the candidates (resumable), selects the top-k pairs per cell kind, and writes the
    child's description (``child_desc.yaml``) and initial weights (``child_init.pt``); the
    result names both relative to the job folder (the run folder can move)."""
    job = CandidateJob(**job_data)
    job_dir = Path(job.job_dir)
    notes: list[str] = []
    claim_job_dir(job_dir, job_data, notes)
    done = finished_result(job_dir, notes, needs=["child_init.pt"])
    if done is not None and (job_dir / "child_desc.yaml").is_file():
        return done
    device = prepare_job(job_dir, seed=job.seed, device=job.device, num_threads=job.num_threads, notes=notes)
    parent = ModelDesc.from_data(job.parent_desc)
    net = Supernet(
        candidate_desc(parent, job.primitives, per_cell=job.macro),
        alpha_init=job.alpha_init or 0.0,
        weighting="linear",
    )
    warm_start(net.model, job.parent_weights)
    loaders = build_loaders(job.dataset, job.loader, seed=job.seed, device=str(device), with_test=False)
    train_images = len(loaders.train) * int(job.loader["batch_size"])
    l1 = init_candidates(net, job.alpha_init, job.l1_weight, train_images, job.stop_forward_scale)
    with RunLogger(job_dir, level="progress", tensorboard=False, **job.console) as log:
        trainer = Trainer(
            net,
            job.trainer,
            device=device,
            params=net.parameters(),  # alphas and weights trained together by one optimizer
            hooks=[L1Penalty(net, l1)],
            checkpoint_path=job_dir / "checkpoint.pt",
            seed=job.seed,
            logger=log,
            scope=job.name,
        )
        history = trainer.fit(loaders.train, loaders.val)
        weights = {k: w.cpu() for k, w in net.mixing_weights().items()}
        if job.macro:  # one place: the cell whose candidates weigh most
            place = macro_place(weights, job.top_k)
            selection = {place: select_pairs(weights[place], job.primitives, job.top_k)}
        else:  # every cell of a kind
            selection = {kind: select_pairs(w, job.primitives, job.top_k) for kind, w in weights.items()}
        log.event("selection", data={k: [list(p) for p in v] for k, v in selection.items()})
        child = child_desc(parent, selection, job.merge)
        child.meta = {**parent.meta, "grown_with": {k: [list(p) for p in v] for k, v in selection.items()}}
        child_model = build_model(child)
        state = {k: v.cpu() for k, v in net.state_dict().items()}
        save_checkpoint(
            child_init_state(state, child_model, parent, selection, job.primitives),
            job_dir / "child_init.pt",
        )
        child.save(job_dir / "child_desc.yaml")
        result = {
            "child_desc": "child_desc.yaml",
            "child_init": "child_init.pt",
            "selection": {k: [list(p) for p in v] for k, v in selection.items()},
            "alphas": {k: w.tolist() for k, w in weights.items()},
            "parent_val_top1": history.last.get("val/top1"),
        }
        write_json(job_dir / "result.json", result)
        return with_notes(result, notes, log)
