"""Tabular benchmarks: every architecture of a finite space trained once (or over seeds), stored so
that a search can look its training up instead of running it.

A :class:`BenchmarkTable` holds, for each architecture (keyed by the space's ``digest``), the
validation accuracy after every epoch and seed, the test accuracy at the last epoch, the
cumulative training seconds per epoch, parameters and MACs, and the settings that produced it.
It is stored as a NumPy ``.npz`` archive read with ``allow_pickle=False`` (safe to open from
anyone), versioned, and tied to its space by :func:`space_key` (the space's name, options and
shape), so a table built for one space is refused by another.

Example:
    >>> import tempfile, pathlib
    >>> from archai.space.spaces import make_space
    >>> space = make_space("nb201", shape={"n_classes": 10})
    >>> t = BenchmarkTable.empty(space, epochs=2, seeds=1, settings={"protocol": "toy"})
    >>> t.add("a1", val=[[0.5, 0.7]], test=[0.68], seconds=[[1.0, 2.0]], params=100, macs=1e4)
    >>> p = t.save(pathlib.Path(tempfile.mkdtemp()) / "t.npz")
    >>> u = BenchmarkTable.load(p, space)
    >>> r = u.lookup("a1", epoch=1)
    >>> r["val_top1"], r["train_seconds"], r["params"]
    (0.5, 1.0, 100)
    >>> u.lookup("zz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    archai.search.table.UnknownArchitectureError: architecture 'zz' is not in the table .../t.npz ...
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from archai.common.errors import UserError
from archai.common.jsonio import short_digest

#: the layout version this code writes; a table of another version is refused with a message
FORMAT_VERSION = 1


class TableError(UserError, ValueError):
    """A table file that cannot be used: damaged, of another version, or of another space."""


class UnknownArchitectureError(TableError, KeyError):
    """An architecture the table does not hold."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def space_key(space: Any) -> str:
    """A short digest of what makes a space's architectures mean the same: its name, its options
    and the network it builds (the digest of a reference architecture, which holds the stem,
    channels, image size and classes; shape keys the space does not use change nothing)."""
    ref = next(iter(space.enumerate())) if space.supports("enumerate") else space.sample(random.Random(0))
    return short_digest(
        {"name": space.name, "options": space.options.to_dict(), "reference": space.digest(ref)}
    )


def table_meta(space: Any, epochs: int, seeds: int, settings: Mapping[str, Any] | None = None) -> dict:
    """The ``meta`` record of a table of ``space`` at ``epochs`` epochs over ``seeds`` seeds."""
    if epochs < 1 or seeds < 1:
        raise TableError(f"a table needs epochs >= 1 and seeds >= 1, not {epochs} and {seeds}")
    return {
        "version": FORMAT_VERSION,
        "space": space.name,
        "space_key": space_key(space),
        "epochs": int(epochs),
        "seeds": int(seeds),
        "settings": dict(settings or {}),
    }


class BenchmarkTable:
    """Per-architecture training records of one space; see the module docstring.

    Arrays (``n`` architectures, ``s`` seeds, ``e`` epochs): ``val[n, s, e]`` and
    ``seconds[n, s, e]`` (cumulative train time after each epoch), ``test[n, s]`` (after the last
    epoch), ``params[n]``, ``macs[n]``. A missing record is NaN.
    """

    def __init__(
        self,
        meta: Mapping[str, Any],
        keys: Sequence[str],
        val: np.ndarray,
        test: np.ndarray,
        seconds: np.ndarray,
        params: np.ndarray,
        macs: np.ndarray,
        path: Path | None = None,
    ) -> None:
        self.meta = dict(meta)
        self.keys = list(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.val, self.test, self.seconds = val, test, seconds
        self.params, self.macs = params, macs
        self.path = path
        if len(self.index) != len(self.keys):
            raise TableError(f"table {self._where()}: an architecture key appears twice")

    # ------------------------------------------------------------------ building

    @classmethod
    def empty(
        cls,
        space: Any,
        epochs: int,
        seeds: int = 1,
        settings: Mapping[str, Any] | None = None,
        keys: Sequence[str] = (),
    ) -> BenchmarkTable:
        """A table for ``space`` at ``epochs`` epochs over ``seeds`` with no record yet: no
        architecture, or a NaN row for each of ``keys`` (filled in place as trainings finish)."""
        meta = table_meta(space, epochs, seeds, settings)
        n = len(keys)
        nan = np.full((n, seeds, epochs), np.nan, dtype=np.float32)
        return cls(meta, keys, nan, nan[:, :, 0].copy(), nan.copy(), np.zeros(n, np.int64), np.zeros(n))

    def add(
        self,
        key: str,
        val: Sequence[Sequence[float]],
        test: Sequence[float],
        seconds: Sequence[Sequence[float]],
        params: int,
        macs: float,
    ) -> None:
        """Record one architecture: ``val`` and ``seconds`` per seed and epoch, ``test`` per seed
        (use NaN for a seed not trained)."""
        shape = (self.n_seeds, self.n_epochs)
        v, s = np.asarray(val, np.float32), np.asarray(seconds, np.float32)
        t = np.asarray(test, np.float32)
        if v.shape != shape or s.shape != shape or t.shape != (self.n_seeds,):
            raise TableError(
                f"architecture {key!r}: expected val and seconds of shape {shape} and test of "
                f"({self.n_seeds},), got {v.shape}, {s.shape} and {t.shape}"
            )
        if key in self.index:
            raise TableError(f"architecture {key!r} is already in the table")
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.val = np.concatenate([self.val, v[None]])
        self.seconds = np.concatenate([self.seconds, s[None]])
        self.test = np.concatenate([self.test, t[None]])
        self.params = np.append(self.params, np.int64(params))
        self.macs = np.append(self.macs, float(macs))

    # ------------------------------------------------------------------ files

    def save(self, path: str | Path) -> Path:
        """Write the table to ``path`` (``.npz``), atomically; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
            keys=np.array(self.keys, dtype=str),
            val=self.val,
            test=self.test,
            seconds=self.seconds,
            params=self.params,
            macs=self.macs,
        )
        os.replace(tmp, path)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path, space: Any | None = None) -> BenchmarkTable:
        """Read a table (never unpickles); with ``space``, refuse a table built for another."""
        path = Path(path)
        if not path.is_file():
            raise TableError(f"no benchmark table at {path}; build one with scripts/build_benchmark.py")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in ("keys", "val", "test", "seconds", "params", "macs")}
        except (OSError, ValueError, KeyError) as e:
            raise TableError(f"cannot read the benchmark table {path} ({e}); rebuild it") from e
        if meta.get("version") != FORMAT_VERSION:
            raise TableError(
                f"the benchmark table {path} has format version {meta.get('version')}; this Archai "
                f"reads version {FORMAT_VERSION}: rebuild it with scripts/build_benchmark.py"
            )
        table = cls(meta, [str(k) for k in arrays.pop("keys")], path=path, **arrays)
        n, shape = len(table.keys), (table.n_seeds, table.n_epochs)
        if (
            table.val.shape != (n, *shape)
            or table.seconds.shape != (n, *shape)
            or table.test.shape != (n, shape[0])
        ):
            raise TableError(f"the benchmark table {path} is damaged (array shapes disagree); rebuild it")
        if space is not None:
            table.check_space(space)
        return table

    def check_space(self, space: Any) -> None:
        """Raise unless the table was built for ``space`` (same name, options and shape)."""
        if self.meta["space_key"] != space_key(space):
            raise TableError(
                f"the benchmark table {self._where()} was built for the {self.meta['space']} space "
                f"with other options or shape (key {self.meta['space_key']}) than this run's "
                f"{space.name} space ({space_key(space)}); give the settings it was built with "
                f"({self.meta['settings']}) or build a table for these"
            )

    # ------------------------------------------------------------------ queries

    @property
    def n_epochs(self) -> int:
        return int(self.meta["epochs"])

    @property
    def n_seeds(self) -> int:
        return int(self.meta["seeds"])

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self.index

    def lookup(self, key: str, epoch: int | None = None, seed: int = 0) -> dict[str, Any]:
        """What training ``key`` for ``epoch`` epochs (default: all) with the table's ``seed``
        gave: ``val_top1``, ``train_seconds`` (that many epochs' time), ``test_top1`` (only
        at the last epoch, else None), ``params``, ``macs``."""
        if key not in self.index:
            raise UnknownArchitectureError(
                f"architecture {key!r} is not in the table {self._where()} ({len(self)} architectures "
                f"of the {self.meta['space']} space); the table holds only what it was built with"
            )
        epoch = self.n_epochs if epoch is None else int(epoch)
        if not 1 <= epoch <= self.n_epochs:
            raise TableError(f"the table {self._where()} holds epochs 1..{self.n_epochs}, not {epoch}")
        if not 0 <= seed < self.n_seeds:
            raise TableError(f"the table {self._where()} holds seeds 0..{self.n_seeds - 1}, not {seed}")
        i = self.index[key]
        val = float(self.val[i, seed, epoch - 1])
        if np.isnan(val):
            raise TableError(
                f"the table {self._where()} has no record of {key!r} for seed {seed} at epoch {epoch} "
                f"(its source did not measure it there)"
            )
        last = epoch == self.n_epochs
        return {
            "val_top1": val,
            "test_top1": float(self.test[i, seed]) if last else None,
            "train_seconds": float(self.seconds[i, seed, epoch - 1]),
            "params": int(self.params[i]),
            "macs": float(self.macs[i]),
            "epochs": epoch,
        }

    def mean_test(self) -> np.ndarray:
        """Each architecture's test accuracy at the last epoch, averaged over the seeds it has."""
        return np.nanmean(self.test, axis=1)

    def oracle(self) -> tuple[str, float]:
        """The architecture with the best mean test accuracy, and that accuracy."""
        scores = self.mean_test()
        i = int(np.nanargmax(scores))
        return self.keys[i], float(scores[i])

    def rank(self, key: str) -> int:
        """``key``'s rank by mean test accuracy among the table's architectures (1 = best)."""
        self.lookup(key)
        scores = self.mean_test()
        return int(np.sum(scores > scores[self.index[key]])) + 1

    def repeatability(self, seeds: tuple[int, int] = (0, 1), metric: str = "test") -> dict[str, float]:
        """How far two of the table's seeds agree, over the architectures trained with both:
        Kendall's tau and Spearman's rho between their ``metric`` (``test``, or ``val`` at the
        last epoch), the mean and largest absolute difference of an architecture's figure, the
        mean standard deviation of each architecture over all its seeds, and the standard
        deviation of the architectures' mean figures (the spread a search can exploit)."""
        from archai.search.stats import rank_correlation

        a = self.test if metric == "test" else self.val[:, :, -1]
        if max(seeds) >= self.n_seeds:
            raise TableError(f"the table {self._where()} has {self.n_seeds} seed(s); repeatability needs two")
        both = ~np.isnan(a[:, seeds[0]]) & ~np.isnan(a[:, seeds[1]])
        x, y = a[both, seeds[0]].astype(float), a[both, seeds[1]].astype(float)
        if len(x) < 3:
            raise TableError(f"the table {self._where()} has {len(x)} architecture(s) with both seeds")
        rows = a[both].astype(float)
        agree = rank_correlation(x, y)
        return {
            "architectures": int(len(x)),
            "kendall_tau": agree["kendall"],
            "spearman": agree["spearman"],
            "mean_abs_diff": float(np.mean(np.abs(x - y))),
            "max_abs_diff": float(np.max(np.abs(x - y))),
            "seed_std": float(np.mean(np.nanstd(rows, axis=1, ddof=1))),
            "arch_std": float(np.std(np.nanmean(rows, axis=1), ddof=1)),
        }

    def _where(self) -> str:
        return str(self.path) if self.path else "(not saved)"
