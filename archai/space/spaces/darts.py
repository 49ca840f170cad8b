"""The DARTS cell space: random cells, their mutations and neighbours, and its one-shot view.

DARTS-style cells (two inputs, each node the sum of ``k`` edges from distinct earlier states,
every node concatenated into the output), one normal and one reduction cell repeated through
the network.
A mutation copies the cell and changes one thing, as in regularized evolution (Real et al.,
2019): pick a node and one of its edges uniformly, then either its op (a different op of
``primitives``) or its input (a different earlier state, distinct from the node's other inputs).
Every draw comes from the ``random.Random`` passed in, so a seeded run repeats exactly.

The :class:`DartsSpace` (``--space darts``) draws with these functions, so a seeded random
search or evolution draws the same architectures through the space as through them.

Example:
    >>> import random
    >>> rng = random.Random(0)
    >>> cell = sample_cell(rng, "normal", n_nodes=3, primitives=["sep_conv_3x3", "max_pool_3x3"])
    >>> [len(n.edges) for n in cell.nodes], cell.concat
    ([2, 2, 2], [2, 3, 4])
    >>> child = mutate_cell(rng, cell, ["sep_conv_3x3", "max_pool_3x3"])
    >>> sum(a != b for a, b in zip(cell.to_data()["nodes"], child.to_data()["nodes"]))
    1
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from archai.common.checks import Range
from archai.common.jsonio import short_digest
from archai.space.builder import TemplateBuilder, expand_cells
from archai.space.genotypes import GenotypeError, desc_to_genotype, format_genotype
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import DARTS_PRIMITIVES
from archai.space.spaces.base import PRIMITIVES_RULE, Decision, SearchSpace, SpaceError, register_space
from archai.space.supernet import SupernetBuilder, finalize_desc

N_INPUTS = 2  # DARTS-style cells: states 0 and 1 are the two previous cells' outputs


def sample_cell(
    rng: random.Random, kind: str, n_nodes: int, primitives: Sequence[str], k: int = 2
) -> CellDesc:
    """A uniformly random cell: each node sums ``k`` distinct earlier states, each through an
    op drawn uniformly from ``primitives``; every node is concatenated into the output."""
    nodes = []
    for i in range(n_nodes):
        inputs = rng.sample(range(N_INPUTS + i), min(k, N_INPUTS + i))
        nodes.append(NodeDesc([EdgeDesc(OpDesc(rng.choice(list(primitives))), j) for j in inputs]))
    return CellDesc(kind, 0, nodes, list(range(N_INPUTS, N_INPUTS + n_nodes)))


def sample_desc(rng: random.Random, primitives: Sequence[str], k: int = 2, **builder_args) -> ModelDesc:
    """A network of one random normal and one random reduction cell (``k`` edges per node),
    laid out by :class:`~archai.space.builder.TemplateBuilder` (``builder_args``: ``n_nodes``,
    ``init_channels``, ``n_cells``, shape of the data...)."""
    n_nodes = int(builder_args.get("n_nodes", 4))
    cells = [sample_cell(rng, kind, n_nodes, primitives, k) for kind in ("normal", "reduction")]
    return TemplateBuilder(*cells, **builder_args).build()


def mutate_op(rng: random.Random, cell: CellDesc, primitives: Sequence[str]) -> CellDesc:
    """A copy of ``cell`` with one edge's op replaced by a different one of ``primitives``."""
    out = copy.deepcopy(cell)
    edge = _pick_edge(rng, out)
    choices = [p for p in primitives if p != edge.op.name]
    if choices:
        edge.op = OpDesc(rng.choice(choices))
    return out


def mutate_input(rng: random.Random, cell: CellDesc) -> CellDesc:
    """A copy of ``cell`` with one edge moved to another earlier state (never one that the
    node already reads, so a node keeps distinct inputs)."""
    out = copy.deepcopy(cell)
    node_index = rng.randrange(len(out.nodes))
    node = out.nodes[node_index]
    edge = rng.choice(node.edges)
    taken = {e.input for e in node.edges}
    choices = [s for s in range(N_INPUTS + node_index) if s not in taken]
    if choices:
        edge.input = rng.choice(choices)
    return out


def mutate_cell(rng: random.Random, cell: CellDesc, primitives: Sequence[str]) -> CellDesc:
    """:func:`mutate_op` or :func:`mutate_input`, chosen with equal probability. Falls back to the
    other mutation when the chosen one has nothing to change (one primitive, or a node that
    already reads every earlier state)."""
    first, second = (mutate_op, mutate_input) if rng.random() < 0.5 else (mutate_input, mutate_op)
    for fn in (first, second):
        out = fn(rng, cell, primitives) if fn is mutate_op else fn(rng, cell)
        if out != cell:
            return out
    return out


def mutate_desc(rng: random.Random, desc: ModelDesc, primitives: Sequence[str]) -> ModelDesc:
    """A copy of ``desc`` whose normal or reduction cell (chosen uniformly) is mutated by
    :func:`mutate_cell`; every cell of that kind gets the same new cell (channels kept)."""
    kinds = sorted({c.kind for c in desc.cells if c.kind in ("normal", "reduction")})
    kind = rng.choice(kinds)
    return _with_cell(desc, kind, mutate_cell(rng, next(c for c in desc.cells if c.kind == kind), primitives))


def _pick_edge(rng: random.Random, cell: CellDesc) -> EdgeDesc:
    node = rng.choice(cell.nodes)
    return rng.choice(node.edges)


#: the ops of DARTS' found cells (its supernet also mixes ``none``, which no found cell keeps)
DARTS_CELL_OPS = [p for p in DARTS_PRIMITIVES if p != "none"]
KINDS = ("normal", "reduction")


@register_space("darts")
class DartsSpace(SearchSpace):
    """DARTS cells: ``n_nodes`` nodes (from the shape), each summing ``edges_per_node`` edges
    from distinct earlier states, each edge one of ``primitives``; a normal and a reduction
    cell, each repeated through the network (the shape's ``n_cells``, ``skeleton``...).

    The one-shot view is DARTS' supernet: every node takes a mixed edge from every earlier
    state over ``primitives`` (and ``none`` first when ``supernet_zero``, as DARTS does);
    :meth:`derive` keeps per node the ``edges_per_node`` strongest edges, each with its
    strongest op other than ``none``.

    Example:
        >>> space = DartsSpace({"n_nodes": 2, "n_cells": 3}, primitives=["sep_conv_3x3", "skip_connect"])
        >>> desc = space.sample(random.Random(1))
        >>> space.size, len(space.neighbours(desc)), len(space.encode(desc))
        (2304, 12, 20)
    """

    defaults = {"primitives": list(DARTS_CELL_OPS), "edges_per_node": 2, "supernet_zero": True}
    value_checks = {
        "primitives": PRIMITIVES_RULE,
        "edges_per_node": Range(1, integer=True),
    }

    @property
    def k(self) -> int:
        return int(self.options.edges_per_node)

    @property
    def n_nodes(self) -> int:
        return int(self.shape["n_nodes"])

    def _build(self, normal: CellDesc, reduction: CellDesc) -> ModelDesc:
        return TemplateBuilder(normal, reduction, **self.shape).build()

    @staticmethod
    def _templates(desc: ModelDesc) -> dict[str, CellDesc]:
        found = {kind: next((c for c in desc.cells if c.kind == kind), None) for kind in KINDS}
        missing = [kind for kind, cell in found.items() if cell is None]
        if missing:
            raise SpaceError(f"not a description of the darts space: it has no {missing[0]} cell")
        return found  # type: ignore[return-value]

    def sample(self, rng: random.Random) -> ModelDesc:
        return sample_desc(rng, self.primitives, k=self.k, **self.shape)

    def mutate(self, rng: random.Random, desc: ModelDesc) -> ModelDesc:
        return mutate_desc(rng, desc, self.primitives)

    def neighbours(self, desc: ModelDesc) -> list[ModelDesc]:
        """Per cell kind, node and edge: every other op, then every other input state that the
        node does not read yet."""
        out = []
        for kind, cell in self._templates(desc).items():
            for ni, node in enumerate(cell.nodes):
                for ei, edge in enumerate(node.edges):
                    taken = {e.input for e in node.edges}
                    changes = [("op", p) for p in self.primitives if p != edge.op.name]
                    changes += [("input", s) for s in range(N_INPUTS + ni) if s not in taken]
                    for what, value in changes:
                        new = copy.deepcopy(cell)
                        target = new.nodes[ni].edges[ei]
                        if what == "op":
                            target.op = OpDesc(value)
                        else:
                            target.input = value
                        out.append(_with_cell(desc, kind, new))
        return out

    def digest(self, desc: ModelDesc) -> str:
        """The description's digest with each node's edges in a fixed order (a node sums them:
        their order does not change what it computes)."""
        data = {k: v for k, v in desc.to_data().items() if k != "meta"}
        for cell in data["cells"]:
            for node in cell.get("nodes", []):
                node["edges"] = sorted(node["edges"], key=lambda e: (e["input"], str(e["op"])))
        return short_digest(data)

    def encode(self, desc: ModelDesc) -> list[float]:
        """Per cell kind, node, earlier state and op: 1.0 where the node has that edge."""
        out: list[float] = []
        for cell in self._templates(desc).values():
            for ni in range(self.n_nodes):
                edges = (
                    {(e.input, e.op.name) for e in cell.nodes[ni].edges} if ni < len(cell.nodes) else set()
                )
                out += [float((s, p) in edges) for s in range(N_INPUTS + ni) for p in self.primitives]
        return out

    def label(self, desc: ModelDesc) -> str:
        try:
            return format_genotype(desc_to_genotype(desc))
        except GenotypeError:
            return self.digest(desc)

    def _cell_choices(self) -> list[list[tuple[tuple[int, ...], tuple[str, ...]]]]:
        """Per node: every (inputs, ops) it may take."""
        k, prims = self.k, self.primitives
        return [
            [
                (inputs, ops)
                for inputs in itertools.combinations(range(N_INPUTS + i), min(k, N_INPUTS + i))
                for ops in itertools.product(prims, repeat=len(inputs))
            ]
            for i in range(self.n_nodes)
        ]

    @property
    def size(self) -> int:
        per_cell = math.prod(len(c) for c in self._cell_choices())
        return per_cell ** len(KINDS)

    def enumerate(self) -> Iterator[ModelDesc]:
        """Every (normal, reduction) pair of cells, lazily: nothing is built before it is asked for."""
        concat = list(range(N_INPUTS, N_INPUTS + self.n_nodes))

        def cells(kind: str) -> Iterator[CellDesc]:
            for picks in itertools.product(*self._cell_choices()):
                nodes = [NodeDesc([EdgeDesc(OpDesc(o), j) for j, o in zip(*pick)]) for pick in picks]
                yield CellDesc(kind, 0, nodes, list(concat))

        for normal in cells("normal"):
            for reduction in cells("reduction"):
                yield self._build(normal, reduction)

    def rebuild(self, desc: ModelDesc, shape: Mapping[str, Any]) -> ModelDesc:
        """``desc``'s normal and reduction cells laid out at ``shape`` (``expand_cells``)."""
        if not desc.skeleton_def.expandable:
            return desc
        return expand_cells(desc, **shape)

    def supernet_desc(self) -> ModelDesc:
        candidates = (["none"] if self.options.supernet_zero else []) + [
            p for p in self.primitives if p != "none" or not self.options.supernet_zero
        ]
        return SupernetBuilder(candidates, **{**self.shape, "affine": False}).build()

    def derive(self, supernet: ModelDesc, weights: Mapping[str, torch.Tensor]) -> ModelDesc:
        return finalize_desc(supernet, weights, k=self.k)

    def decisions(self) -> list[Decision]:
        """Per cell kind (normal, then reduction), node and edge: its input (distinct from the
        node's other inputs), then its op, as ENAS' controller samples a cell."""
        out = []
        for kind in KINDS:
            for i in range(self.n_nodes):
                for _ in range(min(self.k, N_INPUTS + i)):
                    out.append(Decision(kind, i, "input", tuple(range(N_INPUTS + i)), distinct=True))
                    out.append(Decision(kind, i, "op", tuple(self.primitives)))
        return out

    def from_decisions(self, values: Sequence) -> ModelDesc:
        decisions = self.decisions()
        if len(values) != len(decisions):
            raise SpaceError(f"the darts space takes {len(decisions)} decisions, got {len(values)}")
        edges: dict[tuple[str, int], list[EdgeDesc]] = {}
        state = 0
        for d, v in zip(decisions, values):
            if d.what == "input":
                state = int(v)
            else:
                edges.setdefault((d.group, d.node), []).append(EdgeDesc(OpDesc(str(v)), state))
        concat = list(range(N_INPUTS, N_INPUTS + self.n_nodes))
        normal, reduction = (
            CellDesc(kind, 0, [NodeDesc(edges[(kind, i)]) for i in range(self.n_nodes)], list(concat))
            for kind in KINDS
        )
        return self._build(normal, reduction)


def _with_cell(desc: ModelDesc, kind: str, template: CellDesc) -> ModelDesc:
    """A copy of ``desc`` whose cells of ``kind`` are all ``template`` (channels kept)."""
    out = copy.deepcopy(desc)
    for i, c in enumerate(out.cells):
        if c.kind == kind:
            new = copy.deepcopy(template)
            new.channels = c.channels
            out.cells[i] = new
    out.meta = {}
    return out
