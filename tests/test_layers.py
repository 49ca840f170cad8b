"""The package's layers: common <- datasets <- space <- search <- algos <- plugins (and scripts).

Every import of an ``archai`` module, also one inside a function, points down or sideways within
its layer, and the modules form no cycle; a fresh interpreter imports them all in dependency
order (leaves first).
"""

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    "archai.common",
    "archai.datasets",
    "archai.space",
    "archai.search",
    "archai.algos",
    "archai.plugins",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((ROOT / "archai").rglob("*.py"))}


def layer(module: str) -> int:
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return 0 if module == "archai" else -1  # the root package only names the version


def archai_imports(path: Path) -> set[str]:
    """Modules of archai that ``path`` imports anywhere, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("archai")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("archai"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return {m for m in out if m in MODULES}


def graph() -> dict[str, set[str]]:
    deps = {name: archai_imports(path) - {name} for name, path in MODULES.items()}
    for name in MODULES:  # importing a module runs its packages' __init__ first
        parent = name.rsplit(".", 1)[0] if "." in name else None
        if parent and parent in MODULES:
            deps[name].add(parent)
    return deps


def test_imports_point_down_the_layers():
    wrong = [
        f"{m} ({LAYERS[layer(m)]}) imports {d}"
        for m, ds in graph().items()
        for d in ds
        if layer(d) > layer(m)
    ]
    assert wrong == []
    assert all(layer(m) >= 0 for m in MODULES), [m for m in MODULES if layer(m) < 0]


def test_no_import_cycles_even_inside_functions():
    deps = graph()
    # a package's __init__ imports its children; a child depending on its own package's __init__
    # is Python's normal order, not a cycle, so only the child -> package edges are left out here
    edges = {m: {d for d in ds if not m.startswith(d + ".")} for m, ds in deps.items()}
    try:
        list(TopologicalSorter(edges).static_order())
    except CycleError as e:
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")


def test_a_fresh_interpreter_imports_every_module_in_dependency_order():
    deps = graph()
    edges = {m: {d for d in ds if not m.startswith(d + ".")} for m, ds in deps.items()}
    order = list(TopologicalSorter(edges).static_order())
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint(len(sys.argv) - 1)"
    out = subprocess.run(
        [sys.executable, "-c", code, *order], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.strip()) == len(MODULES)


def test_the_public_api_is_declared_and_importable():
    import archai.algos
    import archai.search
    import archai.space

    for pkg in (archai.space, archai.search, archai.algos):
        missing = [n for n in pkg.__all__ if not hasattr(pkg, n)]
        assert missing == [] and len(pkg.__all__) == len(set(pkg.__all__)), pkg.__name__
    assert {"Searcher", "register_searcher", "Trainer", "make_executor"} <= set(archai.search.__all__)
    assert {"ModelDesc", "build_model", "sample_desc", "mutate_desc"} <= set(archai.space.__all__)
