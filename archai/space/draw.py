"""Drawing a cell as a Graphviz graph (``.dot`` text; PNG/SVG when ``dot`` is installed).

Example:
    >>> from archai.space.genotypes import GENOTYPES, genotype_cells
    >>> print(cell_to_dot(genotype_cells(GENOTYPES["DARTS_V2"])[0]).splitlines()[0])
    digraph cell {
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from archai.space.model_desc import CellDesc


class GraphvizMissingError(RuntimeError):
    """The ``dot`` program is needed to render PNG/SVG."""


def cell_to_dot(cell: CellDesc, n_inputs: int = 2, title: str | None = None) -> str:
    """The cell as Graphviz DOT text: inputs, nodes, one labelled arrow per edge, the output."""
    inputs = ["c_{k-2}", "c_{k-1}"] if n_inputs == 2 else ["input"]
    lines = [
        "digraph cell {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica];',
    ]
    if title or cell.kind:
        lines.append(f'  label="{title or cell.kind + " cell"}";')
    for i, name in enumerate(inputs):
        lines.append(f'  s{i} [label="{name}", fillcolor="#a6d8f0"];')
    for ni, node in enumerate(cell.nodes):
        s = n_inputs + ni
        lines.append(f'  s{s} [label="{ni}", fillcolor="#f7f3a5"];')
        for e in node.edges:
            lines.append(f'  s{e.input} -> s{s} [label="{e.op.name}"];')
    lines.append('  out [label="c_{k}", fillcolor="#c3f0a6"];')
    for s in cell.concat:
        lines.append(f"  s{s} -> out;")
    for ni, node in enumerate(cell.nodes):
        if node.join_into is not None:
            lines.append(f'  s{n_inputs + ni} -> out [label="gate into {node.join_into}", style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_cell(cell: CellDesc, path: str | Path, n_inputs: int = 2, title: str | None = None) -> Path:
    """Writes ``path`` as ``.dot``, or renders ``.png``/``.svg`` (which needs Graphviz' ``dot``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dot = cell_to_dot(cell, n_inputs, title)
    if path.suffix == ".dot":
        path.write_text(dot)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissingError(
            f"rendering {path.name} needs Graphviz' 'dot' program (e.g. 'apt-get install -y graphviz'); "
            f"a .dot file can be written without it"
        )
    subprocess.run([exe, f"-T{path.suffix[1:]}", "-o", str(path)], input=dot.encode(), check=True)
    return path
