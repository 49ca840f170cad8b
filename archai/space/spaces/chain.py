"""A macro space: a chain of layers, each its own op choice with skip inputs from earlier layers.

No cell is repeated: the network is ``stages`` stages of ``layers_per_stage`` layers (ResNet
blocks halve the resolution and double the channels between stages, as in NAS-Bench-201's
skeleton). Layer ``i`` of a stage applies its op to the layer before it and adds, unchanged,
any subset of the earlier layers' outputs (the stage's input included): ENAS' macro space, with
one op per layer. In a description each stage is one one-input cell whose node ``i`` holds the
layer's op edge (from state ``i``) followed by its ``skip_connect`` edges; the cell outputs its
last layer.

Example:
    >>> import random
    >>> space = ChainSpace({"n_classes": 10}, layers_per_stage=3, primitives=["nor_conv_3x3", "max_pool_3x3"])
    >>> desc = space.sample(random.Random(0))
    >>> space.size == (2**3 * 2**3) ** 3, len(space.encode(desc)), len(space.neighbours(desc))
    (True, 27, 18)
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Iterator, Mapping
from typing import Any

from archai.common.checks import Range
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.spaces.base import PRIMITIVES_RULE, SearchSpace, SpaceError, register_space

SKIP = "skip_connect"
#: one stage: per layer, (op, earlier states it also adds)
Stage = list[tuple[str, tuple[int, ...]]]


@register_space("chain")
class ChainSpace(SearchSpace):
    """``stages`` stages of ``layers_per_stage`` layers; each layer one of ``primitives`` plus
    any subset of skips from earlier states (each present with probability 1/2 in a sample, so
    samples are uniform over the space). The shape gives ``init_channels`` (the first stage's
    width), ``stem_stride`` and the dataset's size and classes."""

    defaults = {
        "primitives": [
            "nor_conv_3x3",
            "nor_conv_1x1",
            "sep_conv_3x3",
            "dil_conv_3x3",
            "max_pool_3x3",
            "avg_pool_3x3",
        ],
        "layers_per_stage": 4,
        "stages": 3,
    }
    value_checks = {
        "primitives": PRIMITIVES_RULE,
        "layers_per_stage": Range(1, integer=True),
        "stages": Range(1, integer=True),
    }

    @property
    def n_layers(self) -> int:
        return int(self.options.layers_per_stage)

    def build(self, stages: list[Stage]) -> ModelDesc:
        """The network of ``stages`` (per stage, per layer: op and skip states)."""
        s, C, cells = self.shape, int(self.shape["init_channels"]), []
        for si, layers in enumerate(stages):
            if si:
                C *= 2
                cells.append(CellDesc("resblock", C))
            nodes = [
                NodeDesc([EdgeDesc(OpDesc(op), i)] + [EdgeDesc(OpDesc(SKIP), j) for j in sorted(skips)])
                for i, (op, skips) in enumerate(layers)
            ]
            cells.append(CellDesc("normal", C, nodes, [len(layers)]))
        desc = ModelDesc(
            cells=cells,
            skeleton="chain",
            in_channels=int(s["in_channels"]),
            image_size=int(s["image_size"]),
            n_classes=int(s["n_classes"]),
            init_channels=int(s["init_channels"]),
            stem_multiplier=1,
            stem_stride=int(s["stem_stride"]),
        )
        desc.validate()
        return desc

    def stages_of(self, desc: ModelDesc) -> list[Stage]:
        """Per stage, per layer: (op, skip states) of ``desc``."""
        if desc.skeleton != "chain":
            raise SpaceError(f"not a description of the chain space: its skeleton is '{desc.skeleton}'")
        out = []
        for cell in (c for c in desc.cells if c.kind == "normal"):
            out.append([(n.edges[0].op.name, tuple(e.input for e in n.edges[1:])) for n in cell.nodes])
        return out

    def sample(self, rng: random.Random) -> ModelDesc:
        stages = []
        for _ in range(int(self.options.stages)):
            layers = []
            for i in range(self.n_layers):
                op = rng.choice(self.primitives)
                layers.append((op, tuple(j for j in range(i) if rng.random() < 0.5)))
            stages.append(layers)
        return self.build(stages)

    def _changes(self, stages: list[Stage]) -> Iterator[list[Stage]]:
        """Every one-change variant: per stage and layer, each other op, then each skip flipped."""
        for si, layers in enumerate(stages):
            for li, (op, skips) in enumerate(layers):
                variants = [(p, skips) for p in self.primitives if p != op]
                variants += [(op, tuple(sorted(set(skips) ^ {j}))) for j in range(li)]
                for v in variants:
                    new = copy.deepcopy(stages)
                    new[si][li] = v
                    yield new

    def neighbours(self, desc: ModelDesc) -> list[ModelDesc]:
        return [self.build(s) for s in self._changes(self.stages_of(desc))]

    def mutate(self, rng: random.Random, desc: ModelDesc) -> ModelDesc:
        """A stage and a layer uniformly, then (equally likely) another op or one skip flipped
        (a first layer, which has no earlier layer to skip from, always changes its op)."""
        stages = self.stages_of(desc)
        si = rng.randrange(len(stages))
        li = rng.randrange(len(stages[si]))
        op, skips = stages[si][li]
        others = [p for p in self.primitives if p != op]
        if li and (not others or rng.random() < 0.5):
            stages[si][li] = (op, tuple(sorted(set(skips) ^ {rng.randrange(li)})))
        elif others:
            stages[si][li] = (rng.choice(others), skips)
        else:  # one primitive and a first layer: nothing to change here, so a random neighbour
            return super().mutate(rng, desc)
        return self.build(stages)

    def rebuild(self, desc: ModelDesc, shape: Mapping[str, Any]) -> ModelDesc:
        """``desc``'s layers in the network of ``shape`` (its ``init_channels``, image size...)."""
        return type(self)(shape, **self.options.to_dict()).build(self.stages_of(desc))

    def encode(self, desc: ModelDesc) -> list[float]:
        """Per stage and layer: the op one-hot, then one bit per earlier state (skip or not)."""
        out: list[float] = []
        for layers in self.stages_of(desc):
            for li, (op, skips) in enumerate(layers):
                out += [float(op == p) for p in self.primitives] + [float(j in skips) for j in range(li)]
        return out

    def label(self, desc: ModelDesc) -> str:
        """Stages separated by ``/``, layers by spaces: ``op`` or ``op+skips`` (``sep_conv_3x3+0,1``)."""
        return " / ".join(
            " ".join(op + (f"+{','.join(map(str, skips))}" if skips else "") for op, skips in layers)
            for layers in self.stages_of(desc)
        )

    @property
    def size(self) -> int:
        per_stage = 1
        for i in range(self.n_layers):
            per_stage *= len(self.primitives) * 2**i
        return per_stage ** int(self.options.stages)

    def enumerate(self) -> Iterator[ModelDesc]:
        layer_choices = [
            [
                (op, tuple(j for j in range(i) if mask >> j & 1))
                for op in self.primitives
                for mask in range(2**i)
            ]
            for i in range(self.n_layers)
        ]
        stage_choices = [list(s) for s in itertools.product(*layer_choices)]
        for stages in itertools.product(stage_choices, repeat=int(self.options.stages)):
            yield self.build([list(s) for s in stages])
