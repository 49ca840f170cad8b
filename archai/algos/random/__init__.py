"""Random search over the DARTS cell space: ``RandomSearcher``."""

from archai.algos.random.searcher import RandomSearcher, sample_cell

__all__ = ["RandomSearcher", "sample_cell"]
