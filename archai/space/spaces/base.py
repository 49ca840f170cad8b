"""The search-space contract: what every searcher needs from a space, and the registry of spaces.

A :class:`SearchSpace` turns a random generator or an architecture into architectures of the
space, all as plain :class:`~archai.space.model_desc.ModelDesc` descriptions:

- ``sample(rng)``: one architecture drawn uniformly; ``mutate(rng, desc)``: one change;
  ``neighbours(desc)``: every one-change neighbour (local search walks them);
- ``digest(desc)``: equal for architectures the space can tell compute the same function
  (isomorphic cells, edges that cannot reach the output); ``encode(desc)``: a fixed-length
  vector of numbers (for predictors); ``label(desc)``: a short readable form;
- for finite spaces ``size`` and ``enumerate()`` (lazily, in a fixed order);
- for spaces that share weights, the *one-shot view*: ``supernet_desc()`` (the description of
  a supernet whose edges mix every candidate op) and ``derive(supernet, weights)`` (the
  architecture of the space that the mixing weights choose).

A space is built from its *options* (declared in ``defaults``, checked like config keys: an
unknown one is an error that suggests the closest, a value of the wrong type or out of
``value_checks``' range is refused) and the *shape* of the network (channels, cells, the
dataset's image size and classes: ``SHAPE_DEFAULTS``; in a run, ``search.model`` and the
dataset). Register a space and ``--space NAME`` (config ``space.name``) finds it:

    >>> import random
    >>> space = make_space("nb201", shape={"n_classes": 10})
    >>> desc = space.sample(random.Random(0))
    >>> space.size, len(space.encode(desc)), space.digest(desc) == space.digest(desc)
    (15625, 30, True)
    >>> make_space("nb201", primitivs=["none"])
    Traceback (most recent call last):
    ...
    archai.common.config.ConfigError: unknown config key 'nb201.primitivs'; did you mean 'nb201.primitives'?
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from archai.common.checks import Each, OneOf, Rule, check_values
from archai.common.config import Config, ConfigError, load_config
from archai.common.errors import UserError
from archai.common.registry import Registry
from archai.space.model_desc import ModelDesc
from archai.space.ops import OPS
from archai.space.supernet import MIXED, SupernetPath

#: the network shape a space builds at, when not given (a CIFAR-10-sized DARTS search network)
SHAPE_DEFAULTS: dict[str, Any] = {
    "in_channels": 3,
    "image_size": 32,
    "n_classes": 10,
    "init_channels": 16,
    "n_cells": 8,
    "n_nodes": 4,
    "stem_multiplier": 3,
    "stem_stride": 1,
    "skeleton": "darts",
    "aux_head": False,
}


#: the value rule of a space's ``primitives`` option: registered op names, at least one
PRIMITIVES_RULE = Each(OneOf(OPS.names), min_len=1)


class SpaceError(UserError, ValueError):
    """A space cannot do what was asked (no one-shot view, not enumerable, a foreign description)."""


@dataclass(frozen=True)
class Decision:
    """One choice a controller makes to build an architecture of a space (ENAS samples them in
    order): an ``input`` (one of the states before ``node``: ``options`` are state indices;
    ``distinct``: not one the node has chosen already) or an ``op`` (``options`` are op names)
    of the cell kind ``group``."""

    group: str
    node: int
    what: str
    options: tuple
    distinct: bool = False


class SearchSpace:
    """Base class of every search space; subclasses implement what they support.

    ``sample`` is required; ``mutate`` defaults to a uniformly chosen neighbour; ``digest``
    to :meth:`ModelDesc.digest`. Searchers ask :meth:`supports` before they start, so a space
    without a one-shot view is refused by DARTS with a message, not a traceback.
    """

    name: ClassVar[str] = ""
    #: the space's options and their defaults (types are checked: a list stays a list)
    defaults: ClassVar[dict[str, Any]] = {}
    #: rules for the options (``{"cells_per_stage": Range(1, integer=True)}``)
    value_checks: ClassVar[dict[str, Rule]] = {}

    def __init__(self, shape: Mapping[str, Any] | None = None, **options: Any) -> None:
        unknown = sorted(set(shape or {}) - set(SHAPE_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"{self.name} space: unknown shape key(s) {unknown}; known: {', '.join(SHAPE_DEFAULTS)}"
            )
        self.shape: dict[str, Any] = {**SHAPE_DEFAULTS, **(shape or {})}
        self.options: Config = self.check_options(options)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> Config:
        """``defaults`` with ``options`` applied, checked like config overrides and against
        ``value_checks``."""
        key = cls.name or "space"
        base = load_config([{key: dict(cls.defaults)}])
        conf = base.with_overrides({f"{key}.{k}": v for k, v in options.items()}) if options else base
        check_values(conf, [(f"{key}.{k}", rule) for k, rule in cls.value_checks.items()])
        return conf[key]

    @property
    def primitives(self) -> list[str]:
        """The ops the space chooses from (its ``primitives`` option)."""
        if "primitives" not in self.options:
            raise SpaceError(f"the {self.name} space has no primitives option")
        return list(self.options.primitives)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.to_dict().items())
        return f"{type(self).__name__}({opts})"

    # ------------------------------------------------------------------ discrete view

    def sample(self, rng: random.Random) -> ModelDesc:
        """An architecture drawn uniformly from the space; every draw comes from ``rng``."""
        raise NotImplementedError

    def mutate(self, rng: random.Random, desc: ModelDesc) -> ModelDesc:
        """A copy of ``desc`` with one change (here: a uniformly chosen neighbour)."""
        neighbours = self.neighbours(desc)
        if not neighbours:
            raise SpaceError(f"the {self.name} space has no architecture one change away from this one")
        return rng.choice(neighbours)

    def neighbours(self, desc: ModelDesc) -> list[ModelDesc]:
        """Every architecture one change away from ``desc``, in a fixed order."""
        raise NotImplementedError

    def digest(self, desc: ModelDesc) -> str:
        """Equal for descriptions the space can tell compute the same function."""
        return desc.digest()

    def encode(self, desc: ModelDesc) -> list[float]:
        """A fixed-length numeric vector of ``desc`` (the same length for every architecture)."""
        raise NotImplementedError

    def label(self, desc: ModelDesc) -> str:
        """A short readable form of ``desc`` (a genotype, an arch string); here its digest."""
        return self.digest(desc)

    @property
    def size(self) -> int | None:
        """How many descriptions the space holds (None: unknown or unbounded)."""
        return None

    def enumerate(self) -> Iterator[ModelDesc]:
        """Every description of the space, lazily, in a fixed order."""
        raise SpaceError(f"the {self.name} space cannot be enumerated")

    def rebuild(self, desc: ModelDesc, shape: Mapping[str, Any]) -> ModelDesc:
        """The same architecture at another ``shape`` (the final training's wider or deeper
        network); here ``desc`` unchanged."""
        return desc

    # ------------------------------------------------------------------ one-shot view

    def supernet_desc(self) -> ModelDesc:
        """The description of the space's supernet: ``mixed`` edges over every candidate op."""
        raise SpaceError(f"the {self.name} space has no one-shot view (no supernet)")

    def derive(self, supernet: ModelDesc, weights: Mapping[str, torch.Tensor]) -> ModelDesc:
        """The architecture of the space that mixing ``weights`` (per cell kind: mixed edges x
        candidates, as :meth:`Supernet.mixing_weights` gives them) choose in ``supernet``."""
        raise SpaceError(f"the {self.name} space has no one-shot view (nothing to derive)")

    def path(self, supernet: ModelDesc, desc: ModelDesc) -> SupernetPath:
        """``desc`` as one path through ``supernet`` (see :data:`SupernetPath`): per mixed edge,
        the candidates that ``desc``'s edge from the same state to the same node applies. This
        default reads the first cell of each kind of both (a space whose cells repeat)."""
        path: SupernetPath = {}
        for super_cell in supernet.cells:
            if super_cell.kind in path or not any(
                e.op.name == MIXED for n in super_cell.nodes for e in n.edges
            ):
                continue
            cell = next((c for c in desc.cells if c.kind == super_cell.kind), None)
            if cell is None or len(cell.nodes) != len(super_cell.nodes):
                raise SpaceError(
                    f"not a path of the {self.name} supernet: its {super_cell.kind} cell differs"
                )
            rows = []
            for ni, (node, super_node) in enumerate(zip(cell.nodes, super_cell.nodes)):
                mixed = [e for e in super_node.edges if e.op.name == MIXED]
                unmatched = {e.input for e in node.edges} - {e.input for e in mixed}
                if unmatched:
                    raise SpaceError(
                        f"not a path of the {self.name} supernet: {super_cell.kind} node {ni} reads "
                        f"state(s) {sorted(unmatched)}, which its supernet node mixes no edge from"
                    )
                for edge in mixed:
                    cands = edge.op.params["candidates"]
                    ops = [e.op.name for e in node.edges if e.input == edge.input]
                    if any(op not in cands for op in ops):
                        raise SpaceError(f"op(s) {ops} are not all candidates of the supernet ({cands})")
                    rows.append(tuple(cands.index(op) for op in ops))
            path[super_cell.kind] = rows
        return path

    def decisions(self) -> list[Decision]:
        """The choices, in order, that build an architecture (:meth:`from_decisions`)."""
        raise SpaceError(f"the {self.name} space gives no decisions for a controller")

    def from_decisions(self, values: Sequence[Any]) -> ModelDesc:
        """The architecture of one value per :meth:`decisions` entry (a state index or an op)."""
        raise SpaceError(f"the {self.name} space gives no decisions for a controller")

    # ------------------------------------------------------------------ capabilities

    FEATURES: ClassVar[dict[str, tuple[str, ...]]] = {
        "sample": ("sample",),
        "mutate": ("mutate", "neighbours"),
        "neighbours": ("neighbours",),
        "encode": ("encode",),
        "enumerate": ("enumerate",),
        "one_shot": ("supernet_desc", "derive"),
        "decisions": ("decisions", "from_decisions"),
    }

    @classmethod
    def supports(cls, feature: str) -> bool:
        """Whether the space implements ``feature`` (``sample``, ``mutate``, ``neighbours``,
        ``encode``, ``enumerate``, ``one_shot``, ``decisions``): its methods are its own, not the
        base class's."""
        methods = cls.FEATURES[feature]
        own = [getattr(cls, m) is not getattr(SearchSpace, m) for m in methods]
        return any(own) if feature == "mutate" else all(own)

    @classmethod
    def features(cls) -> list[str]:
        return [f for f in cls.FEATURES if cls.supports(f)]


#: every registered search space; the built-in ones are there at the first look-up
SPACES: Registry[type[SearchSpace]] = Registry("search space", builtins="archai.space.spaces")


def register_space(name: str):
    """Class decorator: registers a :class:`SearchSpace` subclass as ``--space name``."""
    return SPACES.register_named(name)


def make_space(name: str, shape: Mapping[str, Any] | None = None, **options: Any) -> SearchSpace:
    """The registered space ``name`` with ``options`` (checked) at ``shape`` (see
    :data:`SHAPE_DEFAULTS`)."""
    return SPACES.get(name)(shape, **options)
