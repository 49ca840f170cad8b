"""Pareto fronts over evaluated models: non-dominated sets, the lower convex hull, an epsilon band.

Works on plain records (dicts of metrics), so every searcher's candidates feed it.

Example:
    >>> recs = [{"id": "a", "err": 0.30, "macs": 1}, {"id": "b", "err": 0.20, "macs": 4},
    ...         {"id": "c", "err": 0.35, "macs": 3}, {"id": "d", "err": 0.10, "macs": 9}]
    >>> front = ParetoFront(recs, [Objective("err"), Objective("macs")])
    >>> [r["id"] for r, on in zip(front.records, front.on_front) if on]
    ['a', 'b', 'd']
"""

from __future__ import annotations

import csv
import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archai.space.cost import measure_cost
from archai.space.model_desc import ModelDesc


@dataclass(frozen=True)
class Objective:
    """A metric to minimize (default) or maximize."""

    name: str
    maximize: bool = False

    @classmethod
    def parse(cls, text: str) -> Objective:
        """``"val_error"`` / ``"val_error:min"`` / ``"val_top1:max"``."""
        name, _, direction = text.partition(":")
        if direction not in ("", "min", "max"):
            raise ValueError(f"objective '{text}': the direction after ':' must be min or max")
        return cls(name.strip(), direction == "max")


_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op value`` such as ``latency_ms <= 20``; a model that violates it is infeasible."""

    name: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        m = _CONSTRAINT.match(text)
        if not m:
            raise ValueError(f"constraint '{text}' is not of the form 'metric <= value' (ops: <=, <, >=, >)")
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def holds(self, record: Mapping[str, Any]) -> bool:
        v = record.get(self.name)
        return v is not None and math.isfinite(float(v)) and _OPS[self.op](float(v), self.value)


def non_dominated(points: np.ndarray, maximize: Sequence[bool] | None = None) -> np.ndarray:
    """Boolean mask of the points no other point dominates (better or equal in every objective,
    strictly better in one). Equal points do not dominate each other; rows with NaN never make it."""
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2:
        raise ValueError(f"points must be (n, objectives), got shape {pts.shape}")
    if maximize is not None:
        pts = np.where(np.asarray(maximize, dtype=bool), -pts, pts)
    finite = np.isfinite(pts).all(axis=1)
    mask = finite.copy()
    for i in np.flatnonzero(finite):
        others = pts[finite]
        dominated = np.any(np.all(others <= pts[i], axis=1) & np.any(others < pts[i], axis=1))
        mask[i] = not dominated
    return mask


def lower_convex_hull(x: Sequence[float], y: Sequence[float]) -> list[int]:
    """Indices of the lower convex hull of (x, y), both minimized, from the cheapest point to the
    most accurate one (the hull's rising part past the minimum of y is cut off), sorted by x."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    idx = [i for i in np.lexsort((ys, xs)) if math.isfinite(xs[i]) and math.isfinite(ys[i])]
    hull: list[int] = []
    for i in idx:
        if hull and xs[hull[-1]] == xs[i]:
            continue  # same cost, higher error: never on the lower hull
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (xs[b] - xs[a]) * (ys[i] - ys[a]) - (ys[b] - ys[a]) * (xs[i] - xs[a])
            if cross <= 0:  # b lies on or above the segment a-i
                hull.pop()
            else:
                break
        hull.append(i)
    if not hull:
        return []
    best = min(range(len(hull)), key=lambda k: (ys[hull[k]], xs[hull[k]]))
    return hull[: best + 1]


def hull_value(hull_x: Sequence[float], hull_y: Sequence[float], x: float) -> float:
    """The hull's error at cost ``x``: linear between hull points, flat beyond the last one."""
    if x >= hull_x[-1]:
        return float(hull_y[-1])
    return float(np.interp(x, hull_x, hull_y))


def epsilon_band(
    x: Sequence[float], y: Sequence[float], eps: float, hull: Sequence[int] | None = None
) -> np.ndarray:
    """Mask of the points whose y is at most ``(1 + eps)`` times the hull's y at their x."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    hull = lower_convex_hull(xs, ys) if hull is None else list(hull)
    if not hull:
        return np.zeros(len(xs), dtype=bool)
    hx, hy = xs[hull], ys[hull]
    out = np.zeros(len(xs), dtype=bool)
    for i in range(len(xs)):
        if math.isfinite(xs[i]) and math.isfinite(ys[i]) and xs[i] >= hx[0]:
            out[i] = ys[i] <= (1 + eps) * hull_value(hx, hy, xs[i]) + 1e-12
    return out


class ParetoFront:
    """The front of a set of records under objectives and constraints.

    ``on_front[i]``: record i is feasible and not dominated by another feasible record. In 2-D
    (the first two objectives, the first being the error-like one) ``hull`` holds the lower
    convex hull over cost (x = objective 2) and error (y = objective 1) and ``band`` the records
    within ``epsilon`` of it.
    """

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]],
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        epsilon: float = 0.0,
    ) -> None:
        if not objectives:
            raise ValueError("a Pareto front needs at least one objective")
        self.records = [dict(r) for r in records]
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.epsilon = epsilon
        pts = np.array([[_num(r.get(o.name)) for o in self.objectives] for r in self.records], dtype=float)
        self.points = pts.reshape(len(self.records), len(self.objectives))
        self.feasible = np.array(
            [all(c.holds(r) for c in self.constraints) for r in self.records], dtype=bool
        )
        self.on_front = np.zeros(len(self.records), dtype=bool)
        if self.feasible.any():
            sub = non_dominated(self.points[self.feasible], [o.maximize for o in self.objectives])
            self.on_front[np.flatnonzero(self.feasible)[sub]] = True
        self.hull: list[int] = []
        self.band = np.zeros(len(self.records), dtype=bool)
        if len(self.objectives) >= 2:
            y, x = self._minimized(0), self._minimized(1)
            feas = np.flatnonzero(self.feasible)
            hull_sub = lower_convex_hull(x[feas], y[feas])
            self.hull = [int(feas[i]) for i in hull_sub]
            band_sub = epsilon_band(x[feas], y[feas], epsilon, hull_sub)
            self.band[feas[band_sub]] = True

    def _minimized(self, k: int) -> np.ndarray:
        col = self.points[:, k]
        return -col if self.objectives[k].maximize else col

    def front_records(self) -> list[dict]:
        return [r for r, on in zip(self.records, self.on_front) if on]

    def band_records(self) -> list[dict]:
        return [r for r, b in zip(self.records, self.band) if b]

    def to_csv(self, path: str | Path) -> Path:
        """One row per record: id, algo, each objective, desc_path, on_front, feasible."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cols = ["id", "algo", *[o.name for o in self.objectives], "desc_path", "on_front", "feasible"]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r, on, ok in zip(self.records, self.on_front, self.feasible):
                w.writerow(
                    [
                        r.get("id"),
                        r.get("algo", ""),
                        *[r.get(o.name) for o in self.objectives],
                        r.get("desc_path", ""),
                        "true" if on else "false",
                        "true" if ok else "false",
                    ]
                )
        return path

    def plot(self, path: str | Path, title: str = "") -> Path:
        """All models (coloured by algorithm), the front, the hull and the epsilon band (2-D)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if len(self.objectives) < 2:
            raise ValueError("plotting needs two objectives")
        y_obj, x_obj = self.objectives[0], self.objectives[1]
        x, y = self.points[:, 1], self.points[:, 0]
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        algos = sorted({str(r.get("algo", "")) for r in self.records})
        for k, algo in enumerate(algos):
            sel = np.array([str(r.get("algo", "")) == algo for r in self.records])
            ax.scatter(
                x[sel & self.feasible],
                y[sel & self.feasible],
                s=28,
                color=f"C{k}",
                label=algo or "models",
                alpha=0.8,
            )
            ax.scatter(
                x[sel & ~self.feasible], y[sel & ~self.feasible], s=28, color=f"C{k}", marker="x", alpha=0.5
            )
        front = np.flatnonzero(self.on_front)
        front = front[np.argsort(x[front])]
        ax.step(x[front], y[front], where="post", color="black", lw=1, label="Pareto front")
        ax.scatter(x[self.on_front], y[self.on_front], s=70, facecolors="none", edgecolors="black")
        if self.hull:
            hx, hy = x[self.hull], y[self.hull]
            ax.plot(hx, hy, "--", color="crimson", lw=1.2, label="lower convex hull")
            if self.epsilon > 0:
                ax.plot(
                    hx,
                    hy * (1 + self.epsilon),
                    ":",
                    color="crimson",
                    lw=1,
                    label=f"hull x (1+{self.epsilon:g})",
                )
        if not self.feasible.all():
            ax.scatter([], [], marker="x", color="grey", label="violates a constraint")
        ax.set_xlabel(x_obj.name + (" (max)" if x_obj.maximize else ""))
        ax.set_ylabel(y_obj.name + (" (max)" if y_obj.maximize else ""))
        if x_obj.name in ("params", "macs"):
            ax.set_xscale("log")
        ax.set_title(title or "Pareto front")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def candidate_records(result: Any, algo: str, folder: str | Path) -> list[dict]:
    """Records of a :class:`~archai.search.searcher.SearchResult`'s candidates with ``val_error``
    (``1 - val_top1``) added, for :class:`ParetoFront`."""
    out = []
    for c in result.candidates:
        m = dict(c.metrics)
        top1 = _num(m.get("val_top1"))
        out.append(
            {
                "id": f"{algo}/{c.id}",
                "algo": algo,
                **m,
                "val_error": 1 - top1 if math.isfinite(top1) else None,
                "desc_path": str(Path(folder) / "candidates" / f"{c.id}.yaml"),
            }
        )
    return out


MEASURED = ("latency_ms", "latency_onnx_ms", "peak_memory_mb")


def front_from_conf(records: list[dict], conf: Mapping[str, Any]) -> ParetoFront:
    """A :class:`ParetoFront` from the ``pareto`` config section; measures latency and memory of
    records that lack them when an objective or constraint names them."""
    objectives = [Objective.parse(o) for o in conf["objectives"]]
    constraints = [Constraint.parse(c) for c in conf["constraints"]]
    wanted = {o.name for o in objectives} | {c.name for c in constraints}
    todo = [m for m in MEASURED if m in wanted]
    if todo:
        for r in records:
            if any(r.get(m) is None for m in todo) and r.get("desc_path"):
                rep = measure_cost(
                    ModelDesc.load(r["desc_path"]),
                    latency="latency_ms" in todo,
                    latency_onnx="latency_onnx_ms" in todo,
                    memory="peak_memory_mb" in todo,
                    batch_size=int(conf["batch_size"]),
                    device=str(conf["device"]),
                )
                r.setdefault("latency_ms", rep.latency_ms)
                r.setdefault("latency_onnx_ms", rep.latency_onnx_ms)
                r.setdefault("peak_memory_mb", rep.peak_memory_mb)
    return ParetoFront(records, objectives, constraints, float(conf["epsilon"]))
