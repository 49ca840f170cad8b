"""Search algorithms; importing this package registers them with ``SEARCHERS``.

>>> from archai.algos import DartsSearcher, PetridishSearcher, RandomSearcher
>>> from archai.search.searcher import SEARCHERS
>>> {"darts", "petridish", "random"} <= set(SEARCHERS.names())
True
"""

from archai.algos.darts import DartsSearcher
from archai.algos.enas import EnasSearcher
from archai.algos.evolution import EvolutionSearcher
from archai.algos.local import LocalSearcher
from archai.algos.petridish import PetridishSearcher
from archai.algos.proxylessnas import ProxylessNasSearcher
from archai.algos.random import RandomSearcher
from archai.algos.rsws import RswsSearcher

__all__ = [
    "DartsSearcher",
    "EnasSearcher",
    "EvolutionSearcher",
    "LocalSearcher",
    "PetridishSearcher",
    "ProxylessNasSearcher",
    "RandomSearcher",
    "RswsSearcher",
]
