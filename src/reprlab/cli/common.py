"""Options shared by training commands: ``--config``, ``--set``, ``--device``, ``-o``, ``--resume``, ``--data``."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from reprlab.config import load_config

T = TypeVar("T")


def command_group(sub: argparse._SubParsersAction, name: str, help: str, *,
                  metavar: str = "VERB") -> argparse._SubParsersAction:
    """The sub-commands of ``reprlab NAME``, creating the group if no domain has yet.

    Two domains may add verbs to one group (e.g. ``experiment``): the second gets the first's.
    """
    if name in sub.choices:
        for action in sub.choices[name]._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
        raise RuntimeError(f"'reprlab {name}' exists but has no sub-commands")
    group = sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", metavar=metavar)
    group.required = True
    return group


def add_config_args(parser: argparse.ArgumentParser, *, output: bool = True, data: str | None = None) -> None:
    """Add the options every configurable command takes (``--data`` too when ``data`` describes it)."""
    if data is not None:
        parser.add_argument("--data", help=f"{data} (sets data.name)")
    parser.add_argument("--config", metavar="FILE.toml", help="TOML file of config values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (sets train.device)")
    if output:
        parser.add_argument("-o", "--output", metavar="DIR", help="run directory (sets train.output_dir)")
        parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")


def config_from_args(cls: type[T], args: argparse.Namespace, defaults: dict[str, Any] | None = None,
                     train_key: str | None = "train") -> T:
    """Build ``cls`` from defaults < ``--config`` < ``--set`` < the dedicated flags.

    ``--device``/``-o``/``--resume`` set fields of the ``train_key`` table, or top-level fields
    when ``train_key`` is None.
    """
    overrides = list(args.overrides)
    prefix = f"{train_key}." if train_key else ""
    if getattr(args, "data", None):
        overrides.append(f"data.name={args.data!r}")
    if getattr(args, "device", None):
        overrides.append(f"{prefix}device={args.device!r}")
    if getattr(args, "output", None):
        overrides.append(f"{prefix}output_dir={str(Path(args.output))!r}")
    if getattr(args, "resume", False):
        overrides.append(f"{prefix}resume=true")
    return load_config(cls, args.config, overrides, defaults)


def run_config_from_args(cls: type[T], args: argparse.Namespace, *, output_dir: str | None = None) -> T:
    """A run config (a dataclass with a nested ``train: TrainConfig``) from the command line.

    The run's own defaults, its nested tables included, are the base that ``--config``, ``--set``
    and the flags change, so ``--set train.lr=...`` keeps the run's other training defaults.
    ``output_dir`` replaces the default run directory (for commands that share one run config).
    """
    instance: Any = cls()
    defaults = dataclasses.asdict(instance)
    if output_dir is not None:
        defaults["train"]["output_dir"] = output_dir
    return config_from_args(cls, args, defaults)


def add_experiment_args(parser: argparse.ArgumentParser, config_name: str, example: str) -> None:
    """The options of an ``experiment`` verb whose config has top-level ``output_dir`` and ``device``."""
    parser.add_argument("--config", metavar="FILE.toml", help=f"TOML file of {config_name} values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override one value, e.g. --set {example} (repeatable)")
    parser.add_argument("-o", "--output", metavar="DIR", help="output directory (sets output_dir)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (sets device)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")


def experiment_config(cls: type[T], args: argparse.Namespace) -> T:
    """An experiment config (top-level ``output_dir`` and ``device``, any nested tables) from the command line.

    As :func:`run_config_from_args`, the dataclass's own defaults, nested tables included, are the
    base, so a user value replaces only the field it names.
    """
    instance: Any = cls()
    return config_from_args(cls, args, dataclasses.asdict(instance), train_key=None)
