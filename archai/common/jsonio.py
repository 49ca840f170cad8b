"""JSON state files: written atomically with NaN/inf as null (any JSON reader accepts them), read
back with an error that names a damaged file, and damaged files set aside rather than deleted.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "result.json"
    >>> _ = write_json(p, {"val_top1": float("nan")})
    >>> read_json(p, way_out="delete it")
    {'val_top1': None}
    >>> _ = p.write_text('{"val_top1": 0.')   # cut in half
    >>> read_json(p, way_out="delete it")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    archai.common.errors.DamagedStateError: cannot read .../result.json (...); delete it
    >>> set_aside(p).name
    'result.json.damaged'
    >>> inside(p.parent, "../../etc/passwd", source=p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    archai.common.errors.DamagedStateError: cannot read .../result.json (it names ../../etc/passwd, outside ...
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archai.common.errors import DamagedStateError


def json_safe(value: Any) -> Any:
    """Nested dicts/lists with non-finite floats replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def short_digest(data: Any) -> str:
    """16 hex digits of the SHA-256 of ``data`` as canonical JSON (keys sorted; values JSON
    cannot hold are written as ``str``): equal for equal plain data, whatever the key order.

    >>> short_digest({"b": 1, "a": [2]}) == short_digest({"a": [2], "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tree_diff(
    a: Any, b: Any, skip: Callable[[tuple, Any], bool] | None = None, path: tuple = ()
) -> list[str]:
    """``"key.path: old -> new"`` for every leaf where two nested dicts differ, in key order;
    ``skip(path, old)`` leaves a key (and what is under it) out.

    >>> tree_diff({"t": {"epochs": 1, "lr": 0.1}}, {"t": {"epochs": 2, "lr": 0.1}})
    ['t.epochs: 1 -> 2']
    """
    if skip is not None and path and skip(path, a):
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in tree_diff(a.get(k), b.get(k), skip, (*path, k))]
    return [] if a == b else [f"{'.'.join(map(str, path))}: {a!r} -> {b!r}"]


def write_json(path: str | Path, data: Any) -> Path:
    """Writes ``data`` to ``path`` via a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(json_safe(data), indent=1, allow_nan=False))
    os.replace(tmp, path)
    return path


def read_json(path: str | Path, *, way_out: str) -> Any:
    """Loads a JSON state file; a file that cannot be parsed raises :class:`DamagedStateError`
    naming it and ``way_out`` (what the user can do). A missing file raises ``FileNotFoundError``."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise DamagedStateError(path, way_out, f"{type(e).__name__}: {e}") from None


def set_aside(path: str | Path) -> Path:
    """Renames a damaged file to ``NAME.damaged`` (kept for inspection, out of the way of a
    re-run); returns the new path."""
    path = Path(path)
    target = path.with_name(path.name + ".damaged")
    os.replace(path, target)
    return target


def read_state(path: str | Path, notes: list[str] | None, then: str) -> Any:
    """A JSON state file of a run, or None when it is missing or cannot be read. A damaged file
    is set aside (:func:`set_aside`) and ``notes`` gets one line naming it and ``then``, what
    happens instead (e.g. "the job runs again")."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return read_json(path, way_out=then)
    except DamagedStateError as e:
        moved = set_aside(path)
        if notes is not None:
            notes.append(f"{path} could not be read ({e.reason}); kept as {moved.name}, {then}")
        return None


def inside(folder: str | Path, stored: str | Path, *, source: str | Path) -> Path:
    """``folder / stored`` for a path read from a state file (``source``) of a run folder. A path
    that leads outside ``folder`` (absolute, or climbing out with ``..``) raises
    :class:`DamagedStateError`: a run folder only ever writes paths relative to itself, so such
    a path means the file was edited or damaged, and nothing outside is read or written. (The
    check is on the path as written: a link the user made inside the folder, e.g. ``jobs/`` on
    another disk, is followed.)"""
    parts = Path(os.path.normpath(stored)).parts
    if Path(stored).is_absolute() or not parts or parts[0] == "..":
        raise DamagedStateError(
            source,
            "restore it, or rerun in a new --exp-dir",
            f"it names {stored}, outside the run folder {folder}",
        )
    return Path(folder) / stored
