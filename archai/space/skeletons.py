"""Skeletons: what surrounds the cells of a network (stem, cell inputs, head), by name.

A :class:`~archai.space.model_desc.ModelDesc` names its skeleton (``skeleton: darts``); the
skeleton says how many earlier outputs a cell reads, checks the rules its descriptions must
follow, and builds the stem before the first cell and the head after the last. Each dataset
config names the skeleton its images need (``confs/datasets/imagenet.yaml`` sets
``model.skeleton: imagenet``). Register a new one like an op:

    >>> @register_skeleton("tiny_stem")
    ... class TinyStem(DartsSkeleton):
    ...     def build_stem(self, desc):
    ...         return SingleStem(nn.Conv2d(desc.in_channels, desc.init_channels, 1)), StemShape(
    ...             desc.init_channels, desc.init_channels, desc.image_size, False)
    >>> SKELETONS.get("tiny_stem").n_cell_inputs
    2

Built-in skeletons: ``darts`` (one 3x3 convolution stem, two-input cells: CIFAR-style),
``imagenet`` (three stride-2 convolutions in two stems, as DARTS evaluates on ImageNet) and
``nb201`` (the NAS-Bench-201 network: one-input cells, ResNet blocks between stages, BN-ReLU
before pooling), ``chain`` (the same around the chain space's stage cells) and ``mobilenet``
(a convolution-BatchNorm-ReLU6 stem, one-input cells that may widen the network: the
``mobilenet`` space's blocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from archai.common.errors import UserError
from archai.common.registry import Registry
from archai.space.ops import ConvBNReLU6


class DescView(Protocol):
    """What a skeleton reads of a :class:`~archai.space.model_desc.ModelDesc` (a structural
    type: the description module builds on this one, never the other way round)."""

    cells: Sequence[Any]
    in_channels: int
    image_size: int
    init_channels: int
    stem_multiplier: int
    stem_stride: int


class DescError(UserError, ValueError):
    """A description is malformed; the message names the cell, node or edge at fault."""


@dataclass(frozen=True)
class StemShape:
    """What the first cell receives: channels of its two inputs, their size, and whether the
    stem's last step reduced the resolution (the first cell then reduces its older input)."""

    c_pp: int
    c_p: int
    size: int
    reduction_prev: bool


class SingleStem(nn.Sequential):
    """A stem whose one output feeds both inputs of the first cell."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = super().forward(x)
        return s, s


class TwoStems(nn.Module):
    """Two chained stems; the first cell reads both outputs (the ImageNet stem of DARTS)."""

    def __init__(self, stem0: nn.Module, stem1: nn.Module) -> None:
        super().__init__()
        self.stem0, self.stem1 = stem0, stem1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, self.stem1(s0)


SKELETONS: Registry[Skeleton] = Registry("skeleton")


def register_skeleton(name: str):
    """Class decorator: registers an instance of a :class:`Skeleton` subclass as ``name``."""

    def deco(cls: type[Skeleton]) -> type[Skeleton]:
        cls.name = name
        SKELETONS.register(name)(cls())
        return cls

    return deco


class Skeleton:
    """Base class: stem, cell inputs, rules and head of one kind of network."""

    name = ""
    #: outputs of earlier cells each cell reads (2: the previous two; 1: the previous one)
    n_cell_inputs = 2
    #: the evaluator may rebuild searched cells into a deeper ``eval.model`` network
    expandable = True

    def validate(self, desc: DescView) -> None:
        """Raises :class:`DescError` when ``desc`` breaks a rule of this skeleton (subclasses
        extend it)."""
        if desc.stem_stride not in (1, 2):
            raise DescError(f"stem_stride must be 1 or 2, got {desc.stem_stride!r}")

    def cell_out_channels(self, desc: DescView, index: int) -> int:
        cell = desc.cells[index]
        return cell.channels if cell.kind == "resblock" else len(cell.concat) * cell.channels

    def build_stem(self, desc: DescView) -> tuple[nn.Module, StemShape]:
        """The stem module (``x -> (s0, s1)``) and what it hands to the first cell."""
        raise NotImplementedError

    def build_head(self, desc: DescView, channels: int) -> nn.Module | None:
        """A module applied to the last cell's output before global pooling, or None."""
        return None

    def aux_pool(self, feature_size: int) -> nn.Module:
        """Pooling of the auxiliary head: DARTS's 5x5 window at stride 3 on 8x8 CIFAR maps,
        adaptive to 2x2 on other sizes."""
        if feature_size == 8:
            return nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False)
        return nn.AdaptiveAvgPool2d(2)


def _conv_bn(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)]


def _single_stem(desc: DescView, channels: int) -> tuple[nn.Module, StemShape]:
    """One 3x3 convolution to ``channels`` at ``desc.stem_stride``, and BatchNorm."""
    stem = SingleStem(*_conv_bn(desc.in_channels, channels, desc.stem_stride))
    return stem, StemShape(channels, channels, -(-desc.image_size // desc.stem_stride), False)


@register_skeleton("darts")
class DartsSkeleton(Skeleton):
    """CIFAR-style: one 3x3 convolution to ``stem_multiplier * C`` channels (``stem_stride`` 2
    halves the resolution first, four times cheaper on 28x28 images), two-input cells."""

    def validate(self, desc: DescView) -> None:
        super().validate(desc)
        for i, cell in enumerate(desc.cells):
            if cell.kind == "resblock":
                raise DescError(f"cell {i} (resblock): resblock cells belong to the nb201 skeleton")

    def build_stem(self, desc: DescView) -> tuple[nn.Module, StemShape]:
        return _single_stem(desc, desc.init_channels * desc.stem_multiplier)


@register_skeleton("imagenet")
class ImagenetSkeleton(DartsSkeleton):
    """DARTS on ImageNet: ``stem0`` (two stride-2 3x3 convolutions, C/2 then C channels) and
    ``stem1`` (ReLU, one more), so the first cell sees 28x28 maps of a 224x224 image; the
    auxiliary head pools 14x14 maps with a 5x5 window at stride 2."""

    def validate(self, desc: DescView) -> None:
        super().validate(desc)
        if desc.stem_stride != 1:
            raise DescError(
                f"stem_stride must be 1 for the imagenet skeleton (its stems reduce by 8), got {desc.stem_stride!r}"
            )

    def build_stem(self, desc: DescView) -> tuple[nn.Module, StemShape]:
        C = desc.init_channels
        stem0 = nn.Sequential(
            *_conv_bn(desc.in_channels, C // 2, 2), nn.ReLU(inplace=True), *_conv_bn(C // 2, C, 2)
        )
        stem1 = nn.Sequential(nn.ReLU(inplace=True), *_conv_bn(C, C, 2))
        return TwoStems(stem0, stem1), StemShape(C, C, -(-desc.image_size // 8), True)

    def aux_pool(self, feature_size: int) -> nn.Module:
        if feature_size == 14:
            return nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False)
        return nn.AdaptiveAvgPool2d(2)


@register_skeleton("nb201")
class Nb201Skeleton(Skeleton):
    """NAS-Bench-201: a 3x3 convolution stem to C channels, one-input cells that keep the
    channel count, ResNet blocks (``resblock`` cells) between stages, BN-ReLU before pooling.
    The benchmark fixes the network, so searched cells are never rebuilt into another one."""

    n_cell_inputs = 1
    expandable = False

    def validate(self, desc: DescView) -> None:
        super().validate(desc)
        prev_out = desc.init_channels
        for i, cell in enumerate(desc.cells):
            where = f"cell {i} ({cell.kind})"
            if cell.kind != "resblock":
                if cell.kind != "normal" or len(cell.concat) != 1:
                    raise DescError(f"{where}: nb201 cells are normal cells with a single output state")
                if cell.channels != prev_out:
                    raise DescError(
                        f"{where}: has {cell.channels} channels but its input has {prev_out}; "
                        "nb201 cells cannot change the channel count (a resblock does)"
                    )
            prev_out = cell.channels

    def cell_out_channels(self, desc: DescView, index: int) -> int:
        return desc.cells[index].channels

    def build_stem(self, desc: DescView) -> tuple[nn.Module, StemShape]:
        return _single_stem(desc, desc.init_channels)

    def build_head(self, desc: DescView, channels: int) -> nn.Module | None:
        return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


@register_skeleton("chain")
class ChainSkeleton(Nb201Skeleton):
    """The chain (macro) space's network: NAS-Bench-201's stem, ResNet blocks between stages and
    head, around stage cells that are not repeated."""


@register_skeleton("mobilenet")
class MobileNetSkeleton(Skeleton):
    """MobileNetV2-style networks (the ``mobilenet`` space): a 3x3 convolution stem to
    ``init_channels`` at ``stem_stride``, BatchNorm and ReLU6, then one-input cells of a single
    output each; a cell may be wider than its input (its edges from the input then read the
    narrower width: the first block of a stage). The network is the space's, never rebuilt."""

    n_cell_inputs = 1
    expandable = False

    def validate(self, desc: DescView) -> None:
        super().validate(desc)
        for i, cell in enumerate(desc.cells):
            if cell.kind == "resblock" or len(cell.concat) != 1:
                raise DescError(
                    f"cell {i} ({cell.kind}): mobilenet cells are one-output normal or reduction cells"
                )

    def cell_out_channels(self, desc: DescView, index: int) -> int:
        return desc.cells[index].channels

    def build_stem(self, desc: DescView) -> tuple[nn.Module, StemShape]:
        C = desc.init_channels
        stem = SingleStem(*ConvBNReLU6(desc.in_channels, C, 3, desc.stem_stride))
        return stem, StemShape(C, C, -(-desc.image_size // desc.stem_stride), False)
