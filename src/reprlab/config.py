"""TOML files and ``--set key=value`` overrides mapped onto (nested) dataclass configs.

Unknown keys and values of the wrong type are errors that name the key, the file and what fits
(``ConfigError``, exit code 2) — no silent string-keyed config soup. Library code (a run reading
back its saved config) and the CLI (``--config``/``--set``) share this one loader.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from reprlab.errors import ConfigError, MissingDataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise MissingDataError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; --config takes a TOML file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied; make the config file readable") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 ({e.reason})") from None


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["train.lr=3e-4", "model.hidden=256"]`` -> nested dict of TOML-typed values."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set train.lr=3e-4")
        key, raw = item.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # bare strings need no quotes on the command line
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is set twice")
        node[parts[-1]] = value
    return out


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.lower() in ("none", "null"))


def merge(base: dict[str, Any], update: dict[str, Any], where: str = "", *, source: str = "") -> dict[str, Any]:
    """``base`` with ``update`` merged in, table by table.

    A table (dict) never silently replaces a value, nor a value a table: ``train = 5`` against a
    ``[train]`` table is a :class:`ConfigError` naming the key and ``source`` (where ``update``
    came from). ``None`` (or ``"none"``) on either side may stand for an absent table.
    """
    out = dict(base)
    for k, v in update.items():
        full = f"{where}.{k}" if where else k
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict):
            out[k] = merge(old, v, full, source=source)
            continue
        if isinstance(v, dict) != isinstance(old, dict) and not (_is_unset(v) or _is_unset(old)):
            given = f"{full}={v!r}" if not isinstance(v, dict) else f"{full}.{next(iter(v), '')}"
            what = f"{full} is a table of fields" if isinstance(old, dict) else f"{full} is a single value"
            hint = (f"set its fields ([{full}] in TOML, or --set {full}.KEY=VALUE)" if isinstance(old, dict)
                    else f"--set {full}=VALUE")
            raise ConfigError(f"{source + ': ' if source else ''}{given}: {what}; {hint}")
        out[k] = v
    return out


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be {value!r}")
    if origin is typing.Literal:
        if value in get_args(tp):
            return value
        raise _choice_error(where, value, get_args(tp))
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}={value!r}: expected a list, e.g. [0.9, 0.999]")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        return origin(_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of fields, got {value!r}")
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}={value!r}: expected true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}={value!r}: expected an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{where}={value!r}: expected a finite number")
            return float(value)
        raise ConfigError(f"{where}={value!r}: expected a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}={value!r}: expected a string")
    return value


def _choice_error(where: str, value: Any, choices: tuple[Any, ...]) -> ConfigError:
    return ConfigError(f"{where}={value!r}: choose one of {', '.join(map(repr, choices))}")


_CHOICE_FIELDS: dict[type, dict[str, tuple[tuple[Any, ...], bool]]] = {}


def _choice_fields(cls: type) -> dict[str, tuple[tuple[Any, ...], bool]]:
    """``{field: (allowed values, is a list of them)}`` for the ``Literal[...]`` fields of ``cls``.

    Covers ``Literal[...]``, ``Literal[...] | None`` and lists/tuples of ``Literal[...]``; cached per class.
    """
    if cls in _CHOICE_FIELDS:
        return _CHOICE_FIELDS[cls]
    out = {}
    for name, tp in get_type_hints(cls).items():
        many = get_origin(tp) in (list, tuple)
        if many:
            args = get_args(tp)
            tp = args[0] if args else Any
        args = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
        literals = [a for a in args if get_origin(a) is typing.Literal]
        if literals:
            choices = tuple(v for a in literals for v in get_args(a)) + ((None,) if type(None) in args else ())
            out[name] = (choices, many)
    _CHOICE_FIELDS[cls] = out
    return out


def check_choices(config: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` when a ``Literal``-typed field of dataclass ``config`` is off its list.

    The TOML/``--set`` loader checks these types already; a config's ``__post_init__`` calls this so
    a config built in Python gets the same one-line error (``prefix`` names its table, e.g. ``train.``).
    """
    for name, (choices, many) in _choice_fields(type(config)).items():
        value = getattr(config, name)
        for i, v in enumerate(value if many else [value]):
            if v not in choices:
                raise _choice_error(f"{prefix}{name}[{i}]" if many else f"{prefix}{name}", v, choices)


def init_values(config: Any) -> dict[str, Any]:
    """The ``__init__`` fields of dataclass ``config`` as a nested dict (nested configs as tables).

    Unlike :func:`dataclasses.asdict` it leaves out ``init=False`` fields, so ``from_dict(type(c),
    init_values(c)) == c``.
    """
    def value(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return init_values(v)
        if isinstance(v, (list, tuple)):
            return type(v)(value(x) for x in v)
        return v

    return {f.name: value(getattr(config, f.name)) for f in dataclasses.fields(config) if f.init}


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _tables(cls: type) -> dict[str, Any]:
    """The nested tables of dataclass ``cls`` as empty dicts (``{"train": {}, "model": {"augment": {}}}``).

    The loader merges the file and ``--set`` over this skeleton, so ``train = 5`` where ``[train]``
    is a table is refused at its source; the values themselves come from the fields' defaults.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = _default_of(f) if f.init else None
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            out[f.name] = _tables(type(default))
    return out


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types.

    A table given for a nested config changes only the keys it names: the rest keep the *field's*
    default, not the nested class's. ``SimCLRRunConfig.train`` defaults to LARS at batch 256, so
    ``{"train": {"lr": 0.1}}`` gives LARS at batch 256 with lr 0.1, not ``TrainConfig()`` with lr 0.1.
    This is what makes every command's own defaults hold under ``-o`` and ``--set train.*``.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"from_dict needs a dataclass, got {cls!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        full = f"{where}.{key}" if where else key
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(fields))}"
            raise ConfigError(f"unknown config key {full!r}{hint}")
        if isinstance(value, dict):
            default = _default_of(fields[key])
            if dataclasses.is_dataclass(default) and not isinstance(default, type):
                value = merge(init_values(default), value)
        kwargs[key] = _convert(value, hints[key], full)
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where or cls.__name__}: {e}") from None


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | None = None,
                defaults: dict[str, Any] | None = None, values: dict[str, Any] | None = None) -> T:
    """``defaults`` < TOML file < ``--set`` overrides < ``values``, then validated into ``cls``.

    ``values`` is a nested dict of Python values taken as they are (the CLI's dedicated flags:
    a path stays the path it was, quotes and backslashes included). A ConfigError raised while
    reading the file is prefixed with the file name.
    """
    data = merge(_tables(cls), defaults or {})
    if path is not None:
        data = merge(data, read_toml(path), source=str(path))
    data = merge(data, parse_overrides(overrides or []), source="--set")
    data = merge(data, values or {})
    try:
        return from_dict(cls, data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path else str(e)) from None


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


__all__ = ["read_toml", "parse_overrides", "merge", "from_dict", "init_values", "load_config", "to_dict",
           "check_choices"]
