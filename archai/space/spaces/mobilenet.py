"""A MobileNetV2-style block space, as ProxylessNAS searches it (Cai et al., ICLR 2019).

The network is fixed but for one choice per layer: a 3x3 stem convolution (stride 2, ReLU6),
a first inverted-residual block (3x3, expansion 1), then ``stages`` of ``[width, depth,
stride]``: the first layer of a stage applies the stage's stride and widens to its width, the
others keep both. Each layer is one inverted-residual block of ``blocks`` (kernel 3/5/7 x
expansion 3/6 by default), or, where its input and output shapes match, ``zero`` (the layer is
skipped); such layers add their input back (the block's shortcut). A 1x1 convolution to
``head_channels`` (ReLU6), global pooling and a linear classifier end it. The defaults are the
paper's ImageNet network (widths 24-320, 21 searched layers, 1280 head channels);
``confs/toy.yaml`` scales it down.

In a description each stage is one one-input cell (``reduction`` when strided) whose node ``i``
holds layer ``i``'s block (an edge from state ``i``) and, where it has one, its shortcut (a
``skip_connect`` edge from the same state); a ``zero`` layer keeps only the shortcut. The first
block and the head are one-edge cells of their own.

Example:
    >>> import random
    >>> space = MobileNetSpace({"n_classes": 10}, stages=[[8, 2, 2], [16, 2, 1]], head_channels=32)
    >>> desc = space.sample(random.Random(0))
    >>> space.size, len(space.encode(desc)), [len(c) for c in space.candidates]
    (1764, 28, [6, 7, 6, 7])
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from archai.common.checks import Each, OneOf, Range
from archai.common.config import ConfigError
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import MBCONV_OPS
from archai.space.spaces.base import SearchSpace, SpaceError, register_space
from archai.space.supernet import MIXED, SupernetPath

SKIP = "skip_connect"
#: the choice that skips a layer (its shortcut alone); ``none`` in the supernet
ZERO = "zero"
FIRST_BLOCK = "mb_conv_3x3_e1"
HEAD = "conv_1x1_relu6"


@dataclass(frozen=True)
class Layer:
    """One searchable layer: its stage, index in the stage, channels in and out, stride, and
    whether it has a shortcut (stride 1, as many channels out as in: ``zero`` is allowed)."""

    stage: int
    index: int
    c_in: int
    c_out: int
    stride: int
    residual: bool

    @property
    def group(self) -> str:
        """The name of the layer's architecture weights in a supernet."""
        return f"s{self.stage}l{self.index}"


@register_space("mobilenet")
class MobileNetSpace(SearchSpace):
    """One block per layer of a fixed MobileNetV2-style network (module docstring). The shape
    gives the dataset's channels, image size and classes; the widths are the space's options
    (``init_channels`` and the cell counts of the shape do not apply)."""

    defaults = {
        "blocks": [f"mb_conv_{k}x{k}_e{e}" for k in (3, 5, 7) for e in (3, 6)],
        "zero": True,
        "stages": [[24, 4, 2], [40, 4, 2], [80, 4, 2], [96, 4, 1], [192, 4, 2], [320, 1, 1]],
        "stem_channels": 32,
        "stem_stride": 2,
        "first_channels": 16,
        "head_channels": 1280,
    }
    value_checks = {
        "blocks": Each(OneOf(lambda: MBCONV_OPS), min_len=1),
        "stem_channels": Range(1, integer=True),
        "stem_stride": Range(1, 2, integer=True),
        "first_channels": Range(1, integer=True),
        "head_channels": Range(1, integer=True),
    }

    def __init__(self, shape: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__(shape, **options)
        stages = self.options.stages
        ok = (
            isinstance(stages, list)
            and stages
            and all(
                isinstance(s, list)
                and len(s) == 3
                and all(isinstance(v, int) and v > 0 for v in s)
                and s[2] in (1, 2)
                for s in stages
            )
        )
        if not ok:
            raise ConfigError(
                f"mobilenet.stages must be a list of [width, depth, stride] (positive integers, stride "
                f"1 or 2), e.g. [[24, 4, 2], [40, 4, 2]]; got {stages!r}"
            )
        layers, c = [], int(self.options.first_channels)
        for si, (width, depth, stride) in enumerate(stages):
            for i in range(depth):
                s = stride if i == 0 else 1
                layers.append(Layer(si, i, c, width, s, s == 1 and c == width))
                c = width
        self.layers: list[Layer] = layers

    @property
    def candidates(self) -> list[list[str]]:
        """Per layer, its choices: ``blocks``, and ``zero`` where the layer has a shortcut."""
        blocks = list(self.options.blocks)
        return [blocks + ([ZERO] if layer.residual and self.options.zero else []) for layer in self.layers]

    # ------------------------------------------------------------------ descriptions

    def build(self, choices: list[str], *, supernet: bool = False) -> ModelDesc:
        """The network of one choice per layer (a block name or ``zero``); ``supernet``: every
        layer a mixed edge over its candidates instead."""
        if len(choices) != len(self.layers):
            raise SpaceError(f"the mobilenet space has {len(self.layers)} layers; got {len(choices)} choices")
        if not supernet:
            for layer, choice, cands in zip(self.layers, choices, self.candidates):
                if choice not in cands:
                    raise SpaceError(
                        f"mobilenet stage {layer.stage} layer {layer.index}: '{choice}' is not one of {cands}"
                    )
        o, s = self.options, self.shape
        cells = [
            CellDesc("normal", int(o.first_channels), [NodeDesc([EdgeDesc(OpDesc(FIRST_BLOCK), 0)])], [1])
        ]
        per_layer = list(zip(self.layers, choices, self.candidates))
        for si, (width, depth, stride) in enumerate(o.stages):
            nodes = []
            for layer, choice, layer_cands in (t for t in per_layer if t[0].stage == si):
                i, edges = layer.index, []
                if supernet:
                    cands = [("none" if c == ZERO else c) for c in layer_cands]
                    edges.append(
                        EdgeDesc(
                            OpDesc(MIXED, {"candidates": cands, "group": layer.group, "affine": True}), i
                        )
                    )
                elif choice != ZERO:
                    edges.append(EdgeDesc(OpDesc(choice), i))
                if layer.residual:
                    edges.append(EdgeDesc(OpDesc(SKIP), i))
                nodes.append(NodeDesc(edges))
            cells.append(CellDesc("reduction" if stride == 2 else "normal", width, nodes, [depth]))
        cells.append(CellDesc("normal", int(o.head_channels), [NodeDesc([EdgeDesc(OpDesc(HEAD), 0)])], [1]))
        desc = ModelDesc(
            cells=cells,
            skeleton="mobilenet",
            in_channels=int(s["in_channels"]),
            image_size=int(s["image_size"]),
            n_classes=int(s["n_classes"]),
            init_channels=int(o.stem_channels),
            stem_multiplier=1,
            stem_stride=int(o.stem_stride),
        )
        desc.validate()
        return desc

    def choices_of(self, desc: ModelDesc) -> list[str]:
        """Per layer, the block of ``desc`` (or ``zero``)."""
        stage_cells = desc.cells[1:-1] if desc.skeleton == "mobilenet" else []
        depths = [d for _, d, _ in self.options.stages]
        if len(stage_cells) != len(depths) or [len(c.nodes) for c in stage_cells] != depths:
            raise SpaceError(
                "not a description of this mobilenet space: its stages differ (skeleton "
                f"'{desc.skeleton}', {len(desc.cells)} cells)"
            )
        out = []
        for cell in stage_cells:
            for node in cell.nodes:
                ops = [e.op.name for e in node.edges if e.op.name != SKIP]
                out.append(ops[0] if ops else ZERO)
        for layer, choice, cands in zip(self.layers, out, self.candidates):
            if choice not in cands:
                raise SpaceError(
                    f"not a description of this mobilenet space: stage {layer.stage} layer {layer.index} "
                    f"is '{choice}', not one of {cands}"
                )
        return out

    # ------------------------------------------------------------------ discrete view

    def sample(self, rng: random.Random) -> ModelDesc:
        return self.build([rng.choice(c) for c in self.candidates])

    def neighbours(self, desc: ModelDesc) -> list[ModelDesc]:
        choices, out = self.choices_of(desc), []
        for j, cands in enumerate(self.candidates):
            for c in cands:
                if c != choices[j]:
                    out.append(self.build([*choices[:j], c, *choices[j + 1 :]]))
        return out

    def mutate(self, rng: random.Random, desc: ModelDesc) -> ModelDesc:
        """One layer (uniformly, among those with a choice) gets another choice (uniformly)."""
        choices = self.choices_of(desc)
        open_layers = [j for j, c in enumerate(self.candidates) if len(c) > 1]
        if not open_layers:
            raise SpaceError("the mobilenet space has one architecture only (one block, no zero)")
        j = rng.choice(open_layers)
        choices[j] = rng.choice([c for c in self.candidates[j] if c != choices[j]])
        return self.build(choices)

    def encode(self, desc: ModelDesc) -> list[float]:
        """Per layer a one-hot over ``blocks`` and ``zero`` (the same length for every layer)."""
        every = [*self.options.blocks, ZERO]
        return [float(c == b) for c in self.choices_of(desc) for b in every]

    def label(self, desc: ModelDesc) -> str:
        """Stages separated by ``/``, layers by spaces: ``3x3e6`` or ``zero``."""
        choices = iter(self.choices_of(desc))
        parts = []
        for _, depth, _ in self.options.stages:
            parts.append(" ".join(_short(next(choices)) for _ in range(depth)))
        return " / ".join(parts)

    @property
    def size(self) -> int:
        n = 1
        for c in self.candidates:
            n *= len(c)
        return n

    def enumerate(self) -> Iterator[ModelDesc]:
        for choices in itertools.product(*self.candidates):
            yield self.build(list(choices))

    def rebuild(self, desc: ModelDesc, shape: Mapping[str, Any]) -> ModelDesc:
        """``desc`` as it is: the final training trains the network that was searched (as
        ProxylessNAS does)."""
        self.choices_of(desc)
        return desc

    # ------------------------------------------------------------------ one-shot view

    def supernet_desc(self) -> ModelDesc:
        """Every layer a mixed edge over its candidates (``none`` for ``zero``), each with
        architecture weights of its own; BatchNorms keep their affine parameters."""
        return self.build([ZERO] * len(self.layers), supernet=True)

    def derive(self, supernet: ModelDesc, weights: Mapping[str, torch.Tensor]) -> ModelDesc:
        """Each layer's strongest candidate (``none``: ``zero``), as ProxylessNAS derives."""
        return self.build(
            [cands[int(weights[la.group][0].argmax())] for la, cands in zip(self.layers, self.candidates)]
        )

    def path(self, supernet: ModelDesc, desc: ModelDesc) -> SupernetPath:
        return {
            la.group: [(cands.index(c),)]
            for la, cands, c in zip(self.layers, self.candidates, self.choices_of(desc))
        }


def _short(choice: str) -> str:
    """``mb_conv_5x5_e6`` -> ``5x5e6``."""
    return choice[len("mb_conv_") :].replace("_", "") if choice.startswith("mb_conv_") else choice
