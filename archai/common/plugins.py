"""Plugins: modules that add ops, searchers, skeletons or datasets to Archai's registries when
imported, in the command line's process and in every executor worker.

:func:`load_plugins` imports every installed package's ``archai.plugins`` (or, the older name,
``archai.searchers``) entry points and the modules named, and returns the module names an
executor must import in its workers, so a plugin op or searcher is known there too:

    >>> modules = load_plugins(["json"])        # e.g. ["my_package.my_ops"]
    >>> "json" in modules
    True

``scripts/main.py --plugins a,b`` calls it and passes the result to the executor; in a
notebook, call it before building a model with a plugin op, and give the returned names to
:func:`~archai.search.executor.make_executor` (``plugins=``) when jobs run on Ray. The built-in
searchers need no loading: ``SEARCHERS`` imports them at its first look-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from archai.common.errors import UserError

__all__ = ["ENTRY_POINT_GROUPS", "import_plugins", "load_plugins"]

#: entry-point groups whose modules are imported (``archai.searchers`` is the older name)
ENTRY_POINT_GROUPS = ("archai.plugins", "archai.searchers")


def import_plugins(modules: Iterable[str]) -> list[str]:
    """Imports each named module (a no-op for one already imported); returns the names. What
    every job does first, where it runs.

    Raises:
        UserError: a named module does not exist. A module that exists but fails while
            importing (a bug in it, or a missing dependency of it) raises its own error.
    """
    names = [m.strip() for m in modules if m and m.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if not e.name or not (name == e.name or name.startswith(e.name + ".")):
                raise  # the plugin itself imports something missing: a bug with a traceback
            raise UserError(
                f"plugin module '{name}' not found (is it installed, or on PYTHONPATH of every worker?)"
            ) from None
    return names


def load_plugins(modules: str | Iterable[str] = (), *, installed: bool = True) -> list[str]:
    """Imports the installed entry points (``installed``) and ``modules`` (a list, or a
    comma-separated string); returns every plugin module's name, for the executor.

    Raises:
        UserError: a named module does not exist.
    """
    if isinstance(modules, str):
        modules = modules.split(",")
    found: list[str] = []
    if installed:
        for group in ENTRY_POINT_GROUPS:
            for ep in entry_points(group=group):
                ep.load()
                found.append(ep.module)
    for name in import_plugins(modules):
        if name not in found:
            found.append(name)
    return found
