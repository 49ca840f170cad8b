"""A lock on an experiment folder, held by the live process that works in it.

Two processes training into one folder slow each other to a crawl and interleave their state
files. :class:`FolderLock` takes an exclusive ``flock`` on ``FOLDER/.archai.lock`` and writes who
holds it (pid, host, start time). The operating system drops the lock when its process ends, even
on SIGKILL, so a folder left by a dead run is taken over without any clean-up; a folder in use is
refused with a :class:`FolderLockedError` that says which process has it.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder):
    ...     FolderLock(folder).acquire()
    Traceback (most recent call last):
    ...
    archai.common.runlock.FolderLockedError: ...
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from archai.common.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no flock; the holder's record is still written and shown
    fcntl = None

LOCK_NAME = ".archai.lock"


class FolderLockedError(UserError):
    """Another live process works in this folder."""


class FolderNotWritableError(UserError):
    """The folder is on a read-only file system or not ours to write."""


class FolderLock:
    """Exclusive use of ``folder`` by this process (a context manager; re-entrant it is not)."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            raise FolderNotWritableError(
                f"cannot write in {self.path.parent} ({e.strerror}): a run folder must be writable "
                f"to run or resume in it; copy it somewhere writable and pass that as --exp-dir"
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    warnings.warn(
                        f"{self.path}: no lock on this file system ({e.strerror}); run one process at a time",
                        stacklevel=2,
                    )
                    self._fd = fd
                    return self
                holder = _read_holder(fd)
                os.close(fd)
                who = (
                    f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('started')}"
                    if holder
                    else "another process"
                )
                raise FolderLockedError(
                    f"{self.path.parent} is in use by {who}; wait for it to finish or stop it, "
                    f"or choose another --exp-dir"
                ) from None
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            if fcntl is not None:
                with contextlib.suppress(OSError):  # a file system without flock
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
