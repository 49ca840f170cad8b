"""Search spaces: the :class:`SearchSpace` contract, the ``SPACES`` registry and the built-ins.

- ``darts``: DARTS cells (two inputs, ``k`` edges per node), one normal and one reduction cell
  repeated; one-shot view: DARTS' supernet.
- ``nb201``: NAS-Bench-201's 6-edge cell in its fixed network; 15,625 cells, enumerable, digests
  that identify the benchmark's 6,466 isomorphism classes; one-shot view: every edge mixed.
- ``chain``: a macro space, a chain of layers each with its own op and skips from earlier
  layers (no repeated cell).
- ``mobilenet``: ProxylessNAS' MobileNetV2-style network, one inverted-residual block (or
  ``zero``) per layer; one-shot view: a supernet with one mixed edge per layer.

Example:
    >>> [(n, SPACES.get(n).supports("one_shot")) for n in ("chain", "darts", "mobilenet", "nb201")]
    [('chain', False), ('darts', True), ('mobilenet', True), ('nb201', True)]
"""

from archai.space.spaces.base import (
    SHAPE_DEFAULTS,
    SPACES,
    Decision,
    SearchSpace,
    SpaceError,
    make_space,
    register_space,
)
from archai.space.spaces.chain import ChainSpace
from archai.space.spaces.darts import DartsSpace
from archai.space.spaces.mobilenet import MobileNetSpace
from archai.space.spaces.nb201 import Nb201Space

__all__ = [
    "SHAPE_DEFAULTS",
    "SPACES",
    "ChainSpace",
    "DartsSpace",
    "Decision",
    "MobileNetSpace",
    "Nb201Space",
    "SearchSpace",
    "SpaceError",
    "make_space",
    "register_space",
]
