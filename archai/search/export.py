"""Export the finally trained model of a run (or any description and weights) for use without Archai.

    python scripts/export.py runs/toy --algo petridish --format onnx --out model.onnx

A run folder's final model is ``final_desc.yaml`` with the weights its final training ended with
(``jobs/eval_<candidate>/checkpoint.pt``); the sidecar JSON also records its dataset's
normalisation, the architecture (genotype) and the accuracy it came with. See ``docs/export.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archai.common.checkpoint import load_checkpoint
from archai.common.errors import UserError
from archai.datasets import get_provider
from archai.search.experiment import load_run_config
from archai.space.export import ExportResult, check_format, export_model
from archai.space.model_desc import ModelDesc


class RunNotExportableError(UserError, FileNotFoundError):
    """The folder holds no finished final training to export."""


def find_run(folder: str | Path, algo: str | None = None) -> Path:
    """The algorithm's run folder: ``folder`` itself when it is one (it holds the run's
    ``config.yaml``), else its ``algo`` subfolder (or its only finished one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunNotExportableError(f"{folder} is not a folder; give a run folder (EXP_DIR or EXP_DIR/ALGO)")
    if algo is None and (folder / "config.yaml").is_file():
        if not (folder / "summary.json").is_file():
            raise RunNotExportableError(
                f"{folder} holds no finished run (no summary.json); finish it with --resume"
            )
        return folder
    if algo is not None:
        run = folder / algo if (folder / algo).is_dir() else folder
        if run.name != algo or not (run / "summary.json").is_file():
            raise RunNotExportableError(f"{folder / algo} holds no finished run of {algo} (no summary.json)")
        return run
    runs = sorted(
        p.name for p in folder.iterdir() if (p / "summary.json").is_file() and (p / "config.yaml").is_file()
    )
    if len(runs) != 1:
        found = f"it holds {', '.join(runs)}" if runs else "it holds no finished run (no ALGO/summary.json)"
        raise RunNotExportableError(f"{folder}: pass --algo NAME; {found}")
    return folder / runs[0]


def export_run(
    folder: str | Path,
    fmt: str = "torchscript",
    out: str | Path | None = None,
    algo: str | None = None,
    check: bool = True,
) -> ExportResult:
    """Exports the final model of the run in ``folder`` (see :func:`find_run`) to ``out``
    (default: ``RUN/export/model.pt`` or ``model.onnx``)."""
    check_format(fmt)
    run = find_run(folder, algo)
    summary = json.loads((run / "summary.json").read_text())
    cid = summary.get("final_candidate")
    job = run / "jobs" / f"eval_{cid}"
    if summary.get("test_top1") is None or not (job / "result.json").is_file():
        raise RunNotExportableError(
            f"{run} has no finished final training to export (eval.enabled was false, or the final "
            f"training did not finish: finish it with --resume), or export a description with "
            f"--desc FILE --weights FILE"
        )
    desc = ModelDesc.load(run / summary["final_desc"])
    state = load_checkpoint(job / "checkpoint.pt")["model"]
    conf = load_run_config(run)
    info: dict[str, Any] = {
        **_dataset_info(str(conf.dataset.name)),
        "source": {"run": str(run), "algo": summary["algo"], "candidate": cid, "space": summary.get("space")},
        "architecture": summary.get("architecture"),
        "genotype": summary.get("genotype"),
        "test_top1": summary.get("test_top1"),
        "val_top1": summary.get("val_top1"),
        "params": summary.get("params"),
        "macs": summary.get("macs"),
    }
    out = Path(out) if out else run / "export" / ("model.pt" if fmt == "torchscript" else "model.onnx")
    return export_model(desc, state, out, fmt, info, check=check)


def export_desc(
    desc_path: str | Path,
    weights: str | Path | None,
    fmt: str,
    out: str | Path,
    dataset: str | None = None,
    check: bool = True,
) -> ExportResult:
    """Exports a description file with ``weights`` (a state dict or a trainer checkpoint; None:
    random weights, recorded as such); ``dataset`` names the normalisation to record."""
    check_format(fmt)
    desc = ModelDesc.load(desc_path)
    state = None
    if weights is not None:
        if not Path(weights).is_file():
            raise RunNotExportableError(f"weights file not found: {weights}")
        state = load_checkpoint(weights)
        state = state.get("model", state)
    info = {
        **(_dataset_info(dataset) if dataset else {}),
        "source": {"desc": str(desc_path), "weights": str(weights) if weights else "random"},
        "genotype": desc.meta.get("genotype"),
    }
    return export_model(desc, state, out, fmt, info, check=check)


def _dataset_info(name: str) -> dict[str, Any]:
    info = get_provider(name).info
    return {
        "dataset": name,
        "normalize": {"mean": list(info.mean), "std": list(info.std), "scale": "pixels / 255 first"},
    }
