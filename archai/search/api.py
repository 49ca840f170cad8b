"""The notebook API: one call that searches, trains the found model and returns a typed result.

    >>> import archai  # doctest: +SKIP
    >>> result = archai.search_and_evaluate("darts", space="nb201", exp_dir="runs/nb",
    ...                                     search={"trainer": {"epochs": 1}})  # doctest: +SKIP
    >>> result.test_top1, result.architecture, result.run_dir  # doctest: +SKIP

Keyword arguments are config overrides, checked exactly as on the command line (an unknown key
is an error that suggests the closest one): a top-level section as a dict
(``search={"trainer": {"epochs": 1}}``), or dotted keys in ``overrides``
(``{"algos.darts.order": 2}``). The run folder is ``exp_dir/ALGO``: a finished one returns its
result without training, an interrupted one resumes, one made with other settings is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from archai.common.plugins import load_plugins
from archai.search.experiment import ExperimentOptions, load_run_config, run_experiment
from archai.search.export import export_run
from archai.search.pareto import ParetoFront, candidate_records, front_from_conf
from archai.search.searcher import Candidate, SearchResult
from archai.space.export import ExportResult
from archai.space.model_desc import ModelDesc


@dataclass
class RunResult:
    """What one algorithm's run found and how it did (all read back from its run folder)."""

    algo: str
    space: str
    run_dir: Path
    #: the finally trained architecture (``final_desc.yaml``) and its readable form
    final_desc: ModelDesc
    architecture: str | None
    genotype: str | None
    #: validation accuracy of the chosen candidate in the search, test accuracy of its final training
    val_top1: float | None
    test_top1: float | None
    params: int | None
    macs: int | None
    #: every candidate the search evaluated, and the Pareto front over them (``front.front_records()``;
    #: ``front.band_records()`` is the gallery: every model in the epsilon band)
    candidates: list[Candidate]
    front: ParetoFront
    summary: dict[str, Any]

    @classmethod
    def load(cls, run_dir: str | Path) -> RunResult:
        """The result of the finished run in ``run_dir`` (``EXP_DIR/ALGO``)."""
        run_dir = Path(run_dir)
        summary = json.loads((run_dir / "summary.json").read_text())
        search = SearchResult.load(run_dir)
        conf = load_run_config(run_dir)
        front = front_from_conf(candidate_records(search, summary["algo"], run_dir), conf.pareto)
        return cls(
            algo=summary["algo"],
            space=summary.get("space", "darts"),
            run_dir=run_dir,
            final_desc=ModelDesc.load(run_dir / summary["final_desc"]),
            architecture=summary.get("architecture"),
            genotype=summary.get("genotype"),
            val_top1=summary.get("val_top1"),
            test_top1=summary.get("test_top1"),
            params=summary.get("params"),
            macs=summary.get("macs"),
            candidates=search.candidates,
            front=front,
            summary=summary,
        )

    def export(self, fmt: str = "torchscript", out: str | Path | None = None) -> ExportResult:
        """The final model as a TorchScript or ONNX file that loads without Archai (checked),
        with its JSON sidecar; see :func:`archai.search.export.export_run`."""
        return export_run(self.run_dir, fmt, out)

    @property
    def gallery(self) -> list[dict]:
        """The models in the epsilon band around the front's hull (one record each)."""
        return self.front.band_records()

    def __repr__(self) -> str:
        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.2f}%"

        return (
            f"RunResult(algo={self.algo!r}, space={self.space!r}, test_top1={pct(self.test_top1)}, "
            f"val_top1={pct(self.val_top1)}, params={self.params}, architecture={self.architecture!r}, "
            f"candidates={len(self.candidates)}, on_front={len(self.front.front_records())}, "
            f"run_dir='{self.run_dir}')"
        )


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    """Dotted keys of the leaves of ``value`` (an empty mapping changes nothing)."""
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in _flatten(f"{prefix}.{k}", v)]
    return [(prefix, value)]


def _plain(value: Any) -> Any:
    """Paths as strings, NumPy scalars and arrays as Python values, tuples as lists."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _as_text(value: Any) -> str:
    """A value as the command line writes it (YAML flow style: ``3``, ``true``, ``[a, b]``)."""
    value = _plain(value)
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def override_args(overrides: Mapping[str, Any] | None = None, **sections: Any) -> list[str]:
    """Command-line overrides (``["--search.trainer.epochs", "1"]``) for dotted ``overrides``
    and top-level ``sections`` given as (nested) dicts or values.

    Example:
        >>> override_args({"algos.darts.order": 2}, search={"trainer": {"epochs": 1}})
        ['--algos.darts.order=2', '--search.trainer.epochs=1']
    """
    pairs = [pair for k, v in (overrides or {}).items() for pair in _flatten(k, v)]
    pairs += [pair for k, v in sections.items() for pair in _flatten(k, v)]
    return [f"--{k}={_as_text(v)}" for k, v in pairs]  # with '=': a value may start with "--"


def search_and_evaluate(
    algo: str,
    *,
    space: str | Mapping[str, Any] | None = None,
    exp_dir: str | Path = "runs/notebook",
    full: bool = False,
    dataset: str | Mapping[str, Any] | None = None,
    dataroot: str | None = None,
    config_files: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    plugins: str | Sequence[str] = (),
    **sections: Any,
) -> RunResult:
    """Searches with ``algo`` on ``space`` (toy protocol unless ``full``), trains and tests the
    found architecture, and returns the :class:`RunResult` of ``exp_dir/ALGO``. A finished run
    folder returns its result; an interrupted one resumes. ``space`` and ``dataset`` are a
    name, or their config section as a dict (``space={"name": "nb201", "nb201": {...}}``)."""
    if isinstance(space, Mapping):
        sections["space"], space = space, None
    if isinstance(dataset, Mapping):
        sections["dataset"], dataset = dataset, None
    names = load_plugins(plugins)
    opts = ExperimentOptions(
        algos=[algo],
        full=full,
        space=space,
        dataset=dataset,
        dataroot=dataroot,
        exp_dir=str(exp_dir),
        config_files=list(config_files),
        overrides=override_args(overrides, **sections),
        resume=True,
        plugins=names,
    )
    run_experiment(opts)
    return RunResult.load(Path(exp_dir) / algo)
