"""One-shot supernets: every edge a softmax-weighted mixture of candidate ops (DARTS-style).

The architecture weights (``alphas``) are kept apart from the network weights: one matrix per
cell kind (``normal``, ``reduction``), shared by every cell of that kind, of shape
``(edges per cell, candidates)``. ``weight_parameters()`` and ``arch_parameters()`` split them,
so the trainer's weight optimizer never steps the alphas.

Example:
    >>> desc = SupernetBuilder(init_channels=4, n_cells=3, n_nodes=2, in_channels=1, image_size=8).build()
    >>> net = Supernet(desc)
    >>> net(torch.zeros(2, 1, 8, 8)).shape, tuple(net.alphas["normal"].shape)
    (torch.Size([2, 10]), (5, 8))
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from archai.space.builder import ModelDescBuilder
from archai.space.model import Model
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import (
    DARTS_PRIMITIVES,
    DepthwiseConv2d,
    DilConv,
    after_leading_relu,
    frozen_bn_stats,
    is_channels_last,
    make_op,
    phase_merge,
    phase_split,
)

MIXED = "mixed"


@dataclass(frozen=True)
class MixedOpOptions:
    """How a mixed edge computes its weighted sum; every setting gives the same outputs and
    gradients as the plain sum over every candidate (tested), only time and memory change.

    Attributes:
        skip_none: the ``none`` candidate adds ``w * 0``: skip it (its alpha still gets its
            gradient through the softmax of the others).
        shared_relu: candidates that start with a ReLU (separable and dilated convolutions, the
            strided skip) share one ReLU of the edge's input instead of one each.
        checkpoint: keep only the edge's input and output for backward and recompute the
            candidates then (activation checkpointing: much less memory, one more forward);
            BatchNorm statistics are updated once, not again by the recomputation.
        checkpoint_cells: with ``checkpoint``, only the edges of the first this many cells
            (0: every cell). The first cells work at the highest resolution and hold most of
            the activations, so a few of them buy most of the memory for part of the time.
        dilation_by_phases: on the CPU, dilated convolutions run as undilated ones on
            interleaved sub-grids (:func:`~archai.space.ops.conv_by_phases`): their backward
            pass is then about 3x faster. Other devices keep their native dilated kernels (the
            sub-grids were measured on the CPU only); False keeps them on every device.
        fused_sum: the weighted sum is one autograd node (:func:`weighted_sum`): accumulated
            in place in forward, and each weight's gradient is a dot product in backward,
            instead of a product and a sum per candidate, each a new tensor.
        shared_phases: with ``dilation_by_phases`` and ``shared_relu``, the stride-1 dilated
            candidates of an edge split its input into sub-grids once, not once each; when the
            sizes divide by the dilation, their pointwise convolutions, BatchNorms and weighted
            sum run on the sub-grids too, and one merge serves them all.
        weight_grad_by_blocks: depthwise convolutions with 5x5 kernels take their weight
            gradient from 3x3 blocks where oneDNN's is slow on the CPU
            (:func:`~archai.space.ops.depthwise_conv`); False keeps oneDNN's everywhere.
    """

    skip_none: bool = True
    shared_relu: bool = True
    checkpoint: bool = False
    checkpoint_cells: int = 0
    dilation_by_phases: bool = True
    fused_sum: bool = True
    shared_phases: bool = True
    weight_grad_by_blocks: bool = True


PLAIN = MixedOpOptions(
    skip_none=False,
    shared_relu=False,
    checkpoint=False,
    dilation_by_phases=False,
    fused_sum=False,
    shared_phases=False,
    weight_grad_by_blocks=False,
)


def _flat(t: torch.Tensor) -> torch.Tensor | None:
    """``t``'s elements as a 1-d view in memory order, or None when it is not densely packed
    (contiguous or channels-last)."""
    if t.is_contiguous():
        return t.view(-1)
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return t.permute(0, 2, 3, 1).reshape(-1)  # a view: the permuted tensor is contiguous
    return None


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(a * b).sum()`` without the product tensor when both share a dense layout."""
    fa, fb = _flat(a), _flat(b)
    if fa is not None and fb is not None and a.stride() == b.stride() and a.dtype == b.dtype:
        return torch.dot(fa, fb)
    return (a * b).sum()


class _WeightedSum(torch.autograd.Function):
    """``sum_i w[i] * ys[i]`` as one node (see :func:`weighted_sum`)."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, *ys: torch.Tensor) -> torch.Tensor:
        out = ys[0] * w[0]
        for i in range(1, len(ys)):
            out.addcmul_(ys[i], w[i])
        ctx.save_for_backward(w, *(ys if ctx.needs_input_grad[0] else ()))
        ctx.channels_last = is_channels_last(out)
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        w, *ys = ctx.saved_tensors
        # The gradient often arrives as a channel slice of the cell's concatenated output: not
        # densely packed. One copy into the output's layout spares every candidate's backward
        # (and the products below) the slow strided path.
        g = g.contiguous(memory_format=torch.channels_last if ctx.channels_last else torch.contiguous_format)
        grad_w = None
        if ctx.needs_input_grad[0]:
            grad_w = torch.stack([_dot(g, y).to(w.dtype) for y in ys])
        grad_ys = [
            g * w[i] if ctx.needs_input_grad[i + 1] else None for i in range(len(ctx.needs_input_grad) - 1)
        ]
        return (grad_w, *grad_ys)


def _plain_sum(w: torch.Tensor, ys: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum(w[i] * ys[i])`` as autograd records it op by op (the reference)."""
    return sum(wi * y for wi, y in zip(w, ys))


def weighted_sum(w: torch.Tensor, ys: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum(w[i] * ys[i])``, the same value and gradients in fewer passes over memory.

    Forward allocates one tensor and accumulates into it; backward gives each ``ys[i]`` the
    gradient ``w[i] * g`` and ``w`` (only when it requires a gradient; only then are the
    ``ys`` kept) the dot products ``<g, ys[i]>``.

    Example:
        >>> w = torch.tensor([0.25, 0.75], requires_grad=True)
        >>> out = weighted_sum(w, [torch.ones(2, 2), torch.full((2, 2), 2.0)])
        >>> out.sum().backward()
        >>> out[0, 0].item(), w.grad.tolist()
        (1.75, [4.0, 8.0])
    """
    if any(y.dtype != ys[0].dtype for y in ys):  # let type promotion decide, as the plain sum does
        return _plain_sum(w, ys)
    return _WeightedSum.apply(w, *ys)


class ArchWeights:
    """Holds the mixing weights of the current forward pass; shared by a supernet's mixed ops."""

    def __init__(self) -> None:
        self.weights: dict[str, torch.Tensor] = {}


class MixedOp(nn.Module):
    """Weighted sum of candidate ops; the weights come from the supernet at each forward.

    With ``stop_grad`` the input is detached: the ops learn from the loss without sending
    gradients into the rest of the network (Petridish's candidate layers).
    """

    def __init__(
        self,
        candidates: Sequence[str],
        C: int,
        stride: int,
        context: ArchWeights,
        kind: str,
        index: int,
        stop_grad: bool = False,
        options: MixedOpOptions = MixedOpOptions(),
    ) -> None:
        super().__init__()
        self.stop_grad = stop_grad
        self.options = options
        self.candidates = list(candidates)
        self._ops = nn.ModuleList()
        for name in candidates:
            op = make_op(name, C, stride, False)
            for m in op.modules():
                if isinstance(m, DepthwiseConv2d):
                    m.by_phases = None if options.dilation_by_phases else False  # None: on the CPU
                    m.weight_grad_by_blocks = options.weight_grad_by_blocks
            if "pool" in name:  # as published: pooling is followed by a non-affine BatchNorm
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)
        self.context, self.kind, self.index = context, kind, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.context.weights[self.kind][self.index]
        if self.stop_grad:
            x = x.detach()
        if self.options.checkpoint and torch.is_grad_enabled() and self.training:
            return checkpoint(self._mix, x, w, use_reentrant=False, context_fn=self._recompute_context)
        return self._mix(x, w)

    def _mix(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        opts = self.options
        if opts == PLAIN:
            return _plain_sum(w, [op(x) for op in self._ops])
        relu = None
        index, ys = [], []
        phased: dict[int, list[tuple[int, DilConv]]] = {}  # dilation -> the candidates run on sub-grids
        for i, (name, op) in enumerate(zip(self.candidates, self._ops)):
            if opts.skip_none and name == "none":
                continue
            tail = after_leading_relu(op) if opts.shared_relu else None
            if tail is not None:
                relu = F.relu(x) if relu is None else relu
                if opts.shared_phases and type(op) is DilConv and op[1].stride[0] == 1 and op[1].phases(relu):
                    phased.setdefault(op[1].dilation[0], []).append((i, op))
                    continue
                ys.append(tail(relu))
            else:
                ys.append(op(x))
            index.append(i)
        merged = []
        for d, members in phased.items():
            xs, size = phase_split(relu, d), relu.shape[-2:]
            if size[0] % d or size[1] % d:  # padded sub-grids: merge (and crop) before BatchNorm
                for i, op in members:
                    ys.append(op[3](op[2](phase_merge(op[1].forward_on_phases(xs), d, size))))
                    index.append(i)
                continue
            # pointwise convolution and BatchNorm see the same pixels, only in another order
            zs = [op[3](op[2](op[1].forward_on_phases(xs))) for _, op in members]
            merged.append(phase_merge(self._weighted(w[[i for i, _ in members]], zs), d, size))
        if not ys and not merged:  # only 'none' candidates
            return _plain_sum(w, [op(x) for op in self._ops])
        if not ys:
            return sum(merged[1:], merged[0])
        out = self._weighted(w if index == list(range(len(w))) else w[index], ys)
        for m in merged:
            out = out.add_(m)  # out is the weighted sum's own new tensor
        return out

    def _weighted(self, w: torch.Tensor, ys: list[torch.Tensor]) -> torch.Tensor:
        return weighted_sum(w, ys) if self.options.fused_sum else _plain_sum(w, ys)

    def _recompute_context(self):
        return contextlib.nullcontext(), frozen_bn_stats(self)


class SupernetBuilder(ModelDescBuilder):
    """Cells whose nodes take a mixed edge from every earlier state (the DARTS search space)."""

    def __init__(self, primitives: Sequence[str] = DARTS_PRIMITIVES, **kw: Any) -> None:
        kw.setdefault("affine", False)
        super().__init__(**kw)
        self.primitives = list(primitives)

    def make_cell(self, index: int, kind: str, channels: int) -> CellDesc:
        op = OpDesc(MIXED, {"candidates": list(self.primitives)})
        nodes = [NodeDesc([EdgeDesc(op, j) for j in range(2 + i)]) for i in range(self.n_nodes)]
        return CellDesc(kind, channels, nodes, list(range(2, 2 + self.n_nodes)))


def _edge_counts(desc: ModelDesc) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cell in desc.cells:
        n = sum(1 for node in cell.nodes for e in node.edges if e.op.name == MIXED)
        if counts.setdefault(cell.kind, n) != n:
            raise ValueError(f"all {cell.kind} cells of a supernet must have the same mixed edges")
    return counts


class Supernet(nn.Module):
    """A :class:`~archai.space.model.Model` whose ``mixed`` edges share per-kind alphas.

    ``weighting="softmax"`` mixes by the softmax of the alphas (DARTS); ``"linear"`` uses the
    alphas as they are (Petridish, with an L1 penalty added by the trainer). ``options`` choose
    how mixed edges compute (:class:`MixedOpOptions`; ``PLAIN`` is the per-op reference).
    """

    def __init__(
        self,
        desc: ModelDesc,
        alpha_init: float = 1e-3,
        weighting: str = "softmax",
        options: MixedOpOptions = MixedOpOptions(),
    ) -> None:
        super().__init__()
        if weighting not in ("softmax", "linear"):
            raise ValueError(f"weighting must be 'softmax' or 'linear', got '{weighting}'")
        self.weighting = weighting
        self.context = ArchWeights()
        candidates = {}
        for cell in desc.cells:
            for node in cell.nodes:
                for e in node.edges:
                    if e.op.name == MIXED:
                        candidates.setdefault(cell.kind, list(e.op.params["candidates"]))
        self.candidates = candidates
        counter: dict[tuple[int, str], int] = {}

        def build_edge(
            edge: EdgeDesc, C: int, stride: int, affine: bool, where: tuple[int, int, int]
        ) -> nn.Module:
            cell_index = where[0]
            kind = desc.cells[cell_index].kind
            if edge.op.name != MIXED:
                return make_op(edge.op.name, C, stride, affine)
            i = counter.get((cell_index, kind), 0)
            counter[(cell_index, kind)] = i + 1
            return MixedOp(
                edge.op.params["candidates"],
                C,
                stride,
                self.context,
                kind,
                i,
                stop_grad=bool(edge.op.params.get("stop_grad", False)),
                options=options
                if not options.checkpoint_cells or cell_index < options.checkpoint_cells
                else dataclasses.replace(options, checkpoint=False),
            )

        self.model = Model(desc, build_edge)
        self.alphas = nn.ParameterDict(
            {
                kind: nn.Parameter(alpha_init * torch.randn(n, len(candidates[kind])))
                for kind, n in _edge_counts(desc).items()
                if kind in candidates
            }
        )

    @property
    def desc(self) -> ModelDesc:
        return self.model.desc

    @property
    def drop_path_prob(self) -> float:
        return self.model.drop_path_prob

    @drop_path_prob.setter
    def drop_path_prob(self, p: float) -> None:
        self.model.drop_path_prob = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.context.weights = {k: self._mix(a) for k, a in self.alphas.items()}
        return self.model(x)

    def _mix(self, a: torch.Tensor) -> torch.Tensor:
        return F.softmax(a, dim=-1) if self.weighting == "softmax" else a

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.model.parameters())

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas.values())

    def mixing_weights(self) -> dict[str, torch.Tensor]:
        """The mixing weights per cell kind, detached: ``{kind: (mixed edges, candidates)}``."""
        return {k: self._mix(a.detach()) for k, a in self.alphas.items()}


def finalize_cell(
    cell: CellDesc, weights: torch.Tensor, k: int = 2, exclude: Sequence[str] = ("none",)
) -> CellDesc:
    """The discrete cell of a mixed cell: per node the ``k`` incoming edges whose best
    non-excluded op is strongest, each with that op (as DARTS derives its genotype)."""
    nodes, row = [], 0
    for node in cell.nodes:
        scored = []
        for edge in node.edges:
            cands = edge.op.params["candidates"]
            w = weights[row]
            row += 1
            best = max((j for j, name in enumerate(cands) if name not in exclude), key=lambda j: float(w[j]))
            scored.append((float(w[best]), edge.input, cands[best]))
        top = sorted(scored, key=lambda t: -t[0])[:k]
        nodes.append(NodeDesc([EdgeDesc(OpDesc(op), inp) for _, inp, op in top]))
    return CellDesc(cell.kind, cell.channels, nodes, list(cell.concat))


def finalize_supernet(net: Supernet, k: int = 2, exclude: Sequence[str] = ("none",)) -> ModelDesc:
    """The discrete description of a supernet (same skeleton, ``k`` edges per node)."""
    desc = net.desc
    weights = net.mixing_weights()
    cells = [finalize_cell(c, weights[c.kind], k, exclude) if c.kind in weights else c for c in desc.cells]
    return dataclasses.replace(desc, cells=cells, affine=True, meta=dict(desc.meta))
