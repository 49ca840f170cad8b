"""Random search with weight sharing (Li & Talwalkar, 2019): ``RswsSearcher``."""

from archai.algos.rsws.searcher import RswsSearcher

__all__ = ["RswsSearcher"]
