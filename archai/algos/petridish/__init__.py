"""Petridish (Hu et al., 2019): ``PetridishSearcher``, its growth step and candidate job."""

from archai.algos.petridish.searcher import PetridishSearcher
from archai.algos.petridish.space import candidate_desc, child_desc, child_init_state, select_pairs

__all__ = ["PetridishSearcher", "candidate_desc", "child_desc", "child_init_state", "select_pairs"]
