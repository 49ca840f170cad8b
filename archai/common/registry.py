"""A tiny name -> object registry shared by ops, searchers and datasets."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from archai.common.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects, registered with a decorator.

    Each registry is an ordinary object owned by the module that defines the kind of thing it
    holds (ops, searchers, datasets); nothing here is global. ``builtins`` names the module
    that registers the built-in entries when it is imported: the registry imports it at its
    first look-up, so ``SEARCHERS.names()`` lists the built-in searchers without any other
    import.

    Example:
        >>> MODELS = Registry("model")
        >>> @MODELS.register("tiny")
        ... class Tiny: ...
        >>> MODELS.get("tiny").__name__
        'Tiny'
    """

    def __init__(self, kind: str, builtins: str | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        # the module that registers the built-in entries, imported at the first look-up (so a
        # registry is full without a side-effect import, and defining it imports nothing)
        self._builtins = builtins

    def _load_builtins(self) -> None:
        if self._builtins is not None:
            module, self._builtins = self._builtins, None  # None first: the module registers here
            try:
                importlib.import_module(module)
            except BaseException:
                self._builtins = module  # tried again at the next look-up
                raise

    def register(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """Decorator that registers its target under ``name``."""

        self._load_builtins()  # a plugin that overwrites a built-in comes after it

        def deco(obj: T) -> T:
            if name in self._items and not overwrite and self._items[name] is not obj:
                raise KeyError(
                    f"{self.kind} '{name}' is already registered; pick another name or pass overwrite=True"
                )
            self._items[name] = obj
            return obj

        return deco

    def register_named(self, name: str) -> Callable[[T], T]:
        """Class decorator: sets the class's ``name`` to ``name`` and registers it (searchers,
        search spaces)."""

        def deco(cls: T) -> T:
            cls.name = name  # type: ignore[attr-defined]
            return self.register(name)(cls)

        return deco

    def get(self, name: str) -> T:
        """Returns the object registered as ``name`` or raises an :class:`UnknownNameError` (a
        ``KeyError``) that suggests one."""
        self._load_builtins()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        self._load_builtins()
        close = difflib.get_close_matches(name, list(self._items), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown {self.kind} '{name}'{hint or '.'} Known: {', '.join(sorted(self._items))}"

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load_builtins()
        return len(self._items)
