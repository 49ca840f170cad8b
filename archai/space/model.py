"""``nn.Module`` networks built from a :class:`~archai.space.model_desc.ModelDesc`.

Example:
    >>> from archai.space.genotypes import genotype_to_desc, GENOTYPES
    >>> desc = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=16, n_cells=8)
    >>> model = build_model(desc).eval()
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from archai.common.errors import UnknownNameError
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc
from archai.space.ops import (
    OPS,
    ChannelChangeError,
    FactorizedReduce,
    Identity,
    ReLUConvBN,
    frozen_bn_stats,
    make_op,
)

#: ``(edge, channels, stride, affine, (cell, node, edge) indices) -> module``; lets a searcher
#: build special edges (a DARTS mixed op) while the library builds everything else. An edge
#: that reads another channel count than the cell writes (the first layer of a ``mobilenet``
#: stage) is built with the keyword ``c_in`` as well.
EdgeBuilder = Callable[..., nn.Module]


def default_edge_builder(
    edge: EdgeDesc, C: int, stride: int, affine: bool, where: tuple[int, int, int], c_in: int | None = None
) -> nn.Module:
    cell, node, e = where
    if edge.op.name not in OPS:
        raise UnknownNameError(f"cell {cell} node {node} edge {e}: {OPS.unknown_message(edge.op.name)}")
    try:
        return make_op(edge.op.name, C, stride, affine, c_in)
    except ChannelChangeError as err:
        raise ChannelChangeError(f"cell {cell} node {node} edge {e}: {err}") from None


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zeroes whole samples with probability ``drop_prob`` and rescales the rest."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


class Cell(nn.Module):
    """A DAG cell: preprocess the inputs, each node sums its edges, concatenate ``concat``.

    Settings for whoever builds the model (all off by default):

    - ``checkpoint``: in training with gradients, keep only the cell's inputs and output for
      backward and recompute the rest then (activation checkpointing: much less memory, one
      more forward of the cell); BatchNorm statistics are updated once, not again by the
      recomputation.
    - ``scope``: a callable returning a context manager that is entered around every forward of
      the cell's preprocessing and nodes, a recomputation included; supernets use it to let
      the edges of one cell share work (:class:`~archai.space.supernet.SharedWork`).
    - ``recompute_context``: a callable that a checkpointed forward calls when it runs; the
      context manager it returns is entered around that forward's recomputation in backward
      (supernets use it to recompute with the mixing weights of that forward, whatever
      forwards ran in between).
    """

    def __init__(
        self,
        desc: CellDesc,
        index: int,
        c_pp: int,
        c_p: int,
        reduction_prev: bool,
        n_inputs: int,
        affine: bool,
        edge_builder: EdgeBuilder,
    ) -> None:
        super().__init__()
        C = desc.channels
        self.n_inputs = n_inputs
        self.concat = list(desc.concat)
        if n_inputs == 2:
            self.preprocess0 = (
                FactorizedReduce(c_pp, C, affine) if reduction_prev else ReLUConvBN(c_pp, C, 1, 1, 0, affine)
            )
            self.preprocess1 = ReLUConvBN(c_p, C, 1, 1, 0, affine)
        self.nodes = nn.ModuleList()
        self.inputs: list[list[int]] = []
        for ni, node in enumerate(desc.nodes):
            ops = nn.ModuleList()
            for ei, edge in enumerate(node.edges):
                stride = 2 if desc.kind == "reduction" and edge.input < n_inputs else 1
                # a one-input cell's input may be narrower (a mobilenet stage that widens the network)
                wider = n_inputs == 1 and edge.input == 0 and c_p != C
                kw = {"c_in": c_p} if wider else {}
                ops.append(edge_builder(edge, C, stride, affine, (index, ni, ei), **kw))
            self.nodes.append(ops)
            self.inputs.append([e.input for e in node.edges])
        # joined nodes: output slot j += gate * node (gate starts at zero), or += stop_forward(node)
        self.joins = {
            n_inputs + ni: node.join_into for ni, node in enumerate(desc.nodes) if node.join_into is not None
        }
        self.stop_forward = {
            n_inputs + ni for ni, node in enumerate(desc.nodes) if node.join == "stop_forward"
        }
        self.gates = nn.ParameterDict(
            {str(s): nn.Parameter(torch.zeros(1)) for s in self.joins if s not in self.stop_forward}
        )
        # concat_proj nodes: ReLU, 1x1 convolution of the concatenated edges back to C, batch norm
        self.projections = nn.ModuleDict(
            {
                str(ni): nn.Sequential(
                    nn.ReLU(inplace=False),
                    nn.Conv2d(C * len(node.edges), C, 1, bias=False),
                    nn.BatchNorm2d(C, affine=affine),
                )
                for ni, node in enumerate(desc.nodes)
                if node.merge == "concat_proj"
            }
        )
        #: stop-forward joins send back ``scale`` times the gradient (Petridish's candidate eps)
        self.stop_forward_scale = 1.0
        self.checkpoint = False
        self.scope: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
        self.recompute_context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        if self.checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(
                self._scoped_forward,
                s0,
                s1,
                drop_prob,
                use_reentrant=False,
                context_fn=self._checkpoint_contexts,
            )
        return self._scoped_forward(s0, s1, drop_prob)

    def _checkpoint_contexts(
        self,
    ) -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
        pinned = self.recompute_context()  # called as the forward runs: it may capture that forward's state

        @contextlib.contextmanager
        def recompute() -> Iterator[None]:
            with frozen_bn_stats(self), pinned:
                yield

        return contextlib.nullcontext(), recompute()

    def _scoped_forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        with self.scope():
            return self._forward(s0, s1, drop_prob)

    def _forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)] if self.n_inputs == 2 else [s1]
        for ni, (ops, inputs) in enumerate(zip(self.nodes, self.inputs)):
            hs = []
            for op, i in zip(ops, inputs):
                h = op(states[i])
                if self.training and drop_prob > 0 and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob)
                hs.append(h)
            proj = self.projections[str(ni)] if str(ni) in self.projections else None
            states.append(proj(torch.cat(hs, dim=1)) if proj is not None else sum(hs[1:], hs[0]))
        if len(self.concat) == 1 and not self.joins:
            return states[self.concat[0]]
        outs = {s: states[s] for s in self.concat}
        for node_state, target in self.joins.items():
            x = states[node_state]
            if node_state in self.stop_forward:  # zero forward, scaled gradients flow back
                x = x * self.stop_forward_scale if self.stop_forward_scale != 1.0 else x
                outs[target] = outs[target] + (x - x.detach())
            else:
                outs[target] = outs[target] + self.gates[str(node_state)] * x
        return torch.cat([outs[s] for s in self.concat], dim=1)


class ResBlock(nn.Module):
    """The ResNet basic block NAS-Bench-201 uses between stages (stride 2). The shortcut's pooling
    rounds up, so odd maps (7x7 of a 28x28 image after a stride-2 stem) match the conv path;
    even maps, the benchmark's, are pooled as published."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, True)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, True)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, 2, ceil_mode=True), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        return self.downsample(s1) + self.conv_b(self.conv_a(s1))


class AuxHead(nn.Module):
    """Auxiliary classifier (Szegedy et al.) as in the DARTS evaluation networks; ``pool`` (the
    skeleton's :meth:`~archai.space.skeletons.Skeleton.aux_pool`) shrinks the maps first."""

    def __init__(self, C: int, n_classes: int, pool: nn.Module) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            pool,
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if x.shape[-1] > 1:
            x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.classifier(x.flatten(1))


class Model(nn.Module):
    """A network built from a description: stem, cells, global pooling, classifier.

    In training mode with an auxiliary head it returns ``(logits, aux_logits)``; otherwise
    logits. ``drop_path_prob`` (set by the trainer each epoch) applies to non-identity edges.
    """

    def __init__(self, desc: ModelDesc, edge_builder: EdgeBuilder | None = None) -> None:
        super().__init__()
        desc.validate()
        self.desc = desc
        self.drop_path_prob = 0.0
        build = edge_builder or default_edge_builder
        skeleton = desc.skeleton_def
        self.stem, shape = skeleton.build_stem(desc)
        c_pp, c_p, size, reduction_prev = shape.c_pp, shape.c_p, shape.size, shape.reduction_prev
        self.cells = nn.ModuleList()
        self.aux_head = None
        for i, cell in enumerate(desc.cells):
            if cell.kind == "resblock":
                self.cells.append(ResBlock(c_p, cell.channels))
            else:
                self.cells.append(
                    Cell(cell, i, c_pp, c_p, reduction_prev, desc.n_cell_inputs, desc.affine, build)
                )
            if cell.reduction:
                size = -(-size // 2)
            c_pp, c_p = c_p, desc.cell_out_channels(i)
            reduction_prev = cell.reduction
            if desc.aux_after == i:
                self.aux_head = AuxHead(c_p, desc.n_classes, skeleton.aux_pool(size))
        self.lastact = skeleton.build_head(desc, c_p)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, desc.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0, s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if self.aux_head is not None and i == self.desc.aux_after and self.training:
                aux = self.aux_head(s1)
        if self.lastact is not None:
            s1 = self.lastact(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


def build_model(desc: ModelDesc, edge_builder: EdgeBuilder | None = None) -> Model:
    """Builds the network described by ``desc`` (see :class:`Model`)."""
    return Model(desc, edge_builder)


def count_params(model: nn.Module, *, include_aux: bool = False) -> int:
    """Trainable parameters, by default without the auxiliary head (as papers report them)."""
    return sum(p.numel() for n, p in model.named_parameters() if include_aux or not n.startswith("aux_head."))
