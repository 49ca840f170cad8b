"""The model space: what architectures are made of, with no training in it.

Descriptions (plain data, YAML), ops, skeletons, builders, published genotypes, NAS-Bench-201
strings, networks built from descriptions, one-shot supernets, search spaces (``make_space``:
sample, mutate, neighbours, digest, encode, enumerate, one-shot view), and cost (params, MACs,
latency, memory):

    >>> from archai.space import GENOTYPES, genotype_to_desc, build_model, measure_cost
    >>> desc = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=16, n_cells=8)
    >>> cost = measure_cost(desc)
    >>> cost.params == sum(p.numel() for p in build_model(desc).parameters()), cost.macs > 0
    (True, True)
"""

from archai.space.builder import ModelDescBuilder, TemplateBuilder, expand_cells
from archai.space.cost import CostReport, count_macs, measure_cost
from archai.space.draw import cell_to_dot, draw_cell
from archai.space.genotypes import (
    GENOTYPES,
    Genotype,
    GenotypeBuilder,
    GenotypeError,
    desc_to_genotype,
    format_genotype,
    genotype_to_desc,
    parse_genotype,
)
from archai.space.model import Model, build_model, count_params
from archai.space.model_desc import CellDesc, DescError, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import DARTS_PRIMITIVES, ENAS_PRIMITIVES, NB201_PRIMITIVES, OPS, make_op
from archai.space.skeletons import SKELETONS, Skeleton, register_skeleton
from archai.space.spaces import (
    SPACES,
    ChainSpace,
    DartsSpace,
    Nb201Space,
    SearchSpace,
    SpaceError,
    make_space,
    register_space,
)
from archai.space.spaces.darts import (
    mutate_cell,
    mutate_desc,
    mutate_input,
    mutate_op,
    sample_cell,
    sample_desc,
)
from archai.space.spaces.nb201 import arch_to_desc, desc_to_arch
from archai.space.supernet import MixedOpOptions, Supernet, SupernetBuilder, finalize_desc, finalize_supernet

__all__ = [
    "DARTS_PRIMITIVES",
    "ENAS_PRIMITIVES",
    "GENOTYPES",
    "NB201_PRIMITIVES",
    "OPS",
    "SKELETONS",
    "SPACES",
    "CellDesc",
    "ChainSpace",
    "CostReport",
    "DartsSpace",
    "DescError",
    "EdgeDesc",
    "Genotype",
    "GenotypeBuilder",
    "GenotypeError",
    "MixedOpOptions",
    "Model",
    "ModelDesc",
    "ModelDescBuilder",
    "Nb201Space",
    "NodeDesc",
    "OpDesc",
    "SearchSpace",
    "Skeleton",
    "SpaceError",
    "Supernet",
    "SupernetBuilder",
    "TemplateBuilder",
    "arch_to_desc",
    "build_model",
    "cell_to_dot",
    "count_macs",
    "count_params",
    "desc_to_arch",
    "desc_to_genotype",
    "draw_cell",
    "expand_cells",
    "finalize_desc",
    "finalize_supernet",
    "format_genotype",
    "genotype_to_desc",
    "make_op",
    "make_space",
    "measure_cost",
    "mutate_cell",
    "mutate_desc",
    "mutate_input",
    "mutate_op",
    "parse_genotype",
    "register_skeleton",
    "register_space",
    "sample_cell",
    "sample_desc",
]
