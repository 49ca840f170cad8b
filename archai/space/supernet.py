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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from archai.space.builder import ModelDescBuilder
from archai.space.model import Cell, Model
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import (
    DARTS_PRIMITIVES,
    DepthwiseConv2d,
    DilConv,
    batch_norm_in_training,
    ends_with_plain_bn,
    is_channels_last,
    leads_with_relu,
    make_op,
    op_stages,
    phase_merge,
    phase_split,
    run_stages,
    scaled_batch_norm,
    track_batch_stats,
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
        checkpoint: keep only each cell's inputs and output for backward and recompute the
            cell then (activation checkpointing, :class:`~archai.space.model.Cell`: much less
            memory, one more forward); BatchNorm statistics are updated once, not again by the
            recomputation.
        checkpoint_cells: with ``checkpoint``, only the first this many cells (0: every cell). The first cells work at the highest resolution and hold most of
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
        scale_in_bn: a candidate that ends in a non-affine BatchNorm (the separable and dilated
            convolutions, the strided skip, and the pooling candidates unless
            ``share_across_edges`` computes those once for several edges) takes its mixing weight
            as that BatchNorm's scale (:func:`~archai.space.ops.scaled_batch_norm`): the weight's
            gradient then comes from the BatchNorm's backward kernel, and the candidate's output
            is not kept for it (less memory in the architecture pass, no product per candidate).
        share_across_edges: the edges of one cell that read the same state compute from it
            once what needs no weights of their own (:class:`SharedWork`): the shared ReLU, its
            sub-grids, and the pooling candidates with their BatchNorms (whose inputs, and so
            batch statistics, are the same on every such edge: one normalizes, and each of the
            others updates its running statistics from the same batch statistics). A cell of
            four nodes has 14 edges but reads 5 states.
    """

    skip_none: bool = True
    shared_relu: bool = True
    checkpoint: bool = False
    checkpoint_cells: int = 0
    dilation_by_phases: bool = True
    fused_sum: bool = True
    shared_phases: bool = True
    weight_grad_by_blocks: bool = True
    scale_in_bn: bool = True
    share_across_edges: bool = True


PLAIN = MixedOpOptions(
    skip_none=False,
    shared_relu=False,
    checkpoint=False,
    dilation_by_phases=False,
    fused_sum=False,
    shared_phases=False,
    weight_grad_by_blocks=False,
    scale_in_bn=False,
    share_across_edges=False,
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
    """``sum_i w[i] * ys[i] + sum_j extra[j]`` as one node (see :func:`weighted_sum`); the
    first ``n`` of ``ys`` are the weighted terms."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, n: int, *ys: torch.Tensor) -> torch.Tensor:
        if n:
            out = ys[0] * w[0]
            for i in range(1, n):
                out.addcmul_(ys[i], w[i])
            rest = ys[n:]
        else:  # two or more unweighted terms
            out, rest = ys[0] + ys[1], ys[2:]
        for y in rest:
            out.add_(y)
        ctx.n = n
        ctx.save_for_backward(w, *(ys[:n] if ctx.needs_input_grad[0] else ()))
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
            grad_w = torch.stack([_dot(g, y).to(w.dtype) for y in ys]) if ys else torch.zeros_like(w)
        wants = ctx.needs_input_grad[2:]
        grad_ys = [(g * w[i] if i < ctx.n else g) if wants[i] else None for i in range(len(wants))]
        return (grad_w, None, *grad_ys)


def _plain_sum(
    w: torch.Tensor, ys: Sequence[torch.Tensor], extra: Sequence[torch.Tensor] = ()
) -> torch.Tensor:
    """``sum(w[i] * ys[i]) + sum(extra)`` as autograd records it op by op (the reference)."""
    return sum((wi * y for wi, y in zip(w, ys)), sum(extra[1:], extra[0]) if extra else 0)


def weighted_sum(
    w: torch.Tensor, ys: Sequence[torch.Tensor], extra: Sequence[torch.Tensor] = ()
) -> torch.Tensor:
    """``sum(w[i] * ys[i]) + sum(extra)``, the same value and gradients in fewer passes over memory.

    Forward allocates one tensor and accumulates into it; backward makes the incoming gradient
    ``g`` dense once, gives each ``ys[i]`` the gradient ``w[i] * g``, each ``extra`` term ``g``
    itself, and ``w`` (only when it requires a gradient; only then are the ``ys`` kept) the dot
    products ``<g, ys[i]>``. ``extra`` holds terms that already carry their weight
    (:func:`~archai.space.ops.scaled_batch_norm`).

    Example:
        >>> w = torch.tensor([0.25, 0.75], requires_grad=True)
        >>> out = weighted_sum(w, [torch.ones(2, 2), torch.full((2, 2), 2.0)])
        >>> out.sum().backward()
        >>> out[0, 0].item(), w.grad.tolist()
        (1.75, [4.0, 8.0])
    """
    terms = [*ys, *extra]
    if len(w) != len(ys) or not terms:
        raise ValueError(
            f"weighted_sum needs one weight per term and a term: {len(w)} weights, {len(ys)} terms"
        )
    if any(y.dtype != terms[0].dtype for y in terms):  # let type promotion decide, as the plain sum does
        return _plain_sum(w, ys, extra)
    if not ys and len(extra) == 1:
        return extra[0]
    return _WeightedSum.apply(w, len(ys), *terms)


class SharedWork:
    """What the mixed edges of one cell compute once from a state they all read.

    Inside :meth:`scope` (entered by :class:`~archai.space.model.Cell` around each forward of
    its nodes, a checkpointed cell's recomputation included), :meth:`get` computes ``make()``
    the first time it is asked for ``key`` of the tensor ``x`` and then returns that result;
    outside any scope it just calls ``make()``. Entries hold ``x`` itself, so its id cannot be
    reused while they live, and end with the scope.

    Example:
        >>> shared, x, calls = SharedWork(), torch.ones(2), []
        >>> with shared.scope():
        ...     a = shared.get(x, "relu", lambda: calls.append(1) or x.relu())
        ...     b = shared.get(x, "relu", lambda: calls.append(1) or x.relu())
        >>> a is b, len(calls)
        (True, 1)
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[torch.Tensor, dict[Any, Any]]] | None = None

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        outer, self._entries = self._entries, {}
        try:
            yield
        finally:
            self._entries = outer

    def get(self, x: torch.Tensor, key: Any, make: Callable[[], Any]) -> Any:
        if self._entries is None:
            return make()
        held = self._entries.get(id(x))
        if held is None or held[0] is not x:
            held = self._entries[id(x)] = (x, {})
        if key not in held[1]:
            held[1][key] = make()
        return held[1][key]


#: a path through a supernet: per cell kind, per mixed edge (in order), the candidates that run
#: (indices into the edge's ``candidates``; empty: the edge adds nothing)
SupernetPath = dict[str, list[tuple[int, ...]]]


class ArchWeights:
    """Holds the mixing weights of the current forward pass, and the work its edges share
    (:class:`SharedWork`); shared by a supernet's mixed ops."""

    def __init__(self) -> None:
        self.weights: dict[str, torch.Tensor] = {}
        #: one path through the supernet (per cell kind, per mixed edge: the candidates that run),
        #: or None to mix every candidate by its weight
        self.path: SupernetPath | None = None
        #: with a path: binary gates (per cell kind, mixed edges x candidates) that make each edge
        #: ``sum_j gate[j] * op_j(x)`` over its path's candidates, of which only the first sends a
        #: gradient to ``x`` (ProxylessNAS' binarized paths: :meth:`MixedOp.forward`)
        self.gates: dict[str, torch.Tensor] | None = None
        self.shared = SharedWork()

    def pinned(self) -> contextlib.AbstractContextManager:
        """A context manager that, entered later, runs with the weights (and path) of now (a
        checkpointed cell's recomputation in backward, after other forwards may have set others)."""
        weights, path, gates = self.weights, self.path, self.gates

        @contextlib.contextmanager
        def restored() -> Iterator[None]:
            outer = (self.weights, self.path, self.gates)
            self.weights, self.path, self.gates = weights, path, gates
            try:
                yield
            finally:
                self.weights, self.path, self.gates = outer

        return restored()


#: Modules a candidate may consist of to be computed once for every edge reading the same
#: state: deterministic and without weights of their own (see ``share_across_edges``).
_SHAREABLE = (nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d, nn.ReLU)


def _shareable(stages: list) -> bool:
    return all(type(s) in _SHAREABLE and next(s.parameters(), None) is None for s in stages)


class MixedOp(nn.Module):
    """Weighted sum of candidate ops; the weights come from the supernet at each forward.

    With ``stop_grad`` the input is detached: the ops learn from the loss without sending
    gradients into the rest of the network (Petridish's candidate layers). ``c_in`` (default
    ``C``) is the channel count the candidates read; ``affine``: their BatchNorms' (False, as
    DARTS searches; the ``mobilenet`` space's supernet keeps them, as ProxylessNAS does).
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
        c_in: int | None = None,
        affine: bool = False,
    ) -> None:
        super().__init__()
        self.stop_grad = stop_grad
        self.stride = stride
        self.options = options
        self.candidates = list(candidates)
        self._ops = nn.ModuleList()
        for name in candidates:
            op = make_op(name, C, stride, affine, c_in)
            for m in op.modules():
                if isinstance(m, DepthwiseConv2d):
                    m.by_phases = None if options.dilation_by_phases else False  # None: on the CPU
                    m.weight_grad_by_blocks = options.weight_grad_by_blocks
            if "pool" in name:  # as published: pooling is followed by a non-affine BatchNorm
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)
        self.context, self.kind, self.index = context, kind, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.context.path is not None:
            chosen = self.context.path[self.kind][self.index]
            if self.context.gates is not None:
                return self._run_gated(x, chosen, self.context.gates[self.kind][self.index])
            return self._run_path(x, chosen)
        w = self.context.weights[self.kind][self.index]
        if self.stop_grad:  # one detached tensor per state, so that such edges share work too
            x = self._shared().get(x, "detached", x.detach)
        return self._mix(x, w)

    def _run_path(self, x: torch.Tensor, chosen: tuple[int, ...]) -> torch.Tensor:
        """Only the ``chosen`` candidates, summed (one path, as ENAS trains its shared child);
        none chosen: zeros of the output's shape."""
        if self.stop_grad:
            x = x.detach()
        if not chosen:
            return x[:, :, :: self.stride, :: self.stride].mul(0.0)
        out = self._ops[chosen[0]](x)
        for j in chosen[1:]:
            out = out + self._ops[j](x)
        return out

    def _run_gated(self, x: torch.Tensor, chosen: tuple[int, ...], gates: torch.Tensor) -> torch.Tensor:
        """``sum_j gates[j] * op_j(x)`` over the ``chosen`` candidates: the first (the active
        path) as usual, the others without autograd (they send no gradient to ``x`` or their
        weights, and keep no activations), so each gate's gradient is ``<grad_out, op_j(x)>``
        while ``x`` gets the active path's gradient, as ProxylessNAS' binarized edges compute."""
        if self.stop_grad:
            x = x.detach()
        ys = [self._ops[chosen[0]](x)]
        with torch.no_grad():
            ys += [self._ops[j](x) for j in chosen[1:]]
        return weighted_sum(gates[list(chosen)], ys)

    def _shared(self) -> SharedWork:
        """The work shared with the cell's other edges; with the lever off, one outside any
        scope (it shares nothing)."""
        return self.context.shared if self.options.share_across_edges else SharedWork()

    def _mix(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        opts = self.options
        if opts == PLAIN:
            return _plain_sum(w, [op(x) for op in self._ops])
        ws = w.unbind(0) if opts.scale_in_bn else ()  # one autograd node for every scale
        shared = self._shared()
        relu = None
        index, ys, scaled = [], [], []  # scaled: terms that already carry their weight

        def add(i: int, stages: list, inp: torch.Tensor) -> None:
            if opts.scale_in_bn and ends_with_plain_bn(stages):
                scaled.append(scaled_batch_norm(stages[-1], run_stages(stages[:-1], inp), ws[i]))
            else:
                ys.append(run_stages(stages, inp))
                index.append(i)

        phased: dict[int, list[tuple[int, DilConv]]] = {}  # dilation -> the candidates run on sub-grids
        for i, (name, op) in enumerate(zip(self.candidates, self._ops)):
            if opts.skip_none and name == "none":
                continue
            stages = op_stages(op)  # every forward: the ops' modules as they are now
            if opts.share_across_edges and _shareable(stages):
                ys.append(self._shared_candidate(shared, name, stages, x))
                index.append(i)
            elif opts.shared_relu and leads_with_relu(stages):
                relu = shared.get(x, "relu", lambda: F.relu(x)) if relu is None else relu
                if opts.shared_phases and type(op) is DilConv and op[1].stride[0] == 1 and op[1].phases(relu):
                    phased.setdefault(op[1].dilation[0], []).append((i, op))
                else:
                    add(i, stages[1:], relu)
            else:
                add(i, stages, x)
        for d, members in phased.items():
            xs, size = shared.get(relu, ("phases", d), lambda d=d: phase_split(relu, d)), relu.shape[-2:]
            if size[0] % d or size[1] % d:  # padded sub-grids: merge (and crop) before BatchNorm
                for i, op in members:
                    add(i, [op[2], op[3]], phase_merge(op[1].forward_on_phases(xs), d, size))
                continue
            # pointwise convolution and BatchNorm see the same pixels, only in another order
            zs = [op[2](op[1].forward_on_phases(xs)) for _, op in members]
            if opts.scale_in_bn:
                group = self._weighted(
                    w.new_empty(0),
                    [],
                    [scaled_batch_norm(op[3], z, ws[i]) for (i, op), z in zip(members, zs)],
                )
            else:
                group = self._weighted(
                    w[[i for i, _ in members]], [op[3](z) for (_, op), z in zip(members, zs)]
                )
            scaled.append(phase_merge(group, d, size))
        if not ys and not scaled:  # only 'none' candidates
            return _plain_sum(w, [op(x) for op in self._ops])
        if index != list(range(len(w))):
            w = w[index] if index else w.new_empty(0)
        return self._weighted(w, ys, scaled)

    def _shared_candidate(self, shared: SharedWork, name: str, stages: list, x: torch.Tensor) -> torch.Tensor:
        """A candidate without weights (pooling and its BatchNorm) on ``x``, computed by the first
        edge of the cell that reads ``x``. Normalized by batch statistics, its output is the
        same on every such edge, and each other edge's BatchNorm takes the batch's statistics
        into its running ones; normalized by running statistics (eval), each edge applies its own."""
        bn = stages[-1] if isinstance(stages[-1], nn.BatchNorm2d) else None
        body = stages[:-1] if bn is not None else stages
        y = shared.get(x, (name, self.stride), lambda: run_stages(body, x))
        if bn is None:
            return y
        if not bn.training and bn.running_mean is not None:
            return bn(y)
        if not bn.training:  # eval without running statistics: batch statistics, nothing to track
            return shared.get(x, (name, self.stride, bn.eps), lambda: bn(y))
        first, out, mean, var = shared.get(
            x, (name, self.stride, bn.eps), lambda: (bn, *batch_norm_in_training(bn, y))
        )
        if bn is not first:
            track_batch_stats(bn, mean, var)
        return out

    def _weighted(
        self, w: torch.Tensor, ys: list[torch.Tensor], extra: list[torch.Tensor] = ()
    ) -> torch.Tensor:
        return weighted_sum(w, ys, extra) if self.options.fused_sum else _plain_sum(w, ys, extra)


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


def alpha_key(cell: CellDesc, edge: EdgeDesc) -> str:
    """The alphas a mixed edge reads: its cell kind's, or its op's ``group`` (a Petridish macro
    candidate: one cell's own)."""
    return str(edge.op.params.get("group", cell.kind))


def _edge_counts(desc: ModelDesc) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cell in desc.cells:
        own: dict[str, int] = {}
        for node in cell.nodes:
            for e in node.edges:
                if e.op.name == MIXED:
                    key = alpha_key(cell, e)
                    own[key] = own.get(key, 0) + 1
        for key, n in own.items():
            if counts.setdefault(key, n) != n:
                raise ValueError(
                    f"all cells sharing the {key} alphas of a supernet must have the same mixed edges"
                )
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
                        candidates.setdefault(alpha_key(cell, e), list(e.op.params["candidates"]))
        self.candidates = candidates
        counter: dict[tuple[int, str], int] = {}

        def build_edge(
            edge: EdgeDesc,
            C: int,
            stride: int,
            affine: bool,
            where: tuple[int, int, int],
            c_in: int | None = None,
        ) -> nn.Module:
            cell_index = where[0]
            if edge.op.name != MIXED:
                return make_op(edge.op.name, C, stride, affine, c_in)
            kind = alpha_key(desc.cells[cell_index], edge)
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
                options=options,
                c_in=c_in,
                affine=bool(edge.op.params.get("affine", False)),
            )

        self.model = Model(desc, build_edge)
        for i, cell in enumerate(self.model.cells):
            if isinstance(cell, Cell) and any(isinstance(m, MixedOp) for m in cell.modules()):
                cell.checkpoint = options.checkpoint and (
                    not options.checkpoint_cells or i < options.checkpoint_cells
                )
                cell.scope = self.context.shared.scope
                cell.recompute_context = self.context.pinned
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

    @property
    def path(self) -> SupernetPath | None:
        """One path through the supernet (see :data:`SupernetPath`; a space's ``path(supernet, desc)``
        gives the one of a description), or None (the default) to mix every candidate."""
        return self.context.path

    @path.setter
    def path(self, path: SupernetPath | None) -> None:
        self.context.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.context.path is None:
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


def finalize_desc(
    desc: ModelDesc, weights: Mapping[str, torch.Tensor], k: int = 2, exclude: Sequence[str] = ("none",)
) -> ModelDesc:
    """The discrete description of a supernet description ``desc`` for mixing ``weights``
    (per cell kind, as :meth:`Supernet.mixing_weights` gives them): same skeleton, ``k`` edges
    per node (:func:`finalize_cell`)."""
    cells = [finalize_cell(c, weights[c.kind], k, exclude) if c.kind in weights else c for c in desc.cells]
    return dataclasses.replace(desc, cells=cells, affine=True, meta=dict(desc.meta))


def finalize_supernet(net: Supernet, k: int = 2, exclude: Sequence[str] = ("none",)) -> ModelDesc:
    """The discrete description of a supernet (same skeleton, ``k`` edges per node)."""
    return finalize_desc(net.desc, net.mixing_weights(), k, exclude)
