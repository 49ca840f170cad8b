"""Job functions the executor runs: train one description and report its metrics.

A job gets plain data only (a description as a dict, config sections, paths), so it runs the
same in-process or on a Ray worker. It works in its own folder: ``checkpoint.pt`` after every
epoch (a re-run resumes from it), ``events.jsonl``, and ``result.json`` when done (a re-run
returns it without training again).

Damaged state never turns a finished job into a failure: a ``result.json``, ``checkpoint.pt``
or ``weights.pt`` that cannot be read is set aside as ``NAME.damaged`` and the job is trained
again from its inputs (from its last readable checkpoint, else from the start). The returned
metrics then carry ``recovered``: what was damaged and what was done, which the run logs.

A job folder belongs to one set of inputs: ``inputs.json``, written when the job first starts,
holds their fingerprint (:func:`job_inputs`: the description's digest, data, loader and trainer
settings, seed, warm-start file, thread count). A later job in the same folder with other
inputs (an edited candidate file or config) is refused with :class:`StaleJobError`, so a
checkpoint or result made from other inputs is never reused, and never overwritten.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from archai.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from archai.common.device import resolve_device
from archai.common.errors import UserError
from archai.common.jsonio import json_safe, read_state, set_aside, short_digest, tree_diff, write_json
from archai.common.logger import RunLogger
from archai.common.seeding import seed_everything
from archai.datasets import build_loaders
from archai.search.trainer import Trainer
from archai.space.cost import count_macs
from archai.space.model import build_model, count_params
from archai.space.model_desc import ModelDesc


@dataclass
class TrainJob:
    """Everything needed to train one description (all plain, picklable data)."""

    name: str
    desc: dict
    dataset: dict
    loader: dict
    trainer: dict
    job_dir: str
    seed: int = 0
    #: seeds the train/validation split alone (None: ``seed``); a benchmark's seeds share one split
    split_seed: int | None = None
    device: str = "auto"
    init_weights: str | None = None  # warm start: a state_dict file, loaded where names/shapes match
    save_weights: bool = False  # keep the trained weights as weights.pt (parents of grown children)
    test: bool = False  # also measure the test split (the final evaluation only: searches never see it)
    num_threads: int = 0
    console: dict = field(default_factory=dict)  # RunLogger's quiet/progress: the run's console settings

    def as_args(self) -> tuple:
        return (asdict(self),)


def warm_start(model: torch.nn.Module, weights_path: str | Path) -> list[str]:
    """Copies every tensor of a saved state dict whose name and shape match; returns the names
    of the model's tensors that were not copied (the new parts of a grown child)."""
    state = load_checkpoint(weights_path)
    own = model.state_dict()
    copied = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    own.update(copied)
    model.load_state_dict(own)
    return [k for k in own if k not in copied]


class StaleJobError(UserError):
    """A job folder holds work made from other inputs than the job now asks for."""


#: fields of a job that say where or how visibly it runs, not what it computes
_NOT_INPUTS = frozenset({"name", "job_dir", "device", "console"})
#: keys of a job's config sections that change nothing it computes
_RUNTIME_KEYS = {
    "dataset": frozenset({"dataroot", "download"}),  # where the (checksummed) files live
    "loader": frozenset({"num_workers", "pin_memory"}),
    "trainer": frozenset({"log_every_steps", "progress_every_s"}),
}
#: fields holding a path into the run folder: compared by their last two parts (folders move)
_PATH_FIELDS = frozenset({"init_weights", "parent_weights"})


def job_inputs(job_data: dict) -> dict:
    """What a job's result depends on, as plain data: every field of the job (a
    :class:`TrainJob` or another job dataclass, as a dict) but those in ``_NOT_INPUTS`` and
    the runtime keys of its sections; descriptions as their digest, run-folder paths by
    their last two parts.

    Example:
        >>> job = {"name": "a", "job_dir": "/x/jobs/a", "seed": 1, "init_weights": "/x/jobs/p/weights.pt",
        ...        "trainer": {"epochs": 3, "log_every_steps": 50}}
        >>> job_inputs(job)
        {'init_weights': 'p/weights.pt', 'seed': 1, 'trainer': {'epochs': 3}}
    """
    out: dict = {}
    for key, value in sorted(job_data.items()):
        if key in _NOT_INPUTS or (key == "split_seed" and value is None):  # None: as before the field
            continue
        if isinstance(value, dict) and "cells" in value:
            value = {"digest": ModelDesc.from_data(value).digest()}
        elif key in _RUNTIME_KEYS and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in _RUNTIME_KEYS[key]}
        elif key in _PATH_FIELDS and value:
            value = "/".join(Path(value).parts[-2:])
        out[key] = value
    return json_safe(out)


def claim_job_dir(job_dir: str | Path, job_data: dict, notes: list[str] | None = None) -> None:
    """Makes sure ``job_dir`` holds nothing made from other inputs than ``job_data``'s; the
    first job to run there records its inputs (``inputs.json``).

    A folder whose ``inputs.json`` names other inputs raises :class:`StaleJobError` with the
    first differences (its work is kept). One whose ``inputs.json`` cannot be read, or that
    holds work but no ``inputs.json`` (made before fingerprints), cannot be vouched for: its
    result and checkpoint are set aside and the job trains again (noted)."""
    job_dir = Path(job_dir)
    path = job_dir / "inputs.json"
    inputs = job_inputs(job_data)
    saved = read_state(path, notes, "the job trains again from its inputs")
    if saved is not None and not isinstance(saved, dict):
        _note(
            notes, f"{path} holds no record of inputs; kept as {set_aside(path).name}, the job trains again"
        )
        saved = None
    if saved is not None:
        if saved.get("fingerprint") == short_digest(inputs):
            return
        changed = tree_diff(saved.get("inputs") or {}, inputs)
        raise StaleJobError(
            f"{job_dir} holds work made from other inputs than this run now gives it "
            f"({'; '.join(changed[:4]) or 'fingerprint differs'}): a candidate file or config.yaml was "
            f"edited, or the folder was copied from another run. Its work is kept: resume with the "
            f"inputs it was made with, delete {job_dir.name} to train it again, or use another --exp-dir"
        )
    unvouched = [n for n in ("result.json", "checkpoint.pt") if (job_dir / n).is_file()]
    for name in unvouched:
        moved = set_aside(job_dir / name)
        _note(
            notes, f"{job_dir / name} has no record of its inputs; kept as {moved.name}, the job trains again"
        )
    write_json(path, {"fingerprint": short_digest(inputs), "inputs": inputs})


def finished_result(
    job_dir: str | Path, notes: list[str] | None = None, needs: Sequence[str] = ()
) -> dict | None:
    """The saved ``result.json`` of a job that already finished, else None.

    A ``result.json`` that cannot be parsed, or whose job lacks a readable file of ``needs``
    (e.g. ``weights.pt``), is set aside and None is returned so the job runs again; ``notes``
    receives what was done."""
    path = Path(job_dir) / "result.json"
    result = read_state(path, notes, "the job runs again")
    if result is None:
        return None
    for name in needs:
        need = Path(job_dir) / name
        if readable_checkpoint(need, notes):
            continue
        _note(notes, f"{need} is missing or unreadable; the finished job runs again to rebuild it")
        set_aside(path)
        return None
    return result


def readable_checkpoint(path: str | Path, notes: list[str] | None = None) -> bool:
    """True if ``path`` loads; a file that exists but cannot be read is set aside (noted)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        load_checkpoint(path)
        return True
    except CheckpointError as e:
        _note(notes, f"{path} could not be read ({e.reason}); kept as {set_aside(path).name}")
        return False


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(" ".join(text.split()))


def prepare_job(
    job_dir: str | Path, *, seed: int, device: str, num_threads: int, notes: list[str] | None = None
) -> torch.device:
    """Common start of every job: its folder, thread count, seeds; returns the device. A
    damaged ``checkpoint.pt`` is set aside (the job then trains from the start)."""
    Path(job_dir).mkdir(parents=True, exist_ok=True)
    ckpt = Path(job_dir) / "checkpoint.pt"
    if ckpt.is_file() and not readable_checkpoint(ckpt, notes):
        _note(notes, "training starts from the first epoch")
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    seed_everything(seed)
    return resolve_device(device)


def with_notes(result: dict, notes: list[str], log: RunLogger | None = None) -> dict:
    """``result`` plus ``recovered`` when ``notes`` say that damaged state was repaired."""
    if not notes:
        return result
    if log is not None:
        for n in notes:
            log.warning(n)
    return {**result, "recovered": notes}


def run_train_job(job_data: dict) -> dict:
    """Trains ``job_data`` (a :class:`TrainJob` as a dict); returns its metrics."""
    job = TrainJob(**job_data)
    job_dir = Path(job.job_dir)
    notes: list[str] = []
    claim_job_dir(job_dir, job_data, notes)
    needs = ["weights.pt"] if job.save_weights else []
    if (done := finished_result(job_dir, notes, needs)) is not None:
        return done
    device = prepare_job(job_dir, seed=job.seed, device=job.device, num_threads=job.num_threads, notes=notes)
    desc = ModelDesc.from_data(job.desc)
    model = build_model(desc)
    if job.init_weights:
        warm_start(model, job.init_weights)
    loaders = build_loaders(
        job.dataset,
        job.loader,
        seed=job.seed,
        device=str(device),
        with_test=job.test,
        split_seed=job.split_seed,
    )
    with RunLogger(job_dir, level="progress", tensorboard=False, **job.console) as log:
        trainer = Trainer(
            model,
            job.trainer,
            device=device,
            checkpoint_path=job_dir / "checkpoint.pt",
            seed=job.seed,
            logger=log,
            scope=job.name,
        )
        if int(job.trainer["epochs"]) > 0:
            last = trainer.fit(loaders.train, loaders.val).last
            history = trainer.history
        else:  # trained weights measured as they are (a given Petridish seed)
            last = {"val/top1": trainer.evaluate(loaders.val)["top1"]} if loaders.val is not None else {}
            history = []
        shape = (desc.in_channels, desc.image_size, desc.image_size)
        metrics = {
            "val_top1": last.get("val/top1", math.nan),
            "train_top1": last.get("train/top1", math.nan),
            "params": count_params(model),
            "macs": count_macs(model, shape),
            "epochs": len(history),
            "train_seconds": sum(h["seconds"] for h in history),
            "num_threads": torch.get_num_threads(),
            # per epoch: validation top-1 and training seconds so far (tabular benchmarks, curves)
            "val_curve": [h.get("val/top1", math.nan) for h in history],
            "seconds_curve": list(itertools.accumulate(h["seconds"] for h in history)),
        }
        if job.test:
            test = trainer.evaluate(loaders.test)
            metrics.update(test_top1=test["top1"], test_loss=test["loss"])
        log.event("result", data=metrics)
        if job.save_weights:
            save_checkpoint(model.state_dict(), job_dir / "weights.pt")
        write_json(job_dir / "result.json", metrics)
        return with_notes(json_safe(metrics), notes, log)
