"""Random cells and their mutations: what random search and evolution draw from.

DARTS-style cells (two inputs, each node the sum of ``k`` edges from distinct earlier states).
A mutation copies the cell and changes one thing, as in regularized evolution (Real et al.,
2019): pick a node and one of its edges uniformly, then either its op (a different op of
``primitives``) or its input (a different earlier state, distinct from the node's other inputs).
Every draw comes from the ``random.Random`` passed in, so a seeded run repeats exactly.

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
import random
from collections.abc import Sequence

from archai.space.builder import TemplateBuilder
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc

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


def sample_desc(rng: random.Random, primitives: Sequence[str], **builder_args) -> ModelDesc:
    """A network of one random normal and one random reduction cell, laid out by
    :class:`~archai.space.builder.TemplateBuilder` (``builder_args``: ``n_nodes``,
    ``init_channels``, ``n_cells``, shape of the data...)."""
    n_nodes = int(builder_args.get("n_nodes", 4))
    cells = [sample_cell(rng, kind, n_nodes, primitives) for kind in ("normal", "reduction")]
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
    template = mutate_cell(rng, next(c for c in desc.cells if c.kind == kind), primitives)
    out = copy.deepcopy(desc)
    for i, c in enumerate(out.cells):
        if c.kind == kind:
            new = copy.deepcopy(template)
            new.channels = c.channels
            out.cells[i] = new
    out.meta = {}
    return out


def _pick_edge(rng: random.Random, cell: CellDesc) -> EdgeDesc:
    node = rng.choice(cell.nodes)
    return rng.choice(node.edges)
