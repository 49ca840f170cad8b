"""Petridish's growth step on descriptions (Hu et al., NeurIPS 2019).

A parent is grown by one node per cell kind. First a *candidate* node is attached: one mixed
edge per existing state, over the candidate ops, with linear weights; its inputs pass through
stop-gradient and its output joins the cell output through stop-forward, so the parent computes
exactly what it did while the candidate learns which (input, op) pairs would reduce the loss.
The strongest ``k`` pairs (by |weight|, after L1-penalised training) become a real node whose
ops are concatenated and projected (``merge="concat_proj"``, as published; ``"sum"`` adds them)
and that joins the output through a gate initialised to zero: the child starts as its parent's
function.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from archai.space.builder import ModelDescBuilder
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.supernet import MIXED

Selection = dict[str, list[tuple[int, str]]]  # cell kind (or cell<i>, macro) -> [(input state, op)]


SEED_CELLS = ("residual", "sep_conv")
MERGES = ("concat_proj", "sum")


class SeedBuilder(ModelDescBuilder):
    """Seed models: each cell is a chain of ``n_nodes`` nodes, output = last node. A node is
    ``sep_conv_3x3`` of the state before it, plus (``seed_cell="residual"``, the published seed)
    an identity of that state (``skip_connect``: a factorized reduction where the cell reduces).

    Example:
        >>> desc = SeedBuilder(seed_cell="residual", n_cells=3, n_nodes=1, init_channels=8).build()
        >>> [e.op.name for e in desc.cells[0].nodes[0].edges]
        ['sep_conv_3x3', 'skip_connect']
    """

    def __init__(self, seed_cell: str = "residual", **kw) -> None:
        if seed_cell not in SEED_CELLS:
            raise ValueError(f"seed_cell must be one of {SEED_CELLS}, got '{seed_cell}'")
        super().__init__(**kw)
        self.seed_cell = seed_cell

    def make_cell(self, index: int, kind: str, channels: int) -> CellDesc:
        ops = ["sep_conv_3x3", "skip_connect"] if self.seed_cell == "residual" else ["sep_conv_3x3"]
        nodes = [NodeDesc([EdgeDesc(OpDesc(op), 1 + i) for op in ops]) for i in range(self.n_nodes)]
        return CellDesc(kind, channels, nodes, [1 + self.n_nodes])


def join_target(cell: CellDesc) -> int:
    """The output slot new nodes join: the last concatenated state."""
    return cell.concat[-1]


def candidate_desc(
    parent: ModelDesc,
    primitives: Sequence[str],
    kinds: Sequence[str] = ("normal", "reduction"),
    per_cell: bool = False,
) -> ModelDesc:
    """``parent`` with a candidate node (mixed edges over every earlier state, stop-gradient
    inputs, stop-forward join) appended to every cell of ``kinds``. The candidates of a kind
    share one set of weights (cell search); with ``per_cell`` each cell has its own, under the
    group ``cell<i>`` (macro search: every place of the network is a candidate of its own)."""
    desc = copy.deepcopy(parent)
    for ci, cell in enumerate(desc.cells):
        if cell.kind in kinds:
            params = {"candidates": list(primitives), "stop_grad": True}
            if per_cell:
                params["group"] = cell_group(ci)
            n_states = desc.n_cell_inputs + len(cell.nodes)
            cell.nodes.append(
                NodeDesc(
                    [EdgeDesc(OpDesc(MIXED, dict(params)), j) for j in range(n_states)],
                    join_into=join_target(cell),
                    join="stop_forward",
                )
            )
    desc.validate()
    return desc


def cell_group(index: int) -> str:
    """The selection key of one cell in macro search."""
    return f"cell{index}"


def macro_place(weights: dict[str, torch.Tensor], k: int) -> str:
    """The one place a macro child grows: the cell whose ``k`` strongest candidate pairs weigh
    most, each weight relative to its start ``1/n`` (so cells with more states compare fairly)."""

    def score(w: torch.Tensor) -> float:
        flat = w.detach().abs().flatten()
        return float(torch.topk(flat, min(k, flat.numel())).values.sum() * flat.numel())

    return max(sorted(weights), key=lambda g: score(weights[g]))


def select_pairs(weights: torch.Tensor, primitives: Sequence[str], k: int) -> list[tuple[int, str]]:
    """The ``k`` (input, op) pairs with the largest |weight| above zero (an op the L1 penalty
    drove to exactly zero is not chosen; at least one pair is); ``weights`` is (inputs, ops)."""
    flat = weights.detach().abs().flatten()
    top = torch.topk(flat, min(k, flat.numel())).indices.tolist()
    top = [i for i in top if flat[i] > 0] or top[:1]
    n_ops = len(primitives)
    return [(i // n_ops, primitives[i % n_ops]) for i in top]


def _pairs_of(selection: Selection, index: int, cell: CellDesc) -> list[tuple[int, str]] | None:
    """The pairs selected for cell ``index``: its own (macro) or its kind's (cell search)."""
    return selection.get(cell_group(index), selection.get(cell.kind))


def child_desc(parent: ModelDesc, selection: Selection, merge: str = "concat_proj") -> ModelDesc:
    """``parent`` grown by one node per selected cell kind whose ops are merged by ``merge``
    (``concat_proj``: concatenated, then ReLU, 1x1 convolution and batch norm; ``sum``), joined
    into the cell output through a zero gate."""
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got '{merge}'")
    desc = copy.deepcopy(parent)
    for ci, cell in enumerate(desc.cells):
        pairs = _pairs_of(selection, ci, cell)
        if pairs:
            edges = [EdgeDesc(OpDesc(op), j) for j, op in sorted(pairs)]
            cell.nodes.append(NodeDesc(edges, join_into=join_target(cell), merge=merge))
    desc.validate()
    return desc


def child_init_state(
    candidate_state: dict[str, torch.Tensor],
    child: torch.nn.Module,
    parent: ModelDesc,
    selection: Selection,
    primitives: Sequence[str],
) -> dict[str, torch.Tensor]:
    """Initial weights of a child: every parent tensor as trained with the candidates, and each
    new edge's op weights from the candidate op it was chosen from (warm start)."""
    state = child.state_dict()
    for k in state:
        src = "model." + k
        if src in candidate_state and candidate_state[src].shape == state[k].shape:
            state[k] = candidate_state[src].clone()
    for ci, cell in enumerate(parent.cells):
        pairs = _pairs_of(selection, ci, cell)
        if not pairs:
            continue
        node = len(cell.nodes)  # the new node's index
        for e, (j, op) in enumerate(sorted(pairs)):
            src = f"model.cells.{ci}.nodes.{node}.{j}._ops.{list(primitives).index(op)}."
            dst = f"cells.{ci}.nodes.{node}.{e}."
            for key, value in candidate_state.items():
                if key.startswith(src):
                    target = dst + key[len(src) :]
                    if target in state and state[target].shape == value.shape:
                        state[target] = value.clone()
    return state
