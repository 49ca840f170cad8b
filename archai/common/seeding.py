"""Seeding, seeds derived for each purpose, and capturing/restoring every generator a run uses.

Every random stream of a run comes from the run's seed and a name for what it is for, so two
streams never share numbers by accident and no code holds magic offsets:

    >>> derive_seed(2, "darts/arch batches/epoch 0") == derive_seed(2, "darts/arch batches/epoch 0")
    True
    >>> derive_seed(2, "a") != derive_seed(2, "b") and derive_seed(2, "a") != derive_seed(3, "a")
    True
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import torch


def derive_seed(seed: int, purpose: str) -> int:
    """A seed in ``[0, 2**31)`` for ``purpose`` (any text that names the stream), derived from
    the run's ``seed`` by hashing; stable across processes, machines and Python versions."""
    digest = hashlib.sha256(f"{int(seed)}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**31


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and PyTorch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_states() -> dict[str, Any]:
    """All RNG states as tensors/plain values, loadable with ``torch.load(weights_only=True)``."""
    py = random.getstate()
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restores what :func:`rng_states` captured."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    n = states["numpy"]
    np.random.set_state(
        ("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
