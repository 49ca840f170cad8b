"""DARTS (Liu et al., 2019): ``DartsSearcher`` and its architecture step."""

from archai.algos.darts.arch_step import DartsArchStep
from archai.algos.darts.searcher import DartsSearcher

__all__ = ["DartsArchStep", "DartsSearcher"]
