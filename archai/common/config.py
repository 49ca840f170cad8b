"""Layered YAML configuration: includes, references, command-line overrides and validation.

A config is built from layers. The first layer (usually ``confs/base.yaml``) is the *schema*:
it defines every key and the type of its value. Later layers (an algorithm's defaults, the toy
overlay, a user's file, command-line overrides) may only set keys that already exist, with a
value of a compatible type; anything else is a :class:`ConfigError` that names the key path and
suggests the closest valid key.

File syntax (only safe YAML loading is used; ``1e-4`` is a float):

- ``__include__: other.yaml`` (or a list of files), relative to the including file. Included
  files are merged first, in order; the including file's own keys win.
- ``_copy: /abs/key/path`` inside a mapping merges the mapping found there; the local keys win.
- ``key: '_copy: ../rel/path'`` takes the value found there.
  Relative paths start at the mapping that holds the ``_copy`` text; ``..`` goes up one level.
  References are resolved after every layer and override is applied, so an override of the
  referenced value flows to every place that copies it.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "base.yaml").write_text("trainer: {epochs: 10, lr: 0.1}\\n"
    ...                                  "eval: {trainer: {_copy: /trainer, epochs: 600}}\\n")
    >>> cfg = load_config([d / "base.yaml"], overrides=["--trainer.lr", "0.5"])
    >>> cfg.eval.trainer.lr, cfg.eval.trainer.epochs
    (0.5, 600)
"""

from __future__ import annotations

import copy
import difflib
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from archai.common.errors import UserError

INCLUDE_KEY = "__include__"
COPY_KEY = "_copy"
COPY_PREFIX = "_copy:"

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


def parse_yaml(text: str):
    """Safe YAML parsing with :class:`ConfigLoader` (never constructs Python objects)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - ConfigLoader is a SafeLoader


def confs_dir() -> Path:
    """The folder of Archai's YAML configs (``confs/`` of a source checkout, or the installed copy)."""
    here = Path(__file__).resolve().parents[2] / "confs"
    if (here / "base.yaml").is_file():
        return here
    installed = Path(sys.prefix) / "share" / "archai" / "confs"
    if (installed / "base.yaml").is_file():
        return installed
    raise FileNotFoundError(
        f"Archai's confs/ folder is neither at {here} nor at {installed}; reinstall archai"
    )


class ConfigError(UserError, ValueError):
    """A config file, reference or override is invalid; the message says which key and why."""


class Config(dict):
    """A nested ``dict`` with attribute access (``cfg.trainer.epochs``).

    It stays a plain dict underneath, so it pickles, compares and serializes like one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for k, v in self.items():
            if isinstance(v, dict) and not isinstance(v, Config):
                dict.__setitem__(self, k, Config(v))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            close = difflib.get_close_matches(name, [str(k) for k in self.keys()], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise AttributeError(f"config has no key '{name}'{hint}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, dict) and not isinstance(value, Config):
            value = Config(value)
        super().__setitem__(key, value)

    def __deepcopy__(self, memo: dict) -> Config:
        return Config(copy.deepcopy(dict(self), memo))

    def __reduce__(self):  # pickle as a plain dict, rebuilt as Config
        return (Config, (to_plain(self),))

    def get_path(self, path: str | Sequence[str]) -> Any:
        """Value at a dotted path such as ``"trainer.optimizer.lr"``."""
        node: Any = self
        for key in _split(path):
            if not isinstance(node, Mapping) or key not in node:
                raise KeyError(f"config has no key '{_join(_split(path))}'")
            node = node[key]
        return node

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


def to_plain(value: Any) -> Any:
    """Converts nested Config/tuples to plain dicts/lists (what YAML and JSON can hold)."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


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
            return {k: self.resolve(v, (*path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v, (*path, str(i))) for i, v in enumerate(node)]
        if isinstance(node, str) and node.startswith(COPY_PREFIX):
            return self.lookup(_ref_target(path[:-1], node[len(COPY_PREFIX) :]), path)
        return node

    def _expand(self, node: Mapping, path: PathT) -> Mapping:
        if COPY_KEY not in node:
            return node
        ref = node[COPY_KEY]
        if not isinstance(ref, str):
            raise ConfigError(f"'{_join((*path, COPY_KEY))}' must be a key path string")
        target = self.lookup(_ref_target(path, ref), path)
        if not isinstance(target, Mapping):
            raise ConfigError(
                f"'{_join(path)}' copies '{ref}', which is a {type(target).__name__}, not a mapping"
            )
        local = {k: v for k, v in node.items() if k != COPY_KEY}
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


def coerce_value(path: PathT, value: Any, existing: Any, source: str) -> Any:
    """Checks ``value`` against the type of ``existing``; returns it coerced (int -> float)."""
    if existing is None or (isinstance(value, str) and value.startswith(COPY_PREFIX)):
        return value
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


def validate_layer(layer: Mapping, schema: Mapping, source: str) -> dict:
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
                out[k] = coerce_value(path, v, ref[k], source)
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


def coerce_override(resolved: Mapping, path: PathT, raw: str) -> Any:
    """Parses a command-line value and coerces it to the type of the existing value at ``path``."""
    node: Any = resolved
    for i, k in enumerate(path):
        if not isinstance(node, Mapping) or k not in node:
            raise ConfigError(
                f"unknown config key '{_join(path)}' (from the command line)"
                f"{_suggest(resolved, path[: i + 1])}"
            )
        node = node[k]
    try:
        value = parse_yaml(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(node, str) and not isinstance(value, str):
        value = raw  # '--dataset.name 10' stays the string '10'
    return coerce_value(path, value, node, "the command line")


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
    for source, layer in layers[1:]:
        raw = deep_merge(raw, validate_layer(layer, resolve_references(raw), source))
    pairs = overrides if overrides and not isinstance(next(iter(overrides)), str) else None
    for path, value in pairs if pairs is not None else parse_overrides(list(overrides)):
        _set_path(raw, path, coerce_override(resolve_references(raw), path, value))
    return Config(resolve_references(raw))
