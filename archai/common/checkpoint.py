"""Atomic, safely loadable checkpoints."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from archai.common.errors import DamagedStateError


class CheckpointError(DamagedStateError):
    """A checkpoint exists but cannot be read; the message names the file and the way out."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Writes ``state`` to ``path`` atomically: a temporary file in the same folder, then rename.

    A crash mid-write leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True``: tensors and plain containers, never code."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, MemoryError):
        raise  # a missing file, an I/O error or no memory: not damage, never set a file aside for it
    except Exception as e:  # truncated or foreign file
        raise CheckpointError(
            path,
            "delete it to start that stage afresh, then --resume",
            f"{type(e).__name__}: {_first_sentence(e)}",
        ) from e


def _first_sentence(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text.split(". ")[0]
