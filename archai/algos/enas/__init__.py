"""ENAS (Pham et al., 2018), micro space: ``EnasSearcher``, the controller and the shared child."""

from archai.algos.enas.child import EnasChild, arch_to_cell
from archai.algos.enas.controller import Controller, Reinforce
from archai.algos.enas.searcher import EnasSearcher

__all__ = ["Controller", "EnasChild", "EnasSearcher", "Reinforce", "arch_to_cell"]
