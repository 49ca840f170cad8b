"""Importing plugin modules by name: in the command line's process and in every executor worker.

A plugin is a module that registers ops, searchers, skeletons or datasets when imported. The
public entry point is :func:`archai.plugins.load`; this lower-level piece only imports, so the
executor (which carries the module names to its workers) can use it.

Example:
    >>> import_plugins(["json"])
    ['json']
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from archai.common.errors import UserError


def import_plugins(modules: Iterable[str]) -> list[str]:
    """Imports each named module (a no-op for one already imported); returns the names.

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
