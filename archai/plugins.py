"""Plugins: modules that add ops, searchers, skeletons or datasets to Archai when imported.

:func:`load` registers the built-in searchers, every installed package's ``archai.plugins``
(or ``archai.searchers``) entry points, and the modules named; it returns the module names an
executor must import in its workers, so a plugin op or searcher is known there too:

    >>> import archai.plugins
    >>> modules = archai.plugins.load(["json"])        # e.g. ["my_package.my_ops"]
    >>> "json" in modules
    True

``scripts/main.py --plugins a,b`` calls it, and passes the result to the executor; in a
notebook, call it before building a model with a plugin op, and give the returned names to
:func:`~archai.search.executor.make_executor` (``plugins=``) when jobs run on Ray.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

import archai.algos  # noqa: F401  (registers the built-in searchers)
from archai.common.plugins import import_plugins

__all__ = ["ENTRY_POINT_GROUPS", "load"]

#: entry-point groups whose modules are imported (``archai.searchers`` is the older name)
ENTRY_POINT_GROUPS = ("archai.plugins", "archai.searchers")


def load(modules: str | Iterable[str] = (), *, installed: bool = True) -> list[str]:
    """Imports the built-in searchers, the installed entry points (``installed``) and
    ``modules`` (a list, or a comma-separated string); returns every plugin module's name.

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
