from archai.algos.local.searcher import LocalSearcher

__all__ = ["LocalSearcher"]
