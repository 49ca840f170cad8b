"""Layered YAML configuration: includes, references, command-line overrides and validation.

A config is built from layers. The first layer (usually ``confs/base.yaml``) is the *schema*:
it defines every key and the type of its value. Later layers (an algorithm's defaults, the toy
overlay, a user's file, command-line overrides) may only set keys that already exist, with a
value of a compatible type; anything else is a :class:`ConfigError` that names the key path and
suggests the closest valid key.

File syntax (only safe YAML loading is used; ``1e-4`` is a float):

- ``__include__: other.yaml`` (or a list of files), relative to the including file. Included
  files are merged first, in order; the including file's own keys win.
- ``key: {_copy: /abs/key/path}`` takes the value found there; when it is a mapping, keys
  written next to ``_copy`` are merged over it (the local keys win). A relative path
  (``{_copy: sibling}``, ``{_copy: ../other/key}``) starts at the mapping that holds ``key``;
  ``..`` goes up one level. References are resolved after every layer and override is applied, so an override
  of the referenced value flows to every place that copies it.
- ``key: !null TYPE`` declares a key whose default is null (no value) and whose values have
  type TYPE (``str``, ``int``, ``float``, ``bool``, ``list``, ``mapping``). Every key of the
  schema has a type: a plain ``null`` there is an error as soon as a layer sets the key.

A loaded :class:`Config` is read-only; :meth:`Config.with_overrides` returns a changed,
validated copy.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "base.yaml").write_text("trainer: {epochs: 10, lr: 0.1, clip: !null float}\\n"
    ...                                  "eval: {trainer: {_copy: /trainer, epochs: 600}}\\n")
    >>> cfg = load_config([d / "base.yaml"], overrides=["--trainer.lr", "0.5"])
    >>> cfg.eval.trainer.lr, cfg.eval.trainer.epochs, cfg.trainer.clip
    (0.5, 600, None)
    >>> cfg.with_overrides({"trainer.clip": 5}).trainer.clip
    5.0
"""

from __future__ import annotations

import copy
import difflib
import importlib.resources
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from archai.common.errors import UserError

INCLUDE_KEY = "__include__"
COPY_KEY = "_copy"
COPY_PREFIX = "_copy:"  # the retired string form of a reference, refused with a hint

PathT = tuple[str, ...]


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-4`` and ``1.0e9`` as floats (YAML 1.2 style);
    plain PyYAML would read them as strings."""


ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


class Null:
    """The default of a key that has no value but a declared type (``key: !null float`` in YAML,
    ``Null(float)`` in a searcher's ``defaults``)."""

    TYPES: dict[str, type] = {
        "str": str,
        "int": int,
        "float": float,
        "bool": bool,
        "list": list,
        "mapping": dict,
    }

    def __init__(self, type_: str | type) -> None:
        names = {v: k for k, v in self.TYPES.items()}
        name = type_ if isinstance(type_, str) else names.get(type_, "")
        if name not in self.TYPES:
            raise ConfigError(
                f"!null needs a type, one of {', '.join(self.TYPES)}; got {type_!r} (write e.g. 'key: !null str')"
            )
        self.name = name

    def example(self) -> Any:
        """A value of the declared type, to check others against."""
        return self.TYPES[self.name]()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Null) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Null", self.name))

    def __repr__(self) -> str:
        return f"Null({self.name})"


ConfigLoader.add_constructor("!null", lambda loader, node: Null(loader.construct_scalar(node)))


def parse_yaml(text: str):
    """Safe YAML parsing with :class:`ConfigLoader` (never constructs Python objects)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - ConfigLoader is a SafeLoader


def confs_dir() -> Path:
    """The folder of Archai's shipped YAML configs: the package data ``archai.confs`` (the
    repository's ``confs/``, wherever archai is installed, from a wheel or editable), or the
    ``confs/`` beside this source tree when archai runs from a checkout that is not installed."""
    try:
        found = Path(str(importlib.resources.files("archai.confs")))
    except ModuleNotFoundError:
        found = Path(__file__).resolve().parents[2] / "confs"
    if not (found / "base.yaml").is_file():
        raise FileNotFoundError(f"Archai's configs are missing from {found}; reinstall archai")
    return found


class ConfigError(UserError, ValueError):
    """A config file, reference or override is invalid; the message says which key and why."""


class Config(dict):
    """A read-only nested ``dict`` with attribute access (``cfg.trainer.epochs``).

    It stays a plain dict underneath, so it pickles, compares and serializes like one. It cannot
    be changed in place (a validated config stays valid); :meth:`with_overrides` returns a
    changed copy, checked and propagated through references like a command-line override.
    (Lists inside it are plain lists: treat them as read-only too.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        nulls: dict[str, Null] = {}
        for k, v in self.items():
            if isinstance(v, Null):
                nulls[k] = v
                dict.__setitem__(self, k, None)
            elif isinstance(v, dict) and not isinstance(v, Config):
                dict.__setitem__(self, k, Config(v))
        object.__setattr__(self, "_nulls", nulls)  # declared types of the keys that are null
        object.__setattr__(self, "_source", None)  # (layered tree with references, null types)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            close = difflib.get_close_matches(name, [str(k) for k in self.keys()], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise AttributeError(f"config has no key '{name}'{hint}") from None

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "a Config is read-only once validated; make a changed copy with "
            "conf.with_overrides({'trainer.epochs': 3}) (checked like a command-line override)"
        )

    __setattr__ = __setitem__ = __delitem__ = __delattr__ = _read_only
    update = pop = popitem = setdefault = clear = __ior__ = _read_only

    def __deepcopy__(self, memo: dict) -> Config:
        out = _with_nulls(Config(copy.deepcopy(self.typed_dict(), memo)), self.null_types())
        object.__setattr__(out, "_source", copy.deepcopy(self._source, memo))
        return out

    def __copy__(self) -> Config:
        return self.__deepcopy__({})

    def copy(self) -> Config:
        return self.__deepcopy__({})

    def null_types(self, prefix: PathT = ()) -> dict[PathT, Null]:
        """Key path -> declared type of every key that may be null (whether it is now or not)."""
        out = {(*prefix, k): n for k, n in self._nulls.items()}
        for k, v in self.items():
            if isinstance(v, Config):
                out.update(v.null_types((*prefix, k)))
        return out

    def __reduce__(self):  # pickle as a plain dict, rebuilt as Config
        return (Config, (self.typed_dict(),))

    def typed_dict(self) -> dict:
        """Plain nested dicts, null keys given back their declared types (:class:`Null`)."""
        out = {}
        for k, v in self.items():
            out[k] = v.typed_dict() if isinstance(v, Config) else self._nulls.get(k, v) if v is None else v
        return out

    def get_path(self, path: str | Sequence[str]) -> Any:
        """Value at a dotted path such as ``"trainer.optimizer.lr"``."""
        node: Any = self
        for key in _split(path):
            if not isinstance(node, Mapping) or key not in node:
                raise KeyError(f"config has no key '{_join(_split(path))}'")
            node = node[key]
        return node

    def with_overrides(self, changes: Mapping[str, Any]) -> Config:
        """A copy with ``changes`` (dotted key path -> value) applied as command-line overrides
        are: each key must exist, each value have its key's type (ints become floats where
        floats are expected), a mapping is merged key by key, and a change reaches every key
        that copies the changed one (``{_copy: ...}``). Value rules (ranges, names) are the
        caller's: ``build_config`` checks them.

        Raises:
            ConfigError: an unknown key (with the closest valid one) or a value of the wrong type.
        """
        raw, nulls = self._layered()
        for dotted, value in changes.items():
            path = _split(dotted)
            resolved = resolve_references(raw)
            target = _lookup(resolved, path)
            if isinstance(value, Mapping) and isinstance(target, Mapping):
                layer: Any = to_plain(value)
                for k in reversed(path):
                    layer = {k: layer}
                raw = deep_merge(raw, validate_layer(layer, resolved, "with_overrides", nulls))
            else:
                _set_path(raw, path, coerce_value(path, to_plain(value), target, "with_overrides", nulls))
        return _finish(raw, nulls)

    def without(self, *paths: str) -> Config:
        """A copy without the keys at ``paths`` (dotted), e.g. the sections of searchers a run
        does not use."""
        raw, nulls = self._layered()
        for dotted in paths:
            path = _split(dotted)
            _lookup(resolve_references(raw), path)
            node = raw
            for k in path[:-1]:
                node = node.get(k) if isinstance(node, dict) else None
            if not isinstance(node, dict) or path[-1] not in node:
                raise ConfigError(f"'{dotted}' comes from a reference; remove the key it copies instead")
            del node[path[-1]]
        return _finish(
            raw, {p: n for p, n in nulls.items() if not any(p[: len(_split(q))] == _split(q) for q in paths)}
        )

    def _layered(self) -> tuple[dict, dict[PathT, Null]]:
        """A copy of the tree this config was resolved from (references kept) and its null types."""
        if self._source is not None:
            return copy.deepcopy(self._source[0]), dict(self._source[1])
        return self.typed_dict(), self.null_types()

    def to_dict(self) -> dict:
        return to_plain(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_plain(self), sort_keys=False, default_flow_style=False)

    def save(self, path: str | Path) -> Path:
        """Writes the resolved config as YAML; :func:`load_config` on it reproduces it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml())
        return path


def _lookup(tree: Mapping, path: PathT, source: str | None = None) -> Any:
    """The value at ``path``; an unknown key is a :class:`ConfigError` naming ``source`` (where
    the key came from) and the closest valid key."""
    node: Any = tree
    for i, k in enumerate(path):
        if not isinstance(node, Mapping) or k not in node:
            where = f" (from {source})" if source else ""
            raise ConfigError(f"unknown config key '{_join(path)}'{where}{_suggest(tree, path[: i + 1])}")
        node = node[k]
    return node


def _finish(raw: dict, nulls: Mapping[PathT, Null]) -> Config:
    """The read-only config of a layered tree: references resolved, null types recorded."""
    conf = _with_nulls(Config(resolve_references(raw)), nulls)
    object.__setattr__(conf, "_source", (raw, dict(nulls)))
    return conf


def _with_nulls(conf: Config, nulls: Mapping[PathT, Null]) -> Config:
    """Records on ``conf``'s nodes which keys may be null, and their types (in place)."""
    for path, null in nulls.items():
        node: Any = conf
        for k in path[:-1]:
            node = node.get(k) if isinstance(node, Mapping) else None
        if isinstance(node, Config) and path[-1] in node:
            node._nulls[path[-1]] = null
    return conf


def _null_paths(tree: Any, prefix: PathT = ()) -> dict[PathT, Null]:
    """Key path -> :class:`Null` for every typed null in a (resolved) schema tree."""
    out: dict[PathT, Null] = {}
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            if isinstance(v, Null):
                out[(*prefix, k)] = v
            else:
                out.update(_null_paths(v, (*prefix, k)))
    return out


def to_plain(value: Any) -> Any:
    """Converts nested Config/tuples to plain dicts/lists (what YAML and JSON can hold)."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return None if isinstance(value, Null) else value


# ----------------------------------------------------------------------------- files and merging


def deep_merge(base: Mapping, over: Mapping) -> dict:
    """Returns a new dict: ``over`` merged into ``base`` recursively, ``over`` winning."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_yaml(path: str | Path, _stack: tuple[Path, ...] = ()) -> dict:
    """Loads one YAML file with its ``__include__`` chain merged in (references unresolved)."""
    path = Path(path).expanduser().resolve()
    if path in _stack:
        chain = " -> ".join(str(p) for p in (*_stack, path))
        raise ConfigError(f"__include__ cycle: {chain}")
    if not path.is_file():
        where = f" (included from {_stack[-1]})" if _stack else ""
        raise ConfigError(f"config file not found: {path}{where}")
    try:
        data = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level, not {type(data).__name__}")
    includes = data.pop(INCLUDE_KEY, None) or []
    if isinstance(includes, str):
        includes = [includes]
    merged: dict = {}
    for inc in includes:
        merged = deep_merge(merged, load_yaml(path.parent / inc, (*_stack, path)))
    return deep_merge(merged, data)


# ----------------------------------------------------------------------------- references


def _split(path: str | Sequence[str]) -> PathT:
    if isinstance(path, str):
        return tuple(p for p in path.split(".") if p)
    return tuple(path)


def _join(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _ref_target(holder: PathT, ref: str) -> PathT:
    """Absolute key path of a reference written inside the mapping at ``holder``."""
    ref = ref.strip()
    if ref.startswith("/"):
        return tuple(p for p in ref.split("/") if p)
    out = list(holder)
    for part in ref.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                raise ConfigError(f"reference '{ref}' at '{_join(holder)}' goes above the root")
            out.pop()
        else:
            out.append(part)
    return tuple(out)


class _Resolver:
    def __init__(self, root: dict) -> None:
        self.root = root
        self.active: list[PathT] = []

    def resolve(self, node: Any, path: PathT) -> Any:
        if isinstance(node, Mapping):
            node = self._expand(node, path)
            if not isinstance(node, Mapping):  # {_copy: path} of a value that is not a mapping
                return node
            return {k: self.resolve(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v, (*path, str(i))) for i, v in enumerate(node)]
        if isinstance(node, str) and node.startswith(COPY_PREFIX):
            raise ConfigError(
                f"'{_join(path)}': write a reference as {{{COPY_KEY}: {node[len(COPY_PREFIX) :].strip()}}}, "
                f"not as the string '{node}'"
            )
        return node

    def _expand(self, node: Mapping, path: PathT) -> Any:
        if COPY_KEY not in node:
            return node
        ref = node[COPY_KEY]
        if not isinstance(ref, str):
            raise ConfigError(f"'{_join((*path, COPY_KEY))}' must be a key path string")
        target = self.lookup(_ref_target(path[:-1], ref), path)
        local = {k: v for k, v in node.items() if k != COPY_KEY}
        if not isinstance(target, Mapping):
            if local:
                raise ConfigError(
                    f"'{_join(path)}' copies '{ref}', which is a {_type_name(target)}, not a mapping; "
                    f"keys next to '{COPY_KEY}' need a mapping to merge into"
                )
            return target
        return deep_merge(target, local)

    def lookup(self, target: PathT, origin: PathT) -> Any:
        if target in self.active:
            chain = " -> ".join(_join(p) for p in (*self.active, target))
            raise ConfigError(f"reference cycle: {chain}")
        self.active.append(target)
        try:
            node: Any = self.root
            for i, key in enumerate(target):
                if isinstance(node, Mapping):
                    node = self._expand(node, target[:i])
                if not isinstance(node, Mapping) or key not in node:
                    raise ConfigError(
                        f"'{_join(origin)}' refers to '/{'/'.join(target)}', which does not exist"
                    )
                node = node[key]
            return self.resolve(node, target)
        finally:
            self.active.pop()


def resolve_references(tree: Mapping) -> dict:
    """Returns a copy of ``tree`` with every ``_copy`` reference replaced by what it refers to."""
    return _Resolver(dict(tree)).resolve(tree, ())


# ----------------------------------------------------------------------------- validation


def _type_name(v: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "mapping"}.get(
        type(v), type(v).__name__
    )


def _all_paths(tree: Mapping, prefix: PathT = ()) -> list[PathT]:
    out = []
    for k, v in tree.items():
        out.append((*prefix, k))
        if isinstance(v, Mapping):
            out.extend(_all_paths(v, (*prefix, k)))
    return out


def _suggest(schema: Mapping, path: PathT) -> str:
    parent: Any = schema
    for k in path[:-1]:
        parent = parent.get(k, {}) if isinstance(parent, Mapping) else {}
    siblings = [str(k) for k in parent] if isinstance(parent, Mapping) else []
    close = difflib.get_close_matches(path[-1], siblings, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{_join((*path[:-1], close[0]))}'?"
    all_paths = [_join(p) for p in _all_paths(schema)]
    same_leaf = [p for p in all_paths if p.rsplit(".", 1)[-1] == path[-1]]
    close = same_leaf or difflib.get_close_matches(_join(path), all_paths, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if siblings:
        return f"; valid keys under '{_join(path[:-1])}': {', '.join(sorted(siblings))}"
    return ""


def coerce_value(
    path: PathT, value: Any, existing: Any, source: str, nulls: Mapping[PathT, Null] | None = None
) -> Any:
    """Checks ``value`` against the type of ``existing`` (a default, or a :class:`Null` that
    declares the type); returns it coerced (int -> float). A null value is allowed only where
    the default is a typed null; the declared type is kept so later layers are checked too."""
    if _is_reference(value):
        return value
    if isinstance(value, Null):
        value = None
    if value is None and nulls and path in nulls:  # a key declared '!null TYPE' may be null again
        return nulls[path]
    if existing is None:
        raise ConfigError(
            f"config key '{_join(path)}' (from {source}): its default is null and its schema declares "
            f"no type; declare one where the key is defined, e.g. '{path[-1] if path else 'key'}: !null str'"
        )
    if isinstance(existing, Null):
        if value is None:
            return existing
        try:
            return coerce_value(path, value, existing.example(), source)
        except ConfigError:
            raise ConfigError(
                f"config key '{_join(path)}' (from {source}) got {value!r} of type {_type_name(value)}; "
                f"expected {existing.name} or null"
            ) from None
    if isinstance(existing, bool):
        ok = isinstance(value, bool)
    elif isinstance(existing, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(existing, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(existing, Mapping):
        ok = isinstance(value, Mapping)
    elif isinstance(existing, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(existing))
    if not ok:
        raise ConfigError(
            f"config key '{_join(path)}' (from {source}) got {value!r} of type {_type_name(value)}; "
            f"expected {_type_name(existing)} like the default {existing!r}"
        )
    return value


def _is_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and COPY_KEY in value


def validate_layer(
    layer: Mapping, schema: Mapping, source: str, nulls: Mapping[PathT, Null] | None = None
) -> dict:
    """Checks that every key of ``layer`` exists in the resolved ``schema`` with a matching type.

    Returns the layer with values coerced (ints given for float keys become floats).
    """

    def walk(node: Mapping, ref: Any, prefix: PathT) -> dict:
        out = {}
        for k, v in node.items():
            path = (*prefix, k)
            if k == COPY_KEY:
                out[k] = v
            elif not isinstance(ref, Mapping) or k not in ref:
                raise ConfigError(
                    f"unknown config key '{_join(path)}' (from {source}){_suggest(schema, path)}"
                )
            elif isinstance(v, Mapping) and isinstance(ref[k], Mapping):
                out[k] = walk(v, ref[k], path)
            else:
                out[k] = coerce_value(path, v, ref[k], source, nulls)
        return out

    return walk(layer, schema, ())


def parse_overrides(args: Sequence[str]) -> list[tuple[PathT, str]]:
    """Parses ``["--a.b", "3", "--c=x"]`` into ``[(("a","b"), "3"), (("c",), "x")]``."""
    out: list[tuple[PathT, str]] = []
    i = 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ConfigError(f"expected an override like '--trainer.epochs 3', got '{arg}'")
        key = arg[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args) or (args[i + 1].startswith("--") and len(args[i + 1]) > 2):
                raise ConfigError(
                    f"override '{arg}' has no value (or is not a known option); write '{arg} VALUE'"
                )
            value = args[i + 1]
            i += 2
        out.append((_split(key), value))
    return out


def _set_path(tree: dict, path: PathT, value: Any) -> None:
    node = tree
    for k in path[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}  # the key exists only through a reference: add a local layer
        node = node[k]
    node[path[-1]] = value


def coerce_override(
    resolved: Mapping, path: PathT, raw: str, nulls: Mapping[PathT, Null] | None = None
) -> Any:
    """Parses a command-line value and coerces it to the type of the existing value at ``path``."""
    node = _lookup(resolved, path, "the command line")
    try:
        value = parse_yaml(raw)
    except yaml.YAMLError:
        value = raw
    wants_str = isinstance(node, str) or (isinstance(node, Null) and node.name == "str")
    if wants_str and value is not None and not isinstance(value, str):
        value = raw  # '--dataset.name 10' stays the string '10'
    return coerce_value(path, value, node, "the command line", nulls)


def load_config(
    files: Sequence[str | Path | Mapping],
    overrides: Sequence[str] | Iterable[tuple[PathT, str]] = (),
) -> Config:
    """Builds a validated config from layers.

    Args:
        files: the schema first (a YAML path or a mapping), then overlays in order. Each path
            may be a ``;``-separated list (``"base.yaml;algo.yaml;toy.yaml"``).
        overrides: command-line style ``["--trainer.epochs", "3"]`` (or parsed pairs).

    Raises:
        ConfigError: an unknown key, a value of the wrong type, a missing file or reference.
    """
    layers: list[tuple[str, dict]] = []
    for f in files:
        if isinstance(f, Mapping):
            layers.append(("<mapping>", copy.deepcopy(dict(f))))
            continue
        for part in str(f).split(";"):
            if part.strip():
                layers.append((str(part.strip()), load_yaml(part.strip())))
    if not layers:
        raise ConfigError("load_config needs at least one file (the schema)")
    raw = layers[0][1]
    nulls = _null_paths(resolve_references(raw))
    for source, layer in layers[1:]:
        raw = deep_merge(raw, validate_layer(layer, resolve_references(raw), source, nulls))
    pairs = overrides if overrides and not isinstance(next(iter(overrides)), str) else None
    for path, value in pairs if pairs is not None else parse_overrides(list(overrides)):
        _set_path(raw, path, coerce_override(resolve_references(raw), path, value, nulls))
    return _finish(raw, nulls)
