"""Time spent on a stage of a run, summed over every session that worked on it.

A run may be killed and resumed many times; its ``search_seconds`` should be the time the
search took in all, not the time of the last session. :class:`SavedStopwatch` keeps the total in
a JSON file (one key per stage), rewritten every ``every_s`` seconds by a background thread and
when the stage ends, so a session killed without warning loses at most ``every_s`` seconds.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "timing.json"
    >>> with SavedStopwatch(path, "search_seconds") as clock:
    ...     pass
    >>> with SavedStopwatch(path, "search_seconds") as again:  # a second session adds to it
    ...     pass
    >>> again.seconds >= round(clock.seconds, 3)
    True
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from archai.common.jsonio import read_state, write_json


class SavedStopwatch:
    """Adds the time spent inside ``with`` to ``path[key]``; ``seconds`` is the running total.

    A ``path`` that cannot be read is set aside and the total starts from zero; ``notes`` (when
    given) gets a line saying so, for the caller to report."""

    def __init__(
        self, path: str | Path, key: str, every_s: float = 1.0, notes: list[str] | None = None
    ) -> None:
        self.path, self.key, self.every_s, self.notes = Path(path), key, every_s, notes
        self._prior = 0.0
        self._start = time.monotonic()
        self._end: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _read(self) -> dict[str, Any]:
        data = read_state(self.path, self.notes, "earlier sessions' time is not counted")
        return data if isinstance(data, dict) else {}

    @property
    def session_seconds(self) -> float:
        """The time spent inside ``with`` in this session alone."""
        return (self._end or time.monotonic()) - self._start

    @property
    def seconds(self) -> float:
        """Earlier sessions' total plus :attr:`session_seconds`."""
        return self._prior + self.session_seconds

    def save(self) -> None:
        with self._lock:
            data = self._read()
            data[self.key] = round(self.seconds, 3)
            write_json(self.path, data)

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.save()
            except OSError:  # a full disk: the stage itself meets it and reports it as one line
                return

    def __enter__(self) -> SavedStopwatch:
        self._prior = float(self._read().get(self.key) or 0.0)
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._tick, name=f"stopwatch:{self.key}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self._end = time.monotonic()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.save()
        except OSError:
            if exc_type is None:
                raise
            # the error that ends the stage is the one to report (a full disk is also that one)
