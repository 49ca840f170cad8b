"""Skeleton builders: make a :class:`ModelDesc` from a few numbers and a way to make cells.

:class:`ModelDescBuilder` is a template method. ``build()`` lays out ``n_cells`` cells with
reductions at 1/3 and 2/3 of the depth (doubling the channels), and asks small hooks for the
parts an algorithm changes: ``make_cell`` (always), ``reduction_positions`` and
``aux_position`` (rarely).

Example:
    >>> from archai.space.model_desc import EdgeDesc, NodeDesc, OpDesc
    >>> node = NodeDesc([EdgeDesc(OpDesc("sep_conv_3x3"), 0), EdgeDesc(OpDesc("skip_connect"), 1)])
    >>> cells = [CellDesc(kind, 0, [node], concat=[2]) for kind in ("normal", "reduction")]
    >>> desc = TemplateBuilder(*cells, init_channels=36, n_cells=20, aux_head=True).build()
    >>> [i for i, c in enumerate(desc.cells) if c.kind == "reduction"], desc.aux_after
    ([6, 13], 13)
"""

from __future__ import annotations

import copy
from typing import Any

from archai.space.model_desc import CellDesc, ModelDesc


class ModelDescBuilder:
    """Builds DARTS-style (``darts``/``imagenet`` skeleton) descriptions; subclass ``make_cell``."""

    def __init__(
        self,
        *,
        init_channels: int = 16,
        n_cells: int = 8,
        n_nodes: int = 4,
        stem_multiplier: int = 3,
        stem_stride: int = 1,
        aux_head: bool = False,
        skeleton: str = "darts",
        in_channels: int = 3,
        image_size: int = 32,
        n_classes: int = 10,
        affine: bool = True,
    ) -> None:
        if n_cells < 1:
            raise ValueError(f"n_cells must be at least 1, got {n_cells}")
        self.init_channels = init_channels
        self.n_cells = n_cells
        self.n_nodes = n_nodes
        self.stem_multiplier = stem_multiplier
        self.stem_stride = stem_stride
        self.aux_head = aux_head
        self.skeleton = skeleton
        self.in_channels = in_channels
        self.image_size = image_size
        self.n_classes = n_classes
        self.affine = affine

    # ------------------------------------------------------------------ hooks

    def reduction_positions(self) -> list[int]:
        n = self.n_cells
        return sorted({n // 3, 2 * n // 3}) if n >= 3 else []

    def aux_position(self) -> int | None:
        return 2 * self.n_cells // 3 if self.aux_head else None

    def make_cell(self, index: int, kind: str, channels: int) -> CellDesc:
        raise NotImplementedError

    # ------------------------------------------------------------------ template

    def build(self) -> ModelDesc:
        C = self.init_channels
        reductions = set(self.reduction_positions())
        cells = []
        for i in range(self.n_cells):
            kind = "reduction" if i in reductions else "normal"
            if kind == "reduction":
                C *= 2
            cells.append(self.make_cell(i, kind, C))
        desc = ModelDesc(
            cells=cells,
            skeleton=self.skeleton,
            in_channels=self.in_channels,
            image_size=self.image_size,
            n_classes=self.n_classes,
            init_channels=self.init_channels,
            stem_multiplier=self.stem_multiplier,
            stem_stride=self.stem_stride,
            affine=self.affine,
            aux_after=self.aux_position(),
        )
        desc.validate()
        return desc


class TemplateBuilder(ModelDescBuilder):
    """Repeats a normal and a reduction cell template (with their channels replaced)."""

    def __init__(self, normal: CellDesc, reduction: CellDesc, **kw: Any) -> None:
        super().__init__(**kw)
        self.templates = {"normal": normal, "reduction": reduction}

    def make_cell(self, index: int, kind: str, channels: int) -> CellDesc:
        cell = copy.deepcopy(self.templates[kind])
        cell.channels = channels
        return cell


def expand_cells(desc: ModelDesc, **kw: Any) -> ModelDesc:
    """A deeper (or wider) network made of ``desc``'s first normal and first reduction cell.

    ``kw`` are :class:`ModelDescBuilder` arguments (``init_channels``, ``n_cells``,
    ``aux_head``...); shape arguments default to ``desc``'s own.
    """
    normal = next((c for c in desc.cells if c.kind == "normal"), None)
    reduction = next((c for c in desc.cells if c.kind == "reduction"), None)
    if normal is None or reduction is None:
        raise ValueError("expand_cells needs a description with a normal and a reduction cell")
    args = dict(
        skeleton=desc.skeleton,
        in_channels=desc.in_channels,
        image_size=desc.image_size,
        n_classes=desc.n_classes,
        stem_multiplier=desc.stem_multiplier,
        stem_stride=desc.stem_stride,
        init_channels=desc.init_channels,
    )
    args.update(kw)
    out = TemplateBuilder(normal, reduction, **args).build()
    out.meta = {
        **desc.meta,
        "expanded_from": {"n_cells": len(desc.cells), "init_channels": desc.init_channels},
    }
    return out
