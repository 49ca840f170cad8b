"""Random search over the DARTS cell space: ``RandomSearcher``."""

from archai.algos.random.searcher import RandomSearcher

__all__ = ["RandomSearcher"]
