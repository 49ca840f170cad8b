"""ProxylessNAS' latency model: a table of each block's latency measured on the run's device,
the expected latency of a supernet's path distribution, and the latency-aware loss.

The table holds, per mixed edge (a layer of the ``mobilenet`` space; an edge of a cell in the
``darts`` and ``nb201`` supernets, whose repeated cells share their weights' rows), the median
latency of every candidate on its own input shape (the layer's shortcut addition included where
it has one; ``none`` costs 0), and the latency of the fixed parts (stem, fixed cells, pooling
and classifier). A network's predicted latency is the fixed part plus its
blocks'; the *expected* latency of a distribution over paths is the fixed part plus, per layer,
the probability-weighted sum of its candidates' latencies (differentiable in the weights).

Example:
    >>> table = LatencyTable.of_layers("cpu", 1, 1.0, {"l0": {"a": 2.0, "none": 0.0}})
    >>> float(table.expected({"l0": torch.tensor([0.25, 0.75])}))
    1.5
    >>> table.latency({"l0": [(0,)]}), table.minimum()
    (3.0, 1.0)
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archai.common.config import ConfigError
from archai.common.jsonio import write_json
from archai.space.cost import measure_latency
from archai.space.model_desc import ModelDesc
from archai.space.supernet import MixedOp, Supernet

#: the latency-aware losses of the published code: ``mul#log`` ``a * CE * (log E / log T)^b``,
#: ``add#linear`` ``CE + l * (E - T) / T`` (E: expected latency, T: the target)
LOSSES = ("mul#log", "add#linear")


@dataclass
class LatencyTable:
    """Per-block latencies (ms) of one device and batch size (module docstring).

    ``edges`` lists every mixed edge of the supernet: ``group`` and ``row`` name the row of the
    architecture weights it reads (edges of repeated cells share one), ``latency`` maps each
    candidate to its ms on that edge's input."""

    device: str
    batch_size: int
    fixed_ms: float
    edges: list[dict[str, Any]]
    #: the digest of the supernet description it was measured for
    supernet: str = ""

    @classmethod
    def of_layers(
        cls, device: str, batch_size: int, fixed_ms: float, layers: Mapping[str, Mapping[str, float]]
    ):
        """A table of one edge per group (a space whose layers are not repeated)."""
        return cls(
            device,
            batch_size,
            fixed_ms,
            [{"group": g, "row": 0, "latency": dict(v)} for g, v in layers.items()],
        )

    def latency(self, path: Mapping[str, Sequence[Sequence[int]]]) -> float:
        """The predicted latency of one path (:data:`~archai.space.supernet.SupernetPath`: per
        group, per row, the candidates that run)."""
        total = self.fixed_ms
        for e in self.edges:
            lat = list(e["latency"].values())
            total += sum(lat[j] for j in path[e["group"]][e["row"]])
        return total

    def expected(self, probs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``fixed + sum over edges of sum_j probs[group][row, j] * latency[j]``: ``probs[g]``
        the rows x candidates probabilities of group ``g`` (one row: a vector will do), zeros
        for candidates out of play."""
        total = None
        for e in self.edges:
            p = probs[e["group"]]
            p = p.reshape(1, -1) if p.dim() == 1 else p
            lat = torch.tensor(list(e["latency"].values()), dtype=p.dtype, device=p.device)
            term = (p[e["row"]] * lat).sum()
            total = term if total is None else total + term
        return self.fixed_ms + (total if total is not None else torch.tensor(0.0))

    def minimum(self) -> float:
        """A lower bound of any path's latency: each edge at its fastest candidate (exact where
        no two edges share a row, as in the ``mobilenet`` space)."""
        return self.fixed_ms + sum(min(e["latency"].values()) for e in self.edges)

    def save(self, path: Path) -> Path:
        return write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> LatencyTable:
        return cls(**json.loads(Path(path).read_text()))


class _Residual(nn.Module):
    """A block and its shortcut, as a layer with one runs."""

    def __init__(self, op: nn.Module) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x) + x


class _OnLast(nn.Module):
    """A cell (``(s0, s1) -> out``) run on one input, as a one-input cell reads it."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cell(x, x)


def measure_table(
    supernet_desc: ModelDesc,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 1,
    warmup: int = 5,
    runs: int = 30,
    turns: int = 3,
) -> LatencyTable:
    """Measures, on ``device`` with :func:`~archai.space.cost.measure_latency` (the median of
    ``runs`` forward passes; every module once per turn, ``turns`` times, and the median of its
    turns kept), every candidate of every mixed edge of ``supernet_desc`` on that
    edge's input (with the shortcut addition where the edge's node also has a ``skip_connect``
    from the same state), and the fixed parts: the stem, cells without mixed edges, two-input
    cells' preprocessing, and the head (pooling and classifier). Node sums are not counted.

    Its modules and inputs are drawn from a forked random generator: measuring leaves the run's
    random stream as it was, so a search draws the same whether its table was measured or read."""
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        return _measure(supernet_desc, device, batch_size, warmup, runs, turns)


def _measure(
    supernet_desc: ModelDesc, device, batch_size: int, warmup: int, runs: int, turns: int
) -> LatencyTable:
    net = Supernet(supernet_desc)
    model, inputs, outputs = net.model, {}, {}

    def record(name):
        def hook(module, args, out):
            inputs[name] = [tuple(a.shape[1:]) for a in args if isinstance(a, torch.Tensor)]
            outputs[name] = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else None

        return hook

    watched = {id(m): n for n, m in model.named_modules() if isinstance(m, MixedOp)}
    watched.update({id(c): f"cells.{i}" for i, c in enumerate(model.cells)})
    handles = [m.register_forward_hook(record(watched[id(m)])) for m in model.modules() if id(m) in watched]
    net.path = {g: [(0,)] * len(a) for g, a in net.alphas.items()}
    x = torch.zeros(1, supernet_desc.in_channels, supernet_desc.image_size, supernet_desc.image_size)
    with torch.no_grad():
        net.eval()(x)
    for h in handles:
        h.remove()

    jobs: list[tuple[nn.Module, tuple[int, ...]]] = []

    def job(module: nn.Module, shape: tuple[int, ...]) -> int:
        jobs.append((module, shape))
        return len(jobs) - 1

    fixed = [job(model.stem, tuple(x.shape[1:]))]
    head = [model.lastact] if model.lastact is not None else []
    last = outputs[f"cells.{len(model.cells) - 1}"]
    fixed.append(job(nn.Sequential(*head, model.global_pooling, nn.Flatten(), model.classifier), last))
    edges: list[dict[str, Any]] = []
    for i, cell in enumerate(model.cells):
        s0, s1 = (inputs[f"cells.{i}"] * 2)[:2]
        if not any(isinstance(m, MixedOp) for m in cell.modules()):
            fixed.append(job(_OnLast(cell), s1))
            continue
        if cell.n_inputs == 2:
            fixed += [job(cell.preprocess0, s0), job(cell.preprocess1, s1)]
        for ni, ops in enumerate(cell.nodes):
            for op, inp in zip(ops, cell.inputs[ni]):
                if not isinstance(op, MixedOp):
                    continue
                residual = any(
                    o is not op and j == inp and not isinstance(o, MixedOp)
                    for o, j in zip(ops, cell.inputs[ni])
                )
                (shape,) = inputs[watched[id(op)]]
                row = {
                    cand: None if cand == "none" else job(_Residual(module) if residual else module, shape)
                    for cand, module in zip(op.candidates, op._ops)
                }
                edges.append({"group": op.kind, "row": op.index, "latency": row})
    # every module once per turn, in turns: drift on a shared machine hits all entries alike
    times: list[list[float]] = [[] for _ in jobs]
    for _ in range(max(1, turns)):
        for j, (module, shape) in enumerate(jobs):
            times[j].append(
                measure_latency(module, shape, batch_size=batch_size, device=device, warmup=warmup, runs=runs)
            )
    ms = [statistics.median(t) for t in times]
    for e in edges:
        e["latency"] = {c: 0.0 if j is None else ms[j] for c, j in e["latency"].items()}
    return LatencyTable(str(device), batch_size, sum(ms[j] for j in fixed), edges, supernet_desc.digest())


def load_or_measure(path: Path, supernet_desc: ModelDesc, **kw) -> tuple[LatencyTable, bool]:
    """The table cached at ``path`` when it was measured for ``supernet_desc`` on the same
    device and batch size; else a new measurement, saved there. Returns it and whether it was
    measured now."""
    if path.is_file():
        table = LatencyTable.load(path)
        if (table.supernet, table.device, table.batch_size) == (
            supernet_desc.digest(),
            str(kw.get("device", "cpu")),
            int(kw.get("batch_size", 1)),
        ):
            return table, False
    table = measure_table(supernet_desc, **kw)
    table.save(path)
    return table, True


def latency_loss(
    ce: torch.Tensor,
    expected: torch.Tensor,
    target_ms: float,
    kind: str = "mul#log",
    *,
    alpha: float = 0.2,
    beta: float = 0.3,
    lam: float = 0.1,
) -> torch.Tensor:
    """The architecture loss of ProxylessNAS' published code: ``mul#log``
    ``alpha * ce * (log(expected) / log(target)) ** beta`` (latencies in ms, both above 1), or
    ``add#linear`` ``ce + lam * (expected - target) / target``.

    Example:
        >>> ce = torch.tensor(2.0)
        >>> float(latency_loss(ce, torch.tensor(10.0), 10.0)), float(latency_loss(ce, torch.tensor(12.0), 10.0, "add#linear"))
        (0.4000000059604645, 2.0199999809265137)
    """
    if kind == "mul#log":
        return alpha * ce * (torch.log(expected) / math.log(target_ms)) ** beta
    if kind == "add#linear":
        return ce + lam * (expected - target_ms) / target_ms
    raise ConfigError(f"latency.loss '{kind}' is not one of {', '.join(LOSSES)}")
