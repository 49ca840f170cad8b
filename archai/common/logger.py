"""The run logger: nested scopes, a JSON-lines event log, a readable console and TensorBoard.

One :class:`RunLogger` is made per run and passed to whatever needs it; there is no global
logger. Every event is one JSON object per line in ``events.jsonl``::

    {"time": 1764316800.1, "scope": "search/epoch", "kind": "metrics",
     "fields": {"epoch": 3}, "data": {"train/loss": 0.71, "train/top1": 0.74}}

so a notebook can read a run with ``[json.loads(l) for l in open(".../events.jsonl")]``.

Example:
    >>> import tempfile
    >>> log = RunLogger(tempfile.mkdtemp(), console=False, tensorboard=False)
    >>> with log.scope("search", epoch=3):
    ...     log.metrics({"train/loss": 0.5}, step=3)
    >>> log.close()
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from archai.common.errors import UserError, is_storage_error

T = TypeVar("T")

# Events that record a result under an identity (a candidate's id, a final training's candidate,
# a grown child): when a resumed run replays a finished result, the event is written again with
# ``"replayed": true`` (and kept off the console), so each result is counted once.
_RESULT_KINDS = {"candidate": "id", "eval_result": "candidate", "grow": "child"}

# "progress" sits between info and warning so that a job's logger can show its heartbeat lines
# (and warnings) on the console without its per-epoch metrics.
_LEVELS = {"debug": 10, "info": 20, "metrics": 20, "progress": 25, "warning": 30, "error": 40}


def _jsonable(value: Any) -> Any:
    """Converts tensors, numpy values and paths to plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return _jsonable(value.item())
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)


class RunLogger:
    """Logs one run to ``run_dir``: ``events.jsonl``, ``console.log`` and ``tb/``.

    Args:
        run_dir: folder for the log files (created); ``None`` logs to the console only.
        console: print readable lines to stderr (``console.log`` is written regardless).
        tensorboard: write scalars to ``run_dir/tb`` (needs the ``tensorboard`` package).
        quiet: no console lines below warnings and no progress bars.
        progress: ``"auto"`` shows tqdm bars when stderr is a terminal; ``True``/``False`` force.
    """

    def __init__(
        self,
        run_dir: str | Path | None,
        *,
        console: bool = True,
        tensorboard: bool = True,
        quiet: bool = False,
        progress: bool | str = "auto",
        level: str = "info",
    ) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.console = console
        self.quiet = quiet
        self.level = _LEVELS[level]
        self._scopes: list[tuple[str, dict]] = []
        self._events = self._console_file = None
        self._tb = None
        self._recorded: set[tuple[str, str]] = set()  # results logged by earlier sessions
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._recorded = _recorded_results(self.run_dir / "events.jsonl")
            self._events = _open_lines(self.run_dir / "events.jsonl")
            self._console_file = _open_lines(self.run_dir / "console.log")
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(self.run_dir / "tb"))
        if progress == "auto":
            progress = sys.stderr.isatty()
        self.show_progress = bool(progress) and not quiet
        self.last_progress = time.monotonic()  # when the last progress line was written

    # ------------------------------------------------------------------ scopes

    @contextlib.contextmanager
    def scope(self, name: str, **fields: Any) -> Iterator[RunLogger]:
        """Nests following events under ``name`` (scopes join with ``/``)."""
        self._scopes.append((name, fields))
        self.event("begin", level="debug")
        start = time.time()
        try:
            yield self
        except BaseException as e:
            self.exception(e)
            raise
        finally:
            # while an error propagates, a failed write (a full disk) must not replace it
            with contextlib.suppress(OSError) if sys.exc_info()[0] else contextlib.nullcontext():
                self.event("end", level="debug", seconds=round(time.time() - start, 3))
            self._scopes.pop()

    def exception(self, e: BaseException) -> None:
        """Logs an exception that ends a scope or a run as an ``error`` event (``interrupted``
        for Ctrl-C), once (the innermost scope it passes through logs it). Anything but a
        :class:`UserError`, Ctrl-C or a full or read-only disk carries its traceback; those stay
        off the console (whoever reports them, the CLI, prints them once, as one line)."""
        if getattr(e, "_archai_logged", False):
            return
        # a user error, Ctrl-C and a full or read-only disk are told to the user as one line
        user = isinstance(e, (UserError, KeyboardInterrupt)) or is_storage_error(e)
        # the traceback goes to events.jsonl; the console gets Python's own as the error propagates
        fields = {} if user else {"raised": True, "traceback": "".join(traceback.format_exception(e))}
        kind = "interrupted" if isinstance(e, KeyboardInterrupt) else "error"
        with contextlib.suppress(OSError):  # a full disk must not hide the error being logged
            self.event(kind, level="debug" if user else "error", message=f"{type(e).__name__}: {e}", **fields)
        with contextlib.suppress(AttributeError, TypeError):
            e._archai_logged = True  # type: ignore[attr-defined]

    @property
    def scope_path(self) -> str:
        return "/".join(name for name, _ in self._scopes)

    def _fields(self) -> dict:
        out: dict = {}
        for _, f in self._scopes:
            out.update(f)
        return out

    # ------------------------------------------------------------------ events

    def event(self, kind: str, *, level: str = "info", data: Mapping | None = None, **fields: Any):
        """Writes one structured event; ``fields`` are merged with the enclosing scopes' fields.

        A result event (``candidate``, ``eval_result``, ``grow``) whose identity an earlier
        session of this run already logged gets ``replayed: true`` and stays off the console."""
        if kind in _RESULT_KINDS and (ident := fields.get(_RESULT_KINDS[kind])) is not None:
            if (kind, str(ident)) in self._recorded:
                fields = {**fields, "replayed": True}
                level = "debug"
            self._recorded.add((kind, str(ident)))
        record = {
            "time": round(time.time(), 3),
            "scope": self.scope_path,
            "kind": kind,
            "fields": _jsonable({**self._fields(), **fields}),
        }
        if data is not None:
            record["data"] = _jsonable(data)
        if self._events is not None:
            self._events.write(json.dumps(record) + "\n")
        if kind in ("begin", "end"):
            return
        text = self._format(record)
        if self._console_file is not None:
            self._console_file.write(text + "\n")
        if self.console and _LEVELS[level] >= self.level and (not self.quiet or _LEVELS[level] >= 30):
            self._write_console(text)

    def _format(self, record: Mapping) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record["time"]))
        where = f"[{record['scope']}] " if record["scope"] else ""
        fields = dict(record["fields"])
        if fields.pop("raised", False):
            fields.pop("traceback", None)
        msg = fields.pop("message", "")
        parts = [f"{stamp} {where}{record['kind'] if record['kind'] != 'info' else ''}".rstrip()]
        if msg:
            parts.append(str(msg))
        if record.get("data"):
            parts.append(
                " ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record["data"].items()
                )
            )
        own = {k: v for k, v in fields.items() if k not in self._scopes_fields_keys()}
        if own:
            parts.append(" ".join(f"{k}={v}" for k, v in own.items()))
        return " ".join(parts)

    def _scopes_fields_keys(self) -> set:
        return {k for _, f in self._scopes for k in f}

    def _write_console(self, text: str) -> None:
        if self.show_progress:
            from tqdm import tqdm

            tqdm.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def info(self, message: str, **fields: Any) -> None:
        self.event("info", message=message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.event("warning", level="warning", message=message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.event("error", level="error", message=message, **fields)

    def metrics(self, values: Mapping[str, Any], *, step: int | None = None, **fields: Any) -> None:
        """Logs a dict of scalars: one event, plus a TensorBoard scalar each when ``step`` is set.

        TensorBoard tags are the keys prefixed by the current scope, e.g. ``search/train/loss``.
        """
        self.event("metrics", data=values, **({"step": step} if step is not None else {}), **fields)
        if self._tb is not None and step is not None:
            prefix = self.scope_path
            for k, v in values.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(f"{prefix}/{k}" if prefix else k, v, step)

    # ------------------------------------------------------------------ progress

    def progress(
        self, iterable: Iterable[T], *, total: int | None = None, desc: str = "", every_s: float = 0.0
    ) -> Progress[T]:
        """Wraps ``iterable`` for progress reports: a tqdm bar when bars are on, else (when
        ``every_s`` > 0) a ``progress`` line every ``every_s`` seconds on the console and in
        ``console.log``, so that a slow run and a stuck one look different in CI or under nohup.
        Report figures (loss, images/s) with :meth:`Progress.set_stats`.

        Example:
            >>> log = RunLogger(None, console=False)
            >>> bar = log.progress(range(3), total=3, desc="train 1/2", every_s=30)
            >>> for step in bar:
            ...     bar.set_stats(loss=0.5)
            >>> bar.n
            3
        """
        return Progress(self, iterable, total=total, desc=desc, every_s=every_s)

    # ------------------------------------------------------------------ lifetime

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        for f in (self._events, self._console_file):
            if f is not None:
                with contextlib.suppress(OSError):  # nothing is left to flush on a full disk
                    f.close()
        self._events = self._console_file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Progress(Generic[T]):
    """An iterable that reports how far a loop has got (see :meth:`RunLogger.progress`)."""

    def __init__(
        self, logger: RunLogger, iterable: Iterable[T], *, total: int | None, desc: str, every_s: float
    ) -> None:
        self.logger, self.iterable, self.total, self.desc = logger, iterable, total, desc
        self.every_s = float(every_s)
        self.n = 0
        self.stats: dict[str, Any] = {}
        self._bar = None
        if logger.show_progress:
            from tqdm import tqdm

            self._bar = tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)

    def set_stats(self, **stats: Any) -> None:
        """The latest figures of the loop (e.g. ``loss=0.41, images_per_s=812``), shown in the
        bar or in the next progress line."""
        self.stats = stats
        if self._bar is not None:
            self._bar.set_postfix({k: _short(v) for k, v in stats.items()}, refresh=False)

    def __iter__(self) -> Iterator[T]:
        if self._bar is not None:
            for item in self._bar:
                yield item
                self.n += 1
            return
        start = time.monotonic()
        for item in self.iterable:
            yield item
            self.n += 1
            now = time.monotonic()
            # the interval runs across loops (epochs shorter than it still get reported)
            if self.every_s > 0 and now - self.logger.last_progress >= self.every_s:
                self.logger.last_progress = now
                self.report(now - start)

    def report(self, seconds: float) -> None:
        """Writes one ``progress`` line: where the loop is, its figures and the time spent."""
        of = f"/{self.total}" if self.total is not None else ""
        self.logger.event(
            "progress",
            level="progress",
            data={**self.stats, "seconds": round(seconds, 1)},
            message=f"{self.desc} step {self.n}{of}",
        )


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


def _open_lines(path: Path):
    """``path`` opened for appending lines. A file whose last line was cut short (a session
    killed mid-write) first gets a newline, so the next line starts on its own."""
    f = open(path, "a+b", buffering=0)
    if f.tell() > 0:
        f.seek(-1, 2)
        if f.read(1) != b"\n":
            f.write(b"\n")
    f.close()
    return open(path, "a", buffering=1)


def _recorded_results(path: Path) -> set[tuple[str, str]]:
    """(kind, identity) of the result events already in ``path``; lines that do not parse (a
    session killed mid-write) are skipped."""
    out: set[tuple[str, str]] = set()
    if not path.is_file():
        return out
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
            key = _RESULT_KINDS.get(record["kind"])
            if key and key in record["fields"]:
                out.add((record["kind"], str(record["fields"][key])))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def read_events(path: str | Path) -> list[dict]:
    """Reads an ``events.jsonl`` file (or the run folder holding one) into a list of dicts; a
    line cut short by a killed process is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "events.jsonl"
    out = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out
