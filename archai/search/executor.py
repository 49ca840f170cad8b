"""How independent jobs run: in this process (default) or as Ray tasks (local or a cluster).

A job is a plain function and plain arguments (descriptions as dicts, config sections, paths),
so the same call runs in-process or on a Ray worker. A job that raises is retried up to
``max_retries`` times and then reported as a failed :class:`JobResult` carrying the traceback;
nothing is silently dropped. Ray also retries tasks whose worker process died. Every job first
imports the executor's ``plugins`` (module names), so plugin ops and searchers exist on workers.

Two ways to run jobs, the same on every executor:

- ``map``: run a batch, get the results in order;
- ``submit`` and ``as_completed``: handles to react to as each job finishes (an asynchronous
  search keeps a fixed number of jobs in flight).

A local executor with one worker (the default) runs a job in this process when its result is
first needed, one at a time in submission order. With ``workers`` > 1 it trains that many jobs
at once, each in a process of its own with ``threads`` threads: small networks use two threads
poorly, so two one-thread jobs on two cores get about twice the work done
(``bench/train_step.py``). Its ``as_completed`` still yields in submission order, so a search
sees its results in the same order whatever finishes first: a run is as deterministic with
workers as without (its results depend on the thread count, see ``docs/run_folders.md``).

Example:
    >>> ex = LocalExecutor(max_retries=0)
    >>> [r.value for r in ex.map(pow, [(2, 3), (3, 2)])]
    [8, 9]
    >>> handles = [ex.submit(pow, (2, k), name=f"two^{k}") for k in (1, 2, 3)]
    >>> [(h.name, h.result().value) for h in ex.as_completed(handles)]
    [('two^1', 2), ('two^2', 4), ('two^3', 8)]
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from archai.common.config import ConfigError
from archai.common.errors import StorageError, UserError, storage_cause
from archai.common.plugins import import_plugins


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
    fn: Callable[..., Any], args: tuple, max_retries: int, plugins: Sequence[str] = ()
) -> tuple[bool, Any, str | None, int]:
    """Imports ``plugins``, then calls ``fn(*args)`` up to ``1 + max_retries`` times; returns
    (ok, value, traceback, attempts).

    Executors run this where the job runs (in-process or in a Ray worker), so failures come back
    as data with the worker's full traceback. A :class:`UserError` (bad input, damaged or changed
    state) and a full or read-only disk (:class:`StorageError`) are raised at once instead: no
    attempt can succeed until the user acts, and the run stops with one line that says how.
    """
    error = None
    for attempt in range(1, max_retries + 2):
        try:
            import_plugins(plugins)
            return True, fn(*args), None, attempt
        except UserError:
            raise
        except Exception as e:  # noqa: BLE001 - reported to the caller with its traceback
            if (cause := storage_cause(e)) is not None:
                raise StorageError.of(cause) from e
            error = traceback.format_exc()
    return False, None, error, max_retries + 1


class JobHandle:
    """A submitted job. ``result()`` waits for it (a local executor runs it then) and returns
    its :class:`JobResult`; ``done()`` says whether it has finished, without waiting."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._result: JobResult | None = None

    def done(self) -> bool:
        return self._result is not None

    def result(self) -> JobResult:
        if self._result is None:
            self._result = self._wait()
        return self._result

    def _wait(self) -> JobResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, done={self.done()})"


class Executor:
    """Base class: runs ``fn(*args)`` jobs (:meth:`submit`, :meth:`as_completed`, :meth:`map`).

    Args:
        max_retries: a job that raises is run again this many times before it is reported failed.
        plugins: module names every job imports first (see :func:`~archai.common.plugins.load_plugins`).
    """

    kind = "base"

    def __init__(self, max_retries: int = 1, plugins: Sequence[str] = ()) -> None:
        self.max_retries = max_retries
        self.plugins = list(plugins)

    #: how many jobs a local executor runs at once (a search that keeps jobs in flight on it
    #: submits no more); Ray's comes from its resources
    slots: int = 1

    def now(self) -> float:
        """The clock a search's time budget is read on: wall-clock seconds here; a benchmark
        table's executor counts the training time it looked up (:mod:`archai.search.tabular`)."""
        return time.monotonic()

    def submit(self, fn: Callable[..., Any], args: tuple, name: str | None = None) -> JobHandle:
        """Starts ``fn(*args)`` (as resources allow) and returns its handle."""
        raise NotImplementedError

    def as_completed(self, handles: Iterable[JobHandle]) -> Iterator[JobHandle]:
        """Yields each handle once its job has finished, in the order they finish."""
        raise NotImplementedError

    def submit_training(self, job: Any, name: str, desc: Any = None) -> JobHandle:
        """Starts the :class:`~archai.search.jobs.TrainJob` ``job`` (``desc``: its description,
        where the caller has it); a benchmark table's executor looks it up instead."""
        from archai.search.jobs import run_train_job  # jobs build models: imported only when used

        return self.submit(run_train_job, job.as_args(), name=name)

    def map(
        self, fn: Callable[..., Any], arg_tuples: Sequence[tuple], names: Sequence[str] | None = None
    ) -> list[JobResult]:
        """Runs every job; results in the order of ``arg_tuples``."""
        names = list(names) if names is not None else [_default_name(fn, i) for i in range(len(arg_tuples))]
        handles = [self.submit(fn, args, name) for name, args in zip(names, arg_tuples)]
        return [h.result() for h in handles]

    def shutdown(self) -> None:
        """Releases resources (a Ray runtime this executor started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


def _default_name(fn: Callable[..., Any], i: int) -> str:
    return f"{getattr(fn, '__name__', type(fn).__name__)}[{i}]"


class _LocalHandle(JobHandle):
    def __init__(self, name: str, run: Callable[[], JobResult]) -> None:
        super().__init__(name)
        self._run = run

    def _wait(self) -> JobResult:
        return self._run()


class _FutureHandle(JobHandle):
    def __init__(self, name: str, future: Future) -> None:
        super().__init__(name)
        self._future = future

    def done(self) -> bool:
        return self._result is not None or self._future.done()

    def _wait(self) -> JobResult:
        return JobResult(self.name, *self._future.result())  # a UserError raised by the job re-raises


def _orphan_guard(parent: int) -> None:
    """Ends a worker process whose run has ended (killed, or gone without shutting it down), so
    that no orphan keeps training into a run folder that a resumed run now owns."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:  # the kernel kills this process when its parent dies
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="archai-orphan-guard").start()


def _start_worker(parent: int, threads: int) -> None:
    _orphan_guard(parent)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


class LocalExecutor(Executor):
    """Runs jobs on this machine: in this process one at a time, each when its result is first
    needed (``workers=1``), or ``workers`` at once in processes of their own.

    Args:
        workers: jobs trained at once; above 1, each runs in a spawned worker process (the
            pool starts with the first job and ends with :meth:`shutdown`).
        threads: PyTorch threads of each worker process (0: PyTorch's default); a job's own
            ``num_threads`` setting applies on top.
    """

    kind = "local"

    def __init__(
        self, max_retries: int = 1, plugins: Sequence[str] = (), *, workers: int = 1, threads: int = 0
    ) -> None:
        super().__init__(max_retries, plugins)
        if workers < 1:
            raise ValueError(f"executor.workers must be at least 1, got {workers}")
        self.workers, self.threads = int(workers), int(threads)
        self.slots = self.workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, fn, args, name=None):
        name = name or _default_name(fn, 0)
        if self.workers == 1:
            return _LocalHandle(
                name, lambda: JobResult(name, *run_with_retries(fn, args, self.max_retries, self.plugins))
            )
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),  # never fork a process running torch threads
                initializer=_start_worker,
                initargs=(os.getpid(), self.threads),
            )
        return _FutureHandle(
            name, self._pool.submit(run_with_retries, fn, args, self.max_retries, self.plugins)
        )

    def as_completed(self, handles):
        for h in list(handles):  # submission order, whatever finished first: runs stay deterministic
            h.result()
            yield h

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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
        plugins: Sequence[str] = (),
    ) -> None:
        super().__init__(max_retries, plugins)
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
        resources = ray.cluster_resources()
        fits = [resources.get("CPU", 1) / cpus_per_job] if cpus_per_job > 0 else []
        fits += [resources.get("GPU", 0) / gpus_per_job] if gpus_per_job > 0 else []
        self.slots = max(1, int(min(fits))) if fits else 1  # tasks that run at once
        self._remote = ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=max_retries)(
            run_with_retries
        )

    def submit(self, fn, args, name=None):
        name = name or _default_name(fn, 0)
        # Exceptions are retried inside the task (run_with_retries, which returns the traceback);
        # Ray's own max_retries re-runs tasks whose worker process died.
        ref = self._remote.options(name=name).remote(fn, args, self.max_retries, self.plugins)
        return _RayHandle(name, ref, self)

    def as_completed(self, handles):
        pending = {h._ref: h for h in handles}
        while pending:
            ready, _ = self._ray.wait(list(pending), num_returns=1)
            for ref in ready:
                handle = pending.pop(ref)
                handle.result()
                yield handle

    def _get(self, name: str, ref: Any) -> JobResult:
        try:
            return JobResult(name, *self._ray.get(ref))
        except Exception as e:  # noqa: BLE001 - the worker died on every attempt
            if isinstance(cause := getattr(e, "cause", None), UserError):
                raise cause from None  # raised by the job: the user must act (see run_with_retries)
            return JobResult(name, False, error=f"{type(e).__name__}: {e}", attempts=self.max_retries + 1)

    def shutdown(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


class _RayHandle(JobHandle):
    def __init__(self, name: str, ref: Any, executor: RayExecutor) -> None:
        super().__init__(name)
        self._ref, self._executor = ref, executor

    def done(self) -> bool:
        if self._result is None:
            ready, _ = self._executor._ray.wait([self._ref], timeout=0)
            return bool(ready)
        return True

    def _wait(self) -> JobResult:
        return self._executor._get(self.name, self._ref)


def check_executor(conf: Mapping[str, Any], timeout_s: float = 5.0) -> None:
    """Fails fast, before any work, on an executor that cannot start: Ray missing, or a
    ``ray_address`` where nothing answers (``ray.init`` would retry it for minutes). Raises
    :class:`~archai.common.config.ConfigError` naming the address.

    Example:
        >>> check_executor({"kind": "ray", "ray_address": "127.0.0.1:1"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        archai.common.config.ConfigError: executor.ray_address: nothing answers at 127.0.0.1:1 (...); ...
    """
    if conf["kind"] != "ray":
        return
    if importlib.util.find_spec("ray") is None:
        raise ConfigError("executor.kind: ray needs Ray: pip install 'archai[ray]'")
    address = str(conf.get("ray_address") or "")
    if not address or address in ("auto", "local"):  # found or started by Ray itself
        return
    host_port = address.split("://", 1)[-1].rsplit("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"executor.ray_address: {address!r} is not HOST:PORT or ray://HOST:PORT "
            f"(e.g. 127.0.0.1:6379, or auto for the cluster this machine started)"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConfigError(
            f"executor.ray_address: nothing answers at {address} ({e.strerror or e}); start the "
            f"cluster there (ray start --head) or correct the address"
        ) from None


def job_threads(num_threads: int, conf: Mapping[str, Any]) -> int:
    """The thread count of each job: the run's ``num_threads`` shared among the local executor's
    ``workers`` (at least one each); all of them for one worker or on Ray (where a task's
    threads follow its ``cpus_per_job``).

    Example:
        >>> job_threads(8, {"kind": "local", "workers": 2}), job_threads(2, {"kind": "local", "workers": 3})
        (4, 1)
    """
    workers = int(conf["workers"]) if conf["kind"] == "local" else 1
    return num_threads if workers <= 1 or num_threads <= 0 else max(1, num_threads // workers)


def make_executor(conf: Mapping[str, Any], plugins: Sequence[str] = (), threads: int = 0) -> Executor:
    """From the ``executor`` config section: ``kind`` (local/ray), ``workers`` (local), ``ray_address``,
    ``num_cpus``, ``cpus_per_job``, ``gpus_per_job``, ``max_retries``; ``plugins``: module names
    every job imports first (what :func:`~archai.common.plugins.load_plugins` returned).
    ``threads``: each local worker's thread count (see :func:`job_threads`)."""
    kind = conf["kind"]
    if kind == "local":
        return LocalExecutor(
            max_retries=int(conf["max_retries"]),
            plugins=plugins,
            workers=int(conf["workers"]),
            threads=threads,
        )
    if kind == "ray":
        return RayExecutor(
            conf["ray_address"] or None,
            num_cpus=int(conf["num_cpus"]),
            cpus_per_job=float(conf["cpus_per_job"]),
            gpus_per_job=float(conf["gpus_per_job"]),
            max_retries=int(conf["max_retries"]),
            plugins=plugins,
        )
    raise ValueError(f"executor.kind must be 'local' or 'ray', got '{kind}'")
