"""How independent jobs run: in this process (default) or as Ray tasks (local or a cluster).

A job is a plain function and plain arguments (descriptions as dicts, config sections, paths),
so the same call runs in-process or on a Ray worker. A job that raises is retried up to
``max_retries`` times and then reported as a failed :class:`JobResult` carrying the traceback;
nothing is silently dropped. Ray also retries tasks whose worker process died.

Example:
    >>> ex = LocalExecutor(max_retries=0)
    >>> [r.value for r in ex.map(pow, [(2, 3), (3, 2)])]
    [8, 9]
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class JobResult:
    """The outcome of one job: ``value`` when ``ok``, else the ``error`` text with its traceback."""

    name: str
    ok: bool
    value: Any = None
    error: str | None = None
    attempts: int = 1

    def unwrap(self) -> Any:
        if not self.ok:
            raise JobFailedError(f"job {self.name} failed after {self.attempts} attempt(s):\n{self.error}")
        return self.value


class JobFailedError(RuntimeError):
    """A job failed on every attempt; the message holds its last traceback."""


def run_with_retries(
    fn: Callable[..., Any], args: tuple, max_retries: int
) -> tuple[bool, Any, str | None, int]:
    """Calls ``fn(*args)`` up to ``1 + max_retries`` times; returns (ok, value, traceback, attempts).

    Executors run this where the job runs (in-process or in a Ray worker), so failures come back
    as data with the worker's full traceback.
    """
    error = None
    for attempt in range(1, max_retries + 2):
        try:
            return True, fn(*args), None, attempt
        except Exception:  # noqa: BLE001 - reported to the caller with its traceback
            error = traceback.format_exc()
    return False, None, error, max_retries + 1


class Executor:
    """Base class: ``map`` runs ``fn(*args)`` for each argument tuple and returns results in order."""

    kind = "base"

    def __init__(self, max_retries: int = 1) -> None:
        self.max_retries = max_retries

    def map(
        self, fn: Callable[..., Any], arg_tuples: Sequence[tuple], names: Sequence[str] | None = None
    ) -> list[JobResult]:
        raise NotImplementedError

    def shutdown(self) -> None:
        """Releases resources (a Ray runtime this executor started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


class LocalExecutor(Executor):
    """Runs jobs one after the other in this process."""

    kind = "local"

    def map(self, fn, arg_tuples, names=None):
        names = list(names) if names is not None else [f"{fn.__name__}[{i}]" for i in range(len(arg_tuples))]
        return [
            JobResult(name, *run_with_retries(fn, args, self.max_retries))
            for name, args in zip(names, arg_tuples)
        ]


class RayExecutor(Executor):
    """Runs jobs as Ray tasks, in parallel as resources allow.

    Args:
        address: an existing cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
            ``None`` starts a local Ray for this run and stops it on :meth:`shutdown`.
        num_cpus: CPUs of a local Ray (0 = all).
        cpus_per_job, gpus_per_job: resources each task asks for (fractional GPUs share one).
    """

    kind = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int = 0,
        cpus_per_job: float = 1,
        gpus_per_job: float = 0,
        max_retries: int = 1,
    ) -> None:
        super().__init__(max_retries)
        try:
            import ray
        except ImportError:
            raise ImportError("executor.kind: ray needs Ray: pip install 'archai[ray]'") from None
        self._ray = ray
        self._owns = False
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=num_cpus or None, **kw)
                self._owns = True
        self.cpus_per_job, self.gpus_per_job = cpus_per_job, gpus_per_job

    def map(self, fn, arg_tuples, names=None):
        ray = self._ray
        names = list(names) if names is not None else [f"{fn.__name__}[{i}]" for i in range(len(arg_tuples))]
        # Exceptions are retried inside the task (run_with_retries, which returns the traceback);
        # Ray's own max_retries re-runs tasks whose worker process died.
        remote = ray.remote(
            num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=self.max_retries
        )(run_with_retries)
        refs = [
            remote.options(name=name).remote(fn, args, self.max_retries)
            for name, args in zip(names, arg_tuples)
        ]
        results = []
        for name, ref in zip(names, refs):
            try:
                results.append(JobResult(name, *ray.get(ref)))
            except Exception as e:  # noqa: BLE001 - the worker died on every attempt
                results.append(
                    JobResult(name, False, error=f"{type(e).__name__}: {e}", attempts=self.max_retries + 1)
                )
        return results

    def shutdown(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


def make_executor(conf: Mapping[str, Any]) -> Executor:
    """From the ``executor`` config section: ``kind`` (local/ray), ``ray_address``, ``num_cpus``,
    ``cpus_per_job``, ``gpus_per_job``, ``max_retries``."""
    kind = conf["kind"]
    if kind == "local":
        return LocalExecutor(max_retries=int(conf["max_retries"]))
    if kind == "ray":
        return RayExecutor(
            conf["ray_address"] or None,
            num_cpus=int(conf["num_cpus"]),
            cpus_per_job=float(conf["cpus_per_job"]),
            gpus_per_job=float(conf["gpus_per_job"]),
            max_retries=int(conf["max_retries"]),
        )
    raise ValueError(f"executor.kind must be 'local' or 'ray', got '{kind}'")
