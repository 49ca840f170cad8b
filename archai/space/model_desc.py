"""Architecture descriptions: plain, typed, serializable data that models are built from.

A :class:`ModelDesc` is a skeleton (stem, a list of cells, head) whose cells are DAGs:

- a cell's *states* are its inputs (two for DARTS-style cells, one for NAS-Bench-201 cells)
  followed by its nodes, numbered in order: with two inputs, state 0 and 1 are the outputs of
  the two previous cells and state ``2 + i`` is node ``i``;
- a node sums its incoming edges; an edge applies one op (:class:`OpDesc`) to one earlier state;
- the cell output concatenates the states listed in ``concat``;
- a node with ``join_into: j`` is not concatenated: it is added to state ``j``'s slot of the
  output, through a learnable gate that starts at zero (``join: gate``, how Petridish grows a
  cell so that the grown model first computes exactly what its parent computed), or through
  stop-forward (``join: stop_forward``: ``x - x.detach()``, zero in the forward pass while
  gradients flow back, how Petridish trains candidate nodes without changing the parent);
- a node with ``merge: concat_proj`` concatenates its edges' outputs and projects them back to
  the cell's width (ReLU, 1x1 convolution, batch norm) instead of summing them: how Petridish
  merges the operations it chose for a grown node, so each keeps its own scale and sign.

Descriptions are saved as YAML (or JSON) with a ``format_version`` and loaded with safe loaders
only, so a found architecture is a file a person can read, diff and train again anywhere.

Example:
    >>> cell = CellDesc("normal", 16, [NodeDesc([EdgeDesc(OpDesc("sep_conv_3x3"), 0),
    ...                                           EdgeDesc(OpDesc("skip_connect"), 1)])], concat=[2])
    >>> desc = ModelDesc(cells=[cell], init_channels=16)
    >>> ModelDesc.from_yaml(desc.to_yaml()) == desc
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archai.common.jsonio import short_digest
from archai.space.skeletons import SKELETONS, DescError, Skeleton

__all__ = ["CellDesc", "DescError", "EdgeDesc", "ModelDesc", "NodeDesc", "OpDesc"]

FORMAT_VERSION = 1
CELL_KINDS = ("normal", "reduction", "resblock")


def _check_keys(d: Mapping, allowed: set[str], where: str) -> None:
    if not isinstance(d, Mapping):
        raise DescError(f"{where}: expected a mapping, got {type(d).__name__}")
    extra = set(d) - allowed
    if extra:
        raise DescError(f"{where}: unknown key(s) {sorted(extra)}; allowed: {sorted(allowed)}")


@dataclass
class OpDesc:
    """One operation by its registered name, with optional extra parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> Any:
        return self.name if not self.params else {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_data(cls, data: Any, where: str = "op") -> OpDesc:
        if isinstance(data, str):
            return cls(data)
        _check_keys(data, {"name", "params"}, where)
        return cls(str(data["name"]), dict(data.get("params") or {}))


@dataclass
class EdgeDesc:
    """An op applied to one earlier state of the cell (``input`` indexes the cell's states)."""

    op: OpDesc
    input: int

    def to_data(self) -> dict:
        return {"op": self.op.to_data(), "input": self.input}

    @classmethod
    def from_data(cls, data: Any, where: str) -> EdgeDesc:
        _check_keys(data, {"op", "input"}, where)
        if "op" not in data or "input" not in data:
            raise DescError(f"{where}: an edge needs 'op' and 'input'")
        return cls(OpDesc.from_data(data["op"], where), int(data["input"]))


JOIN_MODES = ("gate", "stop_forward")
MERGE_MODES = ("sum", "concat_proj")


@dataclass
class NodeDesc:
    """A node: the sum of its edges (``merge: concat_proj``: their projected concatenation).
    ``join_into``/``join``/``merge`` (see the module docstring) are usually unset."""

    edges: list[EdgeDesc]
    join_into: int | None = None
    join: str = "gate"
    merge: str = "sum"

    def to_data(self) -> dict:
        out: dict[str, Any] = {"edges": [e.to_data() for e in self.edges]}
        if self.merge != "sum":  # unset keys keep earlier descriptions' files and digests
            out["merge"] = self.merge
        if self.join_into is not None:
            out["join_into"] = self.join_into
            if self.join != "gate":
                out["join"] = self.join
        return out

    @classmethod
    def from_data(cls, data: Any, where: str) -> NodeDesc:
        _check_keys(data, {"edges", "join_into", "join", "merge"}, where)
        edges = [EdgeDesc.from_data(e, f"{where} edge {i}") for i, e in enumerate(data.get("edges") or [])]
        join = data.get("join_into")
        return cls(
            edges,
            int(join) if join is not None else None,
            str(data.get("join", "gate")),
            str(data.get("merge", "sum")),
        )


@dataclass
class CellDesc:
    """A cell: ``kind`` is ``normal``, ``reduction`` (stride-2 edges from the inputs, doubles
    the channels by convention) or ``resblock`` (a fixed ResNet basic block with stride 2, as
    NAS-Bench-201 uses between stages; it has no nodes). ``channels`` is the width of every node.
    """

    kind: str
    channels: int
    nodes: list[NodeDesc] = field(default_factory=list)
    concat: list[int] = field(default_factory=list)

    @property
    def reduction(self) -> bool:
        return self.kind in ("reduction", "resblock")

    def to_data(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "channels": self.channels}
        if self.kind != "resblock":
            out["nodes"] = [n.to_data() for n in self.nodes]
            out["concat"] = list(self.concat)
        return out

    @classmethod
    def from_data(cls, data: Any, where: str) -> CellDesc:
        _check_keys(data, {"kind", "channels", "nodes", "concat"}, where)
        nodes = [NodeDesc.from_data(n, f"{where} node {i}") for i, n in enumerate(data.get("nodes") or [])]
        return cls(
            str(data.get("kind", "")),
            int(data.get("channels", 0)),
            nodes,
            [int(c) for c in data.get("concat") or []],
        )


@dataclass
class ModelDesc:
    """A whole network: skeleton, input/output shape, cells, optional auxiliary head.

    Args:
        skeleton: a registered :mod:`~archai.space.skeletons` name: ``darts`` (CIFAR-style stem,
            two-input cells), ``imagenet`` (three stride-2 convolutions, then as darts) or
            ``nb201`` (NAS-Bench-201: one-input cells, ResNet blocks).
        init_channels: C of the first cells; the stem outputs ``stem_multiplier * C`` channels
            (darts) or C channels (nb201).
        stem_stride: stride of the stem convolution (darts, nb201): 2 halves the resolution
            before the first cell, a 4x cheaper network on small images such as 28x28.
        affine: BatchNorm affine parameters in ops (False in DARTS search supernets).
        aux_after: index of the cell whose output feeds the auxiliary head, or None.
        meta: free-form notes (searcher, genotype string, parent id...): plain values only.
    """

    cells: list[CellDesc] = field(default_factory=list)
    skeleton: str = "darts"
    in_channels: int = 3
    image_size: int = 32
    n_classes: int = 10
    init_channels: int = 16
    stem_multiplier: int = 3
    stem_stride: int = 1
    affine: bool = True
    aux_after: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    _FIELDS = (
        "skeleton",
        "in_channels",
        "image_size",
        "n_classes",
        "init_channels",
        "stem_multiplier",
        "stem_stride",
        "affine",
        "aux_after",
        "meta",
    )

    # ------------------------------------------------------------------ (de)serialization

    def to_data(self) -> dict:
        out: dict[str, Any] = {"format_version": FORMAT_VERSION}
        for k in self._FIELDS:
            out[k] = getattr(self, k)
        out["meta"] = dict(self.meta)
        out["cells"] = [c.to_data() for c in self.cells]
        return out

    @classmethod
    def from_data(cls, data: Any) -> ModelDesc:
        _check_keys(data, {"format_version", "cells", *cls._FIELDS}, "model description")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise DescError(
                f"model description has format_version {version!r}; this Archai reads {FORMAT_VERSION}"
            )
        kw = {k: data[k] for k in cls._FIELDS if k in data}
        kw["meta"] = dict(kw.get("meta") or {})
        cells = [CellDesc.from_data(c, f"cell {i}") for i, c in enumerate(data.get("cells") or [])]
        desc = cls(cells=cells, **kw)
        desc.validate()
        return desc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_data(), sort_keys=False, default_flow_style=None, width=100)

    def digest(self) -> str:
        """A short hash of the architecture (``meta`` left out): equal for descriptions that
        build the same network, so it names a training job that may be reused."""
        return short_digest({k: v for k, v in self.to_data().items() if k != "meta"})

    @classmethod
    def from_yaml(cls, text: str) -> ModelDesc:
        try:
            return cls.from_data(yaml.safe_load(text))
        except yaml.YAMLError as e:
            raise DescError(f"not valid YAML: {e}") from None

    def save(self, path: str | Path) -> Path:
        """Writes YAML, or JSON when the file name ends in ``.json``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_data(), indent=1) if path.suffix == ".json" else self.to_yaml()
        path.write_text(text)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelDesc:
        path = Path(path)
        if not path.is_file():
            raise DescError(f"description file not found: {path}")
        text = path.read_text()
        try:
            return cls.from_data(json.loads(text)) if path.suffix == ".json" else cls.from_yaml(text)
        except DescError as e:
            raise DescError(f"{path}: {e}") from None

    # ------------------------------------------------------------------ validation

    @property
    def skeleton_def(self) -> Skeleton:
        """The registered :class:`~archai.space.skeletons.Skeleton` this description names."""
        if self.skeleton not in SKELETONS:
            raise DescError(f"skeleton '{self.skeleton}' is not one of {SKELETONS.names()}")
        return SKELETONS.get(self.skeleton)

    @property
    def n_cell_inputs(self) -> int:
        return self.skeleton_def.n_cell_inputs

    def validate(self, known_ops: Any = None) -> None:
        """Checks structure, input indices, channel arithmetic and the skeleton's own rules;
        ``known_ops`` (a container of op names) also checks op names. Raises
        :class:`DescError` naming the culprit."""
        skeleton = self.skeleton_def
        if not self.cells:
            raise DescError("model description has no cells")
        n_in = skeleton.n_cell_inputs
        for ci, cell in enumerate(self.cells):
            where = f"cell {ci} ({cell.kind})"
            if cell.kind not in CELL_KINDS:
                raise DescError(f"{where}: kind must be one of {CELL_KINDS}")
            if cell.channels <= 0:
                raise DescError(f"{where}: channels must be positive, got {cell.channels}")
            if cell.kind == "resblock":
                continue
            if not cell.nodes:
                raise DescError(f"{where}: a cell needs at least one node")
            n_states = n_in + len(cell.nodes)
            for ni, node in enumerate(cell.nodes):
                state = n_in + ni
                nwhere = f"{where} node {ni} (state {state})"
                if not node.edges:
                    raise DescError(f"{nwhere}: has no incoming edges")
                for ei, edge in enumerate(node.edges):
                    if not 0 <= edge.input < state:
                        raise DescError(
                            f"{nwhere} edge {ei}: input {edge.input} must be an earlier state (0..{state - 1})"
                        )
                    if known_ops is not None and edge.op.name not in known_ops:
                        raise DescError(f"{nwhere} edge {ei}: unknown op '{edge.op.name}'")
                if node.merge not in MERGE_MODES:
                    raise DescError(f"{nwhere}: merge must be one of {MERGE_MODES}, got '{node.merge}'")
                if node.join not in JOIN_MODES:
                    raise DescError(f"{nwhere}: join must be one of {JOIN_MODES}, got '{node.join}'")
                if node.join_into is not None:
                    if node.join_into not in cell.concat or node.join_into >= state:
                        raise DescError(
                            f"{nwhere}: join_into {node.join_into} must be an earlier state listed in concat"
                        )
                    if state in cell.concat:
                        raise DescError(f"{nwhere}: a joined node cannot also be concatenated")
            if not cell.concat:
                raise DescError(f"{where}: concat is empty")
            for s in cell.concat:
                if not 0 <= s < n_states:
                    raise DescError(f"{where}: concat refers to state {s}, which does not exist")
            if cell.kind == "reduction" and cell.channels % 2:
                raise DescError(f"{where}: reduction cells need an even channel count, got {cell.channels}")
        skeleton.validate(self)
        if self.aux_after is not None and not 0 <= self.aux_after < len(self.cells):
            raise DescError(f"aux_after {self.aux_after} is not a cell index (0..{len(self.cells) - 1})")

    def cell_out_channels(self, index: int) -> int:
        return self.skeleton_def.cell_out_channels(self, index)
