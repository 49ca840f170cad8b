"""ENAS' shared-weights child network (micro search space, Pham et al., 2018).

Cells have two inputs and ``n_nodes`` nodes; each node sums two (input state, op) picks. One
module per cell holds the weights of every (node, input, op) choice; a forward pass runs only
the ops of the architecture in ``child.arch``. The cell output concatenates the nodes no other
node used, then applies ReLU, a 1x1 convolution (weights sliced for those nodes) and BatchNorm.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from archai.common.config import ConfigError
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import FactorizedReduce, ReLUConvBN, make_op
from archai.space.skeletons import SKELETONS

#: One cell's architecture: per node ``(input_a, op_a, input_b, op_b)``.
CellArch = list[tuple[int, str, int, str]]


def used_states(arch: CellArch) -> set[int]:
    return {i for node in arch for i in (node[0], node[2])}


def loose_ends(arch: CellArch) -> list[int]:
    """Node states no other node reads: what the cell outputs."""
    used = used_states(arch)
    return [2 + n for n in range(len(arch)) if 2 + n not in used]


def arch_to_cell(arch: CellArch, kind: str) -> CellDesc:
    """The discrete cell of an ENAS architecture (output: the loose ends concatenated)."""
    nodes = [NodeDesc([EdgeDesc(OpDesc(oa), ia), EdgeDesc(OpDesc(ob), ib)]) for ia, oa, ib, ob in arch]
    return CellDesc(kind, 0, nodes, loose_ends(arch))


class EnasCell(nn.Module):
    def __init__(
        self,
        c_pp: int,
        c_p: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        n_nodes: int,
        ops: Sequence[str],
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (
            FactorizedReduce(c_pp, C, False) if reduction_prev else ReLUConvBN(c_pp, C, 1, 1, 0, False)
        )
        self.preprocess1 = ReLUConvBN(c_p, C, 1, 1, 0, False)
        self.ops = nn.ModuleDict()
        for n in range(n_nodes):
            for j in range(2 + n):
                stride = 2 if reduction and j < 2 else 1
                for op in ops:
                    self.ops[f"{n}_{j}_{op}"] = make_op(op, C, stride, False)
        self.out_weight = nn.Parameter(torch.empty(C, (2 + n_nodes) * C, 1, 1))
        nn.init.kaiming_normal_(self.out_weight)
        self.out_bn = nn.BatchNorm2d(C)
        self.C = C

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, arch: CellArch) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for n, (ia, oa, ib, ob) in enumerate(arch):
            states.append(self.ops[f"{n}_{ia}_{oa}"](states[ia]) + self.ops[f"{n}_{ib}_{ob}"](states[ib]))
        ends = loose_ends(arch)
        x = F.relu(torch.cat([states[s] for s in ends], dim=1))
        w = torch.cat([self.out_weight[:, s * self.C : (s + 1) * self.C] for s in ends], dim=1)
        return self.out_bn(F.conv2d(x, w))


class EnasChild(nn.Module):
    """Stem, ``n_cells`` ENAS cells (reductions at 1/3 and 2/3 of the depth), classifier.

    Set ``arch = {"normal": CellArch, "reduction": CellArch}`` before calling it.
    """

    def __init__(
        self,
        *,
        init_channels: int,
        n_cells: int,
        n_nodes: int,
        ops: Sequence[str],
        in_channels: int,
        n_classes: int,
        stem_multiplier: int = 3,
        stem_stride: int = 1,
        skeleton: str = "darts",
        image_size: int = 32,
    ) -> None:
        super().__init__()
        C = init_channels
        skel = SKELETONS.get(skeleton)
        if skel.n_cell_inputs != 2:
            raise ConfigError(f"ENAS cells read two earlier states; the '{skeleton}' skeleton gives one")
        shape_of = ModelDesc(
            skeleton=skeleton,
            in_channels=in_channels,
            image_size=image_size,
            init_channels=C,
            stem_multiplier=stem_multiplier,
            stem_stride=stem_stride,
        )
        self.stem, shape = skel.build_stem(shape_of)  # the dataset's stem (CIFAR-style, ImageNet...)
        reductions = {n_cells // 3, 2 * n_cells // 3} if n_cells >= 3 else set()
        c_pp, c_p, reduction_prev = shape.c_pp, shape.c_p, shape.reduction_prev
        self.cells = nn.ModuleList()
        for i in range(n_cells):
            reduction = i in reductions
            C = C * 2 if reduction else C
            self.cells.append(EnasCell(c_pp, c_p, C, reduction, reduction_prev, n_nodes, ops))
            c_pp, c_p, reduction_prev = c_p, C, reduction
        self.classifier = nn.Linear(c_p, n_classes)
        self.arch: dict[str, CellArch] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.arch is None:
            raise RuntimeError("EnasChild.arch is not set: sample an architecture first")
        s0, s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.arch["reduction" if cell.reduction else "normal"])
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))
