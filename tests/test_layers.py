"""The package's layers: common <- datasets <- space <- search <- algos <- cli (and scripts).

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
    "archai.cli",  # the command line (scripts/main.py, python -m archai)
    "archai.__main__",
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
    """Modules of archai that ``path`` imports anywhere, ``if TYPE_CHECKING:`` blocks included
    (a cycle for the type checker is a cycle of the design)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
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
    # archai.__main__ runs the command line when imported: what `python -m archai` is for
    order = [m for m in TopologicalSorter(edges).static_order() if m != "archai.__main__"]
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint(len(sys.argv) - 1)"
    out = subprocess.run(
        [sys.executable, "-c", code, *order], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.strip()) == len(MODULES) - 1


def test_the_public_api_is_declared_and_importable():
    import archai.algos
    import archai.search
    import archai.space

    for pkg in (archai.space, archai.search, archai.algos):
        missing = [n for n in pkg.__all__ if not hasattr(pkg, n)]
        assert missing == [] and len(pkg.__all__) == len(set(pkg.__all__)), pkg.__name__
    assert {"Searcher", "register_searcher", "Trainer", "make_executor"} <= set(archai.search.__all__)
    assert {"ModelDesc", "build_model", "sample_desc", "mutate_desc"} <= set(archai.space.__all__)


def test_registries_are_full_without_a_side_effect_import():
    code = (
        "import archai.search as s, archai.space as sp, archai.datasets as d; "
        "print(s.SEARCHERS.names()); print('sep_conv_3x3' in sp.OPS, 'nb201' in sp.SKELETONS, "
        "'cifar10' in d.DATASETS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    names, others = out.stdout.strip().splitlines()
    assert {"darts", "enas", "evolution", "petridish", "random"} <= set(eval(names))
    assert others == "True True True"


def test_python_m_archai_is_the_command_line(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "archai", "--algos", "dart", "--exp-dir", str(tmp_path / "e")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 2 and "unknown searcher 'dart'; did you mean 'darts'?" in out.stderr
    assert not (tmp_path / "e").exists()


def test_a_plugin_can_overwrite_a_built_in_searcher_before_the_first_look_up():
    code = (
        "from archai.search import SEARCHERS, Searcher\n"
        "class Mine(Searcher): pass\n"
        "SEARCHERS.register('random', overwrite=True)(Mine)\n"
        "assert SEARCHERS.get('random') is Mine and 'darts' in SEARCHERS\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
