"""The NAS-Bench-201 search space: arch strings and the benchmark's fixed skeleton.

A cell has one input (state 0) and three nodes (states 1-3); node ``i`` sums one op applied to
every earlier state; the output is state 3. An arch string lists those ops node by node:
``|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|``.
The network: 3x3 conv stem to C, N cells, a ResNet block to 2C, N cells, a ResNet block to 4C,
N cells, BatchNorm-ReLU, global pooling, classifier (C=16, N=5 as published).

Example:
    >>> desc = arch_to_desc("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    ...                     "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> len(desc.cells), desc_to_arch(desc).count("~")
    (17, 6)
"""

from __future__ import annotations

import re

from archai.common.errors import UserError
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import NB201_PRIMITIVES


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
) -> ModelDesc:
    """The NAS-Bench-201 network of an arch string (or cell)."""
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
        affine=True,
        meta={"arch": cell_to_arch(template)},
    )
    desc.validate()
    return desc
