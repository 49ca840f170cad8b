"""The NAS-Bench-201 search space: arch strings, the benchmark's fixed skeleton, and the space.

A cell has one input (state 0) and three nodes (states 1-3); node ``i`` sums one op applied to
every earlier state; the output is state 3. An arch string lists those ops node by node:
``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|``.
The network: 3x3 conv stem to C, N cells, a ResNet block to 2C, N cells, a ResNet block to 4C,
N cells, BatchNorm-ReLU, global pooling, classifier (C=16, N=5 as published).

:class:`Nb201Space` (``--space nb201``) holds its 5^6 = 15,625 cells; :func:`unique_cell_form`
tells isomorphic ones apart as the benchmark does (6,466 classes).

Example:
    >>> desc = arch_to_desc("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    ...                     "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> len(desc.cells), desc_to_arch(desc).count("~")
    (17, 6)
"""

from __future__ import annotations

import copy
import itertools
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from archai.common.checks import Range
from archai.common.errors import UserError
from archai.common.jsonio import short_digest
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import NB201_PRIMITIVES
from archai.space.spaces.base import PRIMITIVES_RULE, Decision, SearchSpace, SpaceError, register_space
from archai.space.supernet import MIXED


class ArchStringError(UserError, ValueError):
    """A NAS-Bench-201 arch string is malformed."""


_EDGE = re.compile(r"^([a-z0-9_]+)~(\d+)$")


def parse_arch(text: str) -> CellDesc:
    """The cell of an arch string (channels left at 0)."""
    text = text.strip()
    groups = text.split("+")
    nodes = []
    for ni, group in enumerate(groups):
        if not (group.startswith("|") and group.endswith("|")):
            raise ArchStringError(f"node {ni + 1} of {text!r}: each node is written |op~input|...|")
        edges = []
        for token in group.strip("|").split("|"):
            m = _EDGE.match(token)
            if not m:
                raise ArchStringError(f"node {ni + 1}: {token!r} is not 'op~input'")
            op, inp = m.group(1), int(m.group(2))
            if op not in NB201_PRIMITIVES:
                raise ArchStringError(f"node {ni + 1}: op '{op}' is not one of {', '.join(NB201_PRIMITIVES)}")
            if inp > ni:
                raise ArchStringError(f"node {ni + 1}: input {inp} is not an earlier node (0..{ni})")
            edges.append(EdgeDesc(OpDesc(op), inp))
        nodes.append(NodeDesc(edges))
    return CellDesc("normal", 0, nodes, [len(nodes)])


def cell_to_arch(cell: CellDesc) -> str:
    return "+".join("|" + "|".join(f"{e.op.name}~{e.input}" for e in n.edges) + "|" for n in cell.nodes)


def desc_to_arch(desc: ModelDesc) -> str:
    return cell_to_arch(next(c for c in desc.cells if c.kind == "normal"))


def arch_to_desc(
    arch: str | CellDesc,
    *,
    init_channels: int = 16,
    n_per_stage: int = 5,
    in_channels: int = 3,
    image_size: int = 32,
    n_classes: int = 10,
    stem_stride: int = 1,
    affine: bool = True,
) -> ModelDesc:
    """The NAS-Bench-201 network of an arch string (or cell): ``init_channels`` C, ``n_per_stage``
    cells per stage (5 as published); ``stem_stride`` 2 halves small images first."""
    template = parse_arch(arch) if isinstance(arch, str) else arch
    cells: list[CellDesc] = []
    C = init_channels
    for stage in range(3):
        if stage:
            C *= 2
            cells.append(CellDesc("resblock", C))
        for _ in range(n_per_stage):
            cell = CellDesc(
                "normal", C, [NodeDesc(list(n.edges)) for n in template.nodes], list(template.concat)
            )
            cells.append(cell)
    desc = ModelDesc(
        cells=cells,
        skeleton="nb201",
        in_channels=in_channels,
        image_size=image_size,
        n_classes=n_classes,
        init_channels=init_channels,
        stem_multiplier=1,
        stem_stride=stem_stride,
        affine=affine,
        meta={"arch": cell_to_arch(template)},
    )
    desc.validate()
    return desc


def unique_cell_form(cell: CellDesc) -> str:
    """A string equal for NAS-Bench-201 cells that the benchmark counts as one (6,466 classes of
    its 15,625 cells): each node is the sorted sum of its terms, ``skip_connect`` passes its
    input's form on, ``none`` (or an input that is zero) gives the zero term ``#``. As in the
    benchmark's own count, zero terms stay in the sum and a sum of zeros is not zero again; the
    stricter algebra (drop them) would merge the cells into 5,390 classes."""
    forms = ["0"]
    for node in cell.nodes:
        terms = []
        for e in node.edges:
            src = forms[e.input]
            if e.op.name == "none" or src == "#":
                terms.append("#")
            elif e.op.name == "skip_connect":
                terms.append(src)
            else:
                terms.append(f"({src})@{e.op.name}")
        forms.append("+".join(sorted(terms)))
    return forms[-1]


#: the (node, input) of each of the six edges, in arch-string order
NB201_EDGES = [(n, j) for n in range(3) for j in range(n + 1)]


@register_space("nb201")
class Nb201Space(SearchSpace):
    """NAS-Bench-201 (Dong & Yang, 2020): one cell of 4 states and 6 edges, each one of
    ``primitives``, repeated ``cells_per_stage`` times in each of 3 stages (ResNet blocks
    between them). The shape gives ``init_channels`` (16 as published), the dataset's image
    size and classes, and ``stem_stride``.

    Its one-shot view mixes every edge over ``primitives``; :meth:`derive` keeps each edge's
    strongest op, ``none`` included (as the benchmark's DARTS baselines derive their cells).

    Example:
        >>> space = Nb201Space({"n_classes": 10})
        >>> desc = space.sample(random.Random(0))
        >>> len(space.neighbours(desc)), space.label(desc).count("~")
        (24, 6)
    """

    defaults = {"primitives": list(NB201_PRIMITIVES), "cells_per_stage": 5}
    value_checks = {
        "primitives": PRIMITIVES_RULE,
        "cells_per_stage": Range(1, integer=True),
    }

    def build(self, cell: CellDesc | str, affine: bool = True) -> ModelDesc:
        """The space's network around ``cell`` (an arch string or cell)."""
        s = self.shape
        return arch_to_desc(
            cell,
            init_channels=int(s["init_channels"]),
            n_per_stage=int(self.options.cells_per_stage),
            in_channels=int(s["in_channels"]),
            image_size=int(s["image_size"]),
            n_classes=int(s["n_classes"]),
            stem_stride=int(s["stem_stride"]),
            affine=affine,
        )

    def _cell(self, ops: list[str]) -> CellDesc:
        nodes = [NodeDesc([]) for _ in range(3)]
        for (n, j), op in zip(NB201_EDGES, ops):
            nodes[n].edges.append(EdgeDesc(OpDesc(op), j))
        return CellDesc("normal", 0, nodes, [3])

    @staticmethod
    def ops_of(desc: ModelDesc) -> list[str]:
        """The six edges' ops of ``desc``'s cell, in arch-string order."""
        cell = next((c for c in desc.cells if c.kind == "normal"), None)
        edges = [(n, e.input) for n, node in enumerate(cell.nodes) for e in node.edges] if cell else []
        if edges != NB201_EDGES:
            raise SpaceError(
                "not a description of the nb201 space: its cell is not the benchmark's 6-edge cell"
            )
        return [e.op.name for node in cell.nodes for e in node.edges]

    def sample(self, rng: random.Random) -> ModelDesc:
        return self.build(self._cell([rng.choice(self.primitives) for _ in NB201_EDGES]))

    def mutate(self, rng: random.Random, desc: ModelDesc) -> ModelDesc:
        """One edge (uniformly) gets another op (uniformly)."""
        ops = self.ops_of(desc)
        i = rng.randrange(len(ops))
        others = [p for p in self.primitives if p != ops[i]]
        if others:
            ops[i] = rng.choice(others)
        return self.build(self._cell(ops))

    def neighbours(self, desc: ModelDesc) -> list[ModelDesc]:
        ops, out = self.ops_of(desc), []
        for i in range(len(ops)):
            for p in self.primitives:
                if p != ops[i]:
                    out.append(self.build(self._cell([*ops[:i], p, *ops[i + 1 :]])))
        return out

    def digest(self, desc: ModelDesc) -> str:
        """Equal for cells the benchmark counts as isomorphic (:func:`unique_cell_form`) in the
        same network."""
        cell = self._cell(self.ops_of(desc))
        rest = {k: v for k, v in desc.to_data().items() if k not in ("meta", "cells")}
        return short_digest({"cell": unique_cell_form(cell), "n_cells": len(desc.cells), **rest})

    def encode(self, desc: ModelDesc) -> list[float]:
        """Six one-hot blocks, one per edge, over ``primitives``."""
        return [float(op == p) for op in self.ops_of(desc) for p in self.primitives]

    def label(self, desc: ModelDesc) -> str:
        return cell_to_arch(self._cell(self.ops_of(desc)))

    @property
    def size(self) -> int:
        return len(self.primitives) ** len(NB201_EDGES)

    def enumerate(self) -> Iterator[ModelDesc]:
        for ops in itertools.product(self.primitives, repeat=len(NB201_EDGES)):
            yield self.build(self._cell(list(ops)))

    def rebuild(self, desc: ModelDesc, shape: Mapping[str, Any]) -> ModelDesc:
        """``desc`` as it is: the benchmark fixes the network its cells are trained in (C and
        cells per stage of the search), so the final training trains what was searched."""
        self.ops_of(desc)  # a description of this space
        return desc

    def supernet_desc(self) -> ModelDesc:
        op = OpDesc(MIXED, {"candidates": self.primitives})
        desc = self.build(self._cell(["none"] * len(NB201_EDGES)), affine=False)
        for cell in desc.cells:
            for node in cell.nodes:
                for e in node.edges:
                    e.op = copy.deepcopy(op)
        desc.meta = {}
        return desc

    def decisions(self) -> list[Decision]:
        """Each edge's op, node by node (the inputs are fixed)."""
        return [Decision("normal", n, "op", tuple(self.primitives)) for n, _ in NB201_EDGES]

    def from_decisions(self, values: Sequence) -> ModelDesc:
        if len(values) != len(NB201_EDGES):
            raise SpaceError(f"the nb201 space takes {len(NB201_EDGES)} decisions, got {len(values)}")
        return self.build(self._cell([str(v) for v in values]))

    def derive(self, supernet: ModelDesc, weights: Mapping[str, torch.Tensor]) -> ModelDesc:
        cell = next(c for c in supernet.cells if c.kind == "normal")
        edges = [e for node in cell.nodes for e in node.edges]
        ops = [e.op.params["candidates"][int(row.argmax())] for e, row in zip(edges, weights["normal"])]
        return self.build(self._cell(ops))
