"""Errors a user causes and can fix, told apart from bugs.

Every exception derived from :class:`UserError` carries a message that names the file, key or
name at fault and what to do about it. ``scripts/main.py`` prints such an error as one line and
exits with status 2 (``--debug`` shows the traceback too); any other exception is a bug and keeps
its traceback.

Example:
    >>> err = DamagedStateError("runs/toy/random/summary.json", "delete it and pass --resume")
    >>> str(err)
    'cannot read runs/toy/random/summary.json; delete it and pass --resume'
    >>> isinstance(UnknownNameError("unknown op 'conv9'"), KeyError)
    True
    >>> full = OSError(errno.ENOSPC, "No space left on device", "runs/x/ckpt.pt")
    >>> print(StorageError.of(full))  # doctest: +ELLIPSIS
    no space left on device writing runs/x/ckpt.pt; free some space (...), then run the same command with --resume: ...
"""

from __future__ import annotations

import errno
from pathlib import Path

#: errors of the storage, not of the work: retrying a job cannot help, and the user must act
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


class UserError(Exception):
    """Bad input or damaged state that the user can fix; the message says how."""


class UnknownNameError(UserError, KeyError):
    """A name (op, searcher, dataset, ...) that no registry holds; still a ``KeyError`` for callers
    that look names up, but printed as a plain sentence."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DamagedStateError(UserError):
    """A state file of a run (result, checkpoint, search state) exists but cannot be read.

    Args:
        path: the file.
        way_out: what the user can do, e.g. "delete its job folder and pass --resume".
        reason: what reading it raised (optional).
    """

    def __init__(self, path: str | Path, way_out: str, reason: str | None = None) -> None:
        self.path = Path(path)
        self.way_out = way_out
        self.reason = reason
        why = f" ({reason})" if reason else ""
        super().__init__(f"cannot read {path}{why}; {way_out}")

    def __reduce__(self):  # pickled with its own arguments, so a Ray worker can send it back
        return type(self), (self.path, self.way_out, self.reason)


class StorageError(UserError, OSError):
    """The disk is full or read-only: no job can succeed until the user frees space or moves
    the run. Not retried; reported as one line naming the file."""

    @classmethod
    def of(cls, e: OSError) -> StorageError:
        where = f" writing {e.filename}" if e.filename else ""
        what = (e.strerror or str(e)).lower()
        fix = (
            "copy the run folder somewhere writable and pass that as --exp-dir"
            if e.errno == errno.EROFS
            else "free some space (or choose another --exp-dir)"
        )
        return cls(
            e.errno, f"{what}{where}; {fix}, then run the same command with --resume: finished work is kept"
        )

    def __str__(self) -> str:
        return str(self.strerror)


def storage_cause(e: BaseException) -> OSError | None:
    """The ``OSError`` of a full or read-only disk (see :data:`STORAGE_ERRNOS`) that ``e`` is or
    was raised from (libraries wrap it: ``torch.save`` on a full disk raises a ``RuntimeError``
    while handling one), else None."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in STORAGE_ERRNOS:
            return e
        e = e.__cause__ or e.__context__
    return None


def is_storage_error(e: BaseException) -> bool:
    """True when :func:`storage_cause` finds a full or read-only disk behind ``e``."""
    return storage_cause(e) is not None
