"""Regularized (aging) evolution over DARTS cells: ``EvolutionSearcher``."""

from archai.algos.evolution.searcher import EvolutionSearcher

__all__ = ["EvolutionSearcher"]
