"""The value rules of Archai's config: ranges and allowed names for the keys of ``base.yaml``.

``scripts/main.py`` (through :func:`archai.search.experiment.build_config`) checks every run's
config against :func:`value_rules` before it creates a run folder, so ``--eval.trainer.epochs -1``
or ``--trainer.optimizer.name sgdd`` is a one-line error instead of a failed (or silently useless)
run. A searcher adds rules for its own section with the ``value_checks`` class attribute.

Example:
    >>> from archai.common.checks import check_values
    >>> check_values({"executor": {"kind": "slurm"}}, value_rules())
    Traceback (most recent call last):
    ...
    archai.common.config.ConfigError: executor.kind: 'slurm' is not allowed; it must be one of local, ray
"""

from __future__ import annotations

from archai.common.checks import Each, OneOf, Range, Rule
from archai.datasets import DATASETS
from archai.search.optim import OPTIMIZERS, SCHEDULES
from archai.space.skeletons import SKELETONS

COUNT = Range(1, integer=True)  # at least one
NON_NEGATIVE_INT = Range(0, integer=True)
FRACTION = Range(0, 1, hi_open=True)
POSITIVE = Range(0, lo_open=True)
NON_NEGATIVE = Range(0)


def value_rules(
    searcher: type | None = None, name: str | None = None, space: type | None = None
) -> list[tuple[str, Rule]]:
    """Rules for the shared sections, plus ``searcher.value_checks`` under ``algos.<name>`` and
    ``space.value_checks`` under ``space.<its name>``."""
    rules: list[tuple[str, Rule]] = [
        ("common.num_threads", NON_NEGATIVE_INT),
        ("dataset.name", OneOf(DATASETS.names)),
        ("*loader.batch_size", COUNT),
        ("*loader.eval_batch_size", COUNT),
        ("*loader.val_fraction", FRACTION),
        ("*loader.train_limit", NON_NEGATIVE_INT),
        ("*loader.test_limit", NON_NEGATIVE_INT),
        ("*loader.cutout", NON_NEGATIVE_INT),
        ("*loader.num_workers", NON_NEGATIVE_INT),
        ("*trainer.epochs", COUNT),
        ("*trainer.optimizer.name", OneOf(lambda: OPTIMIZERS)),
        ("*trainer.optimizer.lr", POSITIVE),
        ("*trainer.optimizer.momentum", FRACTION),
        ("*trainer.optimizer.weight_decay", NON_NEGATIVE),
        ("*trainer.optimizer.betas", Each(FRACTION, min_len=2)),
        ("*trainer.lr_schedule.name", OneOf(lambda: SCHEDULES)),
        ("*trainer.lr_schedule.min_lr", NON_NEGATIVE),
        ("*trainer.lr_schedule.step_size", COUNT),
        ("*trainer.lr_schedule.gamma", POSITIVE),
        ("*trainer.lr_schedule.milestones", Each(COUNT)),
        ("*trainer.lr_schedule.warmup_epochs", NON_NEGATIVE_INT),
        ("*trainer.lr_schedule.warmup_start_factor", Range(0, 1, lo_open=True)),
        ("*trainer.grad_clip", NON_NEGATIVE),
        ("*trainer.aux_weight", NON_NEGATIVE),
        ("*trainer.drop_path_prob", FRACTION),
        ("*trainer.label_smoothing", FRACTION),
        ("*trainer.bn_recalibrate", NON_NEGATIVE_INT),
        ("*trainer.log_every_steps", NON_NEGATIVE_INT),
        ("*trainer.progress_every_s", NON_NEGATIVE),
        ("*model.skeleton", OneOf(SKELETONS.names)),
        ("*model.init_channels", COUNT),
        ("*model.n_cells", COUNT),
        ("*model.n_nodes", COUNT),
        ("*model.stem_multiplier", COUNT),
        ("*model.stem_stride", Range(1, 2, integer=True)),
        ("eval.final_descs", COUNT),
        ("eval.depth_multiplier", COUNT),
        ("eval.width_multiplier", COUNT),
        ("executor.kind", OneOf(lambda: ("local", "ray"))),
        ("executor.workers", COUNT),
        ("executor.num_cpus", NON_NEGATIVE_INT),
        ("executor.cpus_per_job", POSITIVE),
        ("executor.gpus_per_job", NON_NEGATIVE),
        ("executor.max_retries", NON_NEGATIVE_INT),
        ("pareto.epsilon", NON_NEGATIVE),
        ("pareto.batch_size", COUNT),
    ]
    if space is not None:
        rules += [(f"space.{space.name}.{key}", rule) for key, rule in space.value_checks.items()]
    if searcher is not None and name:
        rules += [
            (f"algos.{name}.{key}", rule) for key, rule in getattr(searcher, "value_checks", {}).items()
        ]
    return rules
