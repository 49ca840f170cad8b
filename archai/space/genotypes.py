"""DARTS-style genotypes: parse and write genotype strings, and the published cells by name.

A genotype lists, for each of the normal and the reduction cell, two ``(op, input)`` pairs per
node (input 0 and 1 are the cell inputs, 2 + i is node i) and the states to concatenate:

    >>> g = parse_genotype("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], "
    ...                    "normal_concat=range(2, 3), reduce=[('max_pool_3x3', 0), "
    ...                    "('max_pool_3x3', 1)], reduce_concat=[2])")
    >>> g.normal_concat, format_genotype(g) == format_genotype(parse_genotype(format_genotype(g)))
    ([2], True)

Strings are parsed with :mod:`ast` (never ``eval``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from archai.common.errors import UserError
from archai.space.builder import TemplateBuilder
from archai.space.model_desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, OpDesc

Pairs = list[tuple[str, int]]


@dataclass(frozen=True)
class Genotype:
    """The DARTS genotype record (two ``(op, input)`` pairs per node)."""

    normal: tuple[tuple[str, int], ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[tuple[str, int], ...]
    reduce_concat: tuple[int, ...]

    def __init__(self, normal: Pairs, normal_concat: Any, reduce: Pairs, reduce_concat: Any) -> None:
        object.__setattr__(self, "normal", tuple((str(o), int(i)) for o, i in normal))
        object.__setattr__(self, "normal_concat", list(normal_concat))
        object.__setattr__(self, "reduce", tuple((str(o), int(i)) for o, i in reduce))
        object.__setattr__(self, "reduce_concat", list(reduce_concat))

    def __hash__(self) -> int:
        return hash((self.normal, tuple(self.normal_concat), self.reduce, tuple(self.reduce_concat)))


class GenotypeError(UserError, ValueError):
    """A genotype string or record is malformed."""


_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        return list(range(*[int(ast.literal_eval(a)) for a in node.args]))
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise GenotypeError(
            f"unsupported expression {ast.get_source_segment(text, node)!r} in genotype"
        ) from None


def parse_genotype(text: str) -> Genotype:
    """Parses ``Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)``."""
    text = text.strip()
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise GenotypeError(f"not a genotype string ({e.msg}): {text[:80]!r}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
        raise GenotypeError(f"a genotype string starts with 'Genotype(': {text[:80]!r}")
    values = dict(zip(_FIELDS, (_literal(a, text) for a in tree.args)))
    for kw in tree.keywords:
        if kw.arg not in _FIELDS:
            raise GenotypeError(f"unknown genotype field '{kw.arg}'; fields: {', '.join(_FIELDS)}")
        values[kw.arg] = _literal(kw.value, text)
    missing = [f for f in _FIELDS if f not in values]
    if missing:
        raise GenotypeError(f"genotype string lacks {', '.join(missing)}")
    try:
        return Genotype(**values)
    except (TypeError, ValueError) as e:
        raise GenotypeError(f"malformed genotype: {e}") from None


def format_genotype(g: Genotype) -> str:
    """The genotype as the string DARTS prints (parseable by :func:`parse_genotype`)."""
    return (
        f"Genotype(normal={list(g.normal)}, normal_concat={list(g.normal_concat)}, "
        f"reduce={list(g.reduce)}, reduce_concat={list(g.reduce_concat)})"
    )


def _cell(pairs: tuple[tuple[str, int], ...], concat: list[int], kind: str) -> CellDesc:
    if len(pairs) % 2:
        raise GenotypeError(
            f"the {kind} cell lists {len(pairs)} (op, input) pairs; two per node are expected"
        )
    nodes = [NodeDesc([EdgeDesc(OpDesc(o), i) for o, i in pairs[k : k + 2]]) for k in range(0, len(pairs), 2)]
    return CellDesc(kind, 0, nodes, list(concat))


def genotype_cells(g: Genotype) -> tuple[CellDesc, CellDesc]:
    """The normal and reduction cell templates of a genotype (channels left at 0)."""
    return _cell(g.normal, g.normal_concat, "normal"), _cell(g.reduce, g.reduce_concat, "reduction")


def cells_to_genotype(normal: CellDesc, reduction: CellDesc) -> Genotype:
    """The genotype of two cells whose nodes have exactly two edges each."""
    out = []
    for cell in (normal, reduction):
        pairs = []
        for ni, node in enumerate(cell.nodes):
            if len(node.edges) != 2 or node.join_into is not None:
                raise GenotypeError(
                    f"{cell.kind} cell node {ni} is not expressible as a genotype (two edges per node)"
                )
            pairs += [(e.op.name, e.input) for e in node.edges]
        out.append((pairs, cell.concat))
    return Genotype(out[0][0], out[0][1], out[1][0], out[1][1])


def desc_to_genotype(desc: ModelDesc) -> Genotype:
    """The genotype of a DARTS-style description (its first normal and reduction cell)."""
    normal = next(c for c in desc.cells if c.kind == "normal")
    reduction = next((c for c in desc.cells if c.kind == "reduction"), normal)
    return cells_to_genotype(normal, reduction)


class GenotypeBuilder(TemplateBuilder):
    """Builds the evaluation network of a DARTS-style genotype."""

    def __init__(self, genotype: Any, **kw: Any) -> None:
        normal, reduction = genotype_cells(genotype)
        super().__init__(normal, reduction, **kw)


def genotype_to_desc(g: Genotype | str, **kw: Any) -> ModelDesc:
    """Evaluation network of a genotype; ``kw`` as for :class:`~archai.space.builder.ModelDescBuilder`."""
    g = parse_genotype(g) if isinstance(g, str) else g
    desc = GenotypeBuilder(g, **kw).build()
    desc.meta["genotype"] = format_genotype(g)
    return desc


# ----------------------------------------------------------------------------- published cells
# Cells as published by their authors (and as the DARTS code base transcribes them).

_PNAS_CELL = [
    ("sep_conv_5x5", 0),
    ("max_pool_3x3", 0),
    ("sep_conv_7x7", 1),
    ("max_pool_3x3", 1),
    ("sep_conv_5x5", 1),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 4),
    ("max_pool_3x3", 1),
    ("sep_conv_3x3", 0),
    ("skip_connect", 1),
]
GENOTYPES: dict[str, Genotype] = {
    # Zoph et al., 2018 (NASNet-A)
    "NASNet": Genotype(
        [
            ("sep_conv_5x5", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 1),
            ("skip_connect", 0),
            ("avg_pool_3x3", 0),
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 1),
        ],
        [2, 3, 4, 5, 6],
        [
            ("sep_conv_5x5", 1),
            ("sep_conv_7x7", 0),
            ("max_pool_3x3", 1),
            ("sep_conv_7x7", 0),
            ("avg_pool_3x3", 1),
            ("sep_conv_5x5", 0),
            ("skip_connect", 3),
            ("avg_pool_3x3", 2),
            ("sep_conv_3x3", 2),
            ("max_pool_3x3", 1),
        ],
        [4, 5, 6],
    ),
    # Real et al., 2019 (AmoebaNet-A)
    "AmoebaNet": Genotype(
        [
            ("avg_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_5x5", 2),
            ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 3),
            ("sep_conv_3x3", 1),
            ("skip_connect", 1),
            ("skip_connect", 0),
            ("avg_pool_3x3", 1),
        ],
        [4, 5, 6],
        [
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("max_pool_3x3", 0),
            ("sep_conv_7x7", 2),
            ("sep_conv_7x7", 0),
            ("avg_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("conv_7x1_1x7", 0),
            ("sep_conv_3x3", 5),
        ],
        [3, 4, 6],
    ),
    # Liu et al., 2019: first-order DARTS
    "DARTS_V1": Genotype(
        [
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("skip_connect", 2),
        ],
        [2, 3, 4, 5],
        [
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("avg_pool_3x3", 0),
        ],
        [2, 3, 4, 5],
    ),
    # Liu et al., 2019: second-order DARTS
    "DARTS_V2": Genotype(
        [
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("skip_connect", 0),
            ("skip_connect", 0),
            ("dil_conv_3x3", 2),
        ],
        [2, 3, 4, 5],
        [
            ("max_pool_3x3", 0),
            ("max_pool_3x3", 1),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
            ("max_pool_3x3", 0),
            ("skip_connect", 2),
            ("skip_connect", 2),
            ("max_pool_3x3", 1),
        ],
        [2, 3, 4, 5],
    ),
    # Liu et al., 2018 (PNASNet-5): the same cell for normal and reduction
    "PNAS": Genotype(_PNAS_CELL, [2, 3, 4, 5, 6], _PNAS_CELL, [2, 3, 4, 5, 6]),
    # Pham et al., 2018: the ENAS micro-search cell, in DARTS notation
    "ENAS": Genotype(
        [
            ("sep_conv_3x3", 1),
            ("skip_connect", 1),
            ("sep_conv_5x5", 1),
            ("skip_connect", 0),
            ("avg_pool_3x3", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0),
            ("avg_pool_3x3", 1),
            ("sep_conv_5x5", 1),
            ("avg_pool_3x3", 0),
        ],
        [2, 3, 4, 5, 6],
        [
            ("sep_conv_5x5", 0),
            ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 1),
            ("sep_conv_3x3", 1),
            ("avg_pool_3x3", 1),
            ("avg_pool_3x3", 1),
            ("sep_conv_5x5", 4),
            ("sep_conv_3x3", 5),
            ("sep_conv_5x5", 0),
        ],
        [2, 3, 4, 5, 6],
    ),
}
