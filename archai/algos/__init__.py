"""Search algorithms; importing this package registers them with ``SEARCHERS``.

>>> from archai.algos import DartsSearcher, RandomSearcher
>>> from archai.nas.searcher import SEARCHERS
>>> sorted(SEARCHERS.names())[:2]
['darts', 'random']
"""

from archai.algos.darts import DartsSearcher
from archai.algos.random import RandomSearcher

__all__ = ["DartsSearcher", "RandomSearcher"]
