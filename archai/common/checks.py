"""Value checks for configs: ranges and allowed names, applied before any work starts.

The schema (``confs/base.yaml``) fixes which keys exist and their types; these rules add what a
type cannot say: ``epochs >= 1``, ``0 <= val_fraction < 1``, ``optimizer.name`` one of a list.
A rule is attached to a key pattern (``fnmatch`` over the dotted path, ``*`` also spans dots);
every key a pattern matches is checked, and the first failure is a :class:`ConfigError` that
names the key, the bad value and what is allowed.

Example:
    >>> rules = [("*trainer.epochs", Range(1, integer=True)), ("*.name", OneOf(lambda: ["sgd"]))]
    >>> check_values({"trainer": {"epochs": 3}, "opt": {"name": "sgd"}}, rules)
    >>> check_values({"eval": {"trainer": {"epochs": -1}}}, rules)
    Traceback (most recent call last):
    ...
    archai.common.config.ConfigError: eval.trainer.epochs: -1 is not allowed; it must be an integer >= 1
    >>> check_values({"trainer": {"lr": float("inf")}}, rules)
    Traceback (most recent call last):
    ...
    archai.common.config.ConfigError: trainer.lr: inf is not allowed; it must be a finite number
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from archai.common.config import ConfigError


@dataclass(frozen=True)
class Range:
    """A number in ``[lo, hi]`` (``lo_open``/``hi_open`` exclude an end; ``None`` is unbounded);
    ``integer`` also requires a whole number. ``allow_none`` lets ``null`` through."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    allow_none: bool = False

    def describe(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        kind = "an integer" if self.integer else "a number"
        return f"{kind} {' and '.join(parts)}".strip() + (" (or null)" if self.allow_none else "")

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))


@dataclass(frozen=True)
class OneOf:
    """A name from ``names()`` (called when checking, so plugins registered late count)."""

    names: Callable[[], Iterable[str]]
    allow_none: bool = False

    def describe(self) -> str:
        return "one of " + ", ".join(sorted(map(str, self.names())))

    def ok(self, value: Any) -> bool:
        if value is None:
            return self.allow_none
        return isinstance(value, str) and value in set(self.names())


@dataclass(frozen=True)
class Pair:
    """A two-item list whose first item passes ``first`` and second ``second`` (``[op, value]``)."""

    first: Range | OneOf
    second: Range | OneOf

    def describe(self) -> str:
        return f"a pair [{self.first.describe()}, {self.second.describe()}]"

    def ok(self, value: Any) -> bool:
        return (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and self.first.ok(value[0])
            and self.second.ok(value[1])
        )


@dataclass(frozen=True)
class Each:
    """Every item of a list passes ``rule`` (and the list holds at least ``min_len`` items)."""

    rule: Range | OneOf | Pair
    min_len: int = 0

    def describe(self) -> str:
        more = f" (at least {self.min_len})" if self.min_len else ""
        return f"a list{more} whose items are each {self.rule.describe()}"

    def ok(self, value: Any) -> bool:
        return (
            isinstance(value, (list, tuple))
            and len(value) >= self.min_len
            and all(self.rule.ok(v) for v in value)
        )


Rule = Range | OneOf | Pair | Each


def _leaves(tree: Mapping, prefix: str = "") -> Iterable[tuple[str, Any]]:
    for k, v in tree.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            yield from _leaves(v, path + ".")
        yield path, v


def _hint(rule: Rule, value: Any) -> str:
    """``; did you mean 'x'?`` for a misspelt name; for a list, which item is at fault."""
    if isinstance(rule, Each) and isinstance(value, (list, tuple)):
        bad = [v for v in value if not rule.rule.ok(v)]
        return f" ({bad[0]!r}{_hint(rule.rule, bad[0])})" if bad else ""
    if isinstance(rule, OneOf) and isinstance(value, str):
        close = difflib.get_close_matches(value, list(rule.names()), n=1)
        return f"; did you mean '{close[0]}'?" if close else ""
    return ""


def _non_finite(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    return isinstance(value, float) and not math.isfinite(value)


def check_values(conf: Mapping, rules: Sequence[tuple[str, Rule]]) -> None:
    """Raises :class:`ConfigError` for the first key of ``conf`` that a matching rule rejects.
    A non-finite number (``.inf``, ``.nan``) is refused under every key, ruled or not: no
    setting means "unbounded" by infinity (budgets use 0 for that)."""
    for path, value in _leaves(conf):
        if _non_finite(value):
            raise ConfigError(f"{path}: {value!r} is not allowed; it must be a finite number")
        for pattern, rule in rules:
            if fnmatchcase(path, pattern) and not rule.ok(value):
                hint = _hint(rule, value)
                must = " It must" if hint.endswith("?") else "; it must"
                raise ConfigError(f"{path}: {value!r} is not allowed{hint}{must} be {rule.describe()}")
