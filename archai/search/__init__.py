"""The search framework every algorithm uses: one trainer, jobs and executors, the searcher
base class and registry, final evaluation, Pareto fronts and the experiment that ties them.

    >>> from archai.search import Searcher, SearchResult, register_searcher, trainer_conf
    >>> trainer_conf(epochs=3).epochs
    3

See ``docs/write_a_searcher.md`` for a searcher written against this API.
"""

from archai.common.checks import Each, OneOf, Range
from archai.common.config import Config, ConfigError, Null
from archai.common.seeding import derive_seed
from archai.search.api import RunResult, override_args, search_and_evaluate
from archai.search.conf_rules import COUNT, FRACTION, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE
from archai.search.data import data_loaders, loader_conf
from archai.search.evaluator import EvalOutcome, evaluate_final
from archai.search.executor import (
    Executor,
    JobFailedError,
    JobHandle,
    JobResult,
    LocalExecutor,
    RayExecutor,
    make_executor,
)
from archai.search.experiment import ExperimentOptions, build_config, format_table, run_experiment
from archai.search.jobs import TrainJob, run_train_job
from archai.search.pareto import Constraint, Objective, ParetoFront, front_from_conf
from archai.search.searcher import SEARCHERS, Candidate, RunContext, Searcher, SearchResult, register_searcher
from archai.search.trainer import Trainer, TrainerHook, TrainResult, trainer_conf

__all__ = [
    "COUNT",
    "FRACTION",
    "NON_NEGATIVE",
    "NON_NEGATIVE_INT",
    "POSITIVE",
    "SEARCHERS",
    "Candidate",
    "Config",
    "ConfigError",
    "Constraint",
    "Each",
    "EvalOutcome",
    "Executor",
    "ExperimentOptions",
    "JobFailedError",
    "JobHandle",
    "JobResult",
    "LocalExecutor",
    "Null",
    "Objective",
    "OneOf",
    "ParetoFront",
    "Range",
    "RayExecutor",
    "RunResult",
    "RunContext",
    "SearchResult",
    "Searcher",
    "TrainJob",
    "TrainResult",
    "Trainer",
    "TrainerHook",
    "build_config",
    "data_loaders",
    "derive_seed",
    "evaluate_final",
    "format_table",
    "front_from_conf",
    "loader_conf",
    "make_executor",
    "override_args",
    "register_searcher",
    "run_experiment",
    "run_train_job",
    "search_and_evaluate",
    "trainer_conf",
]
