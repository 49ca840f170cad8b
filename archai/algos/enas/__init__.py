"""ENAS (Pham et al., 2018) on a space's one-shot view: ``EnasSearcher`` and its controller."""

from archai.algos.enas.controller import Controller, Reinforce
from archai.algos.enas.searcher import EnasSearcher

__all__ = ["Controller", "EnasSearcher", "Reinforce"]
