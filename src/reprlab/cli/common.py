"""Options shared by training commands: ``--config``, ``--set``, ``--device``, ``-o``, ``--resume``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeVar

from reprlab.cli.config_io import load_config

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


def add_config_args(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    """Add the options every configurable command takes."""
    parser.add_argument("--config", metavar="FILE.toml", help="TOML file of config values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (sets train.device)")
    if output:
        parser.add_argument("-o", "--output", metavar="DIR", help="run directory (sets train.output_dir)")
        parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")


def config_from_args(cls: type[T], args: argparse.Namespace, defaults: dict[str, Any] | None = None,
                     train_key: str = "train") -> T:
    """Build ``cls`` from defaults < ``--config`` < ``--set`` < the dedicated flags."""
    overrides = list(args.overrides)
    if getattr(args, "device", None):
        overrides.append(f"{train_key}.device={args.device!r}")
    if getattr(args, "output", None):
        overrides.append(f"{train_key}.output_dir={str(Path(args.output))!r}")
    if getattr(args, "resume", False):
        overrides.append(f"{train_key}.resume=true")
    return load_config(cls, args.config, overrides, defaults)


def add_experiment_args(parser: argparse.ArgumentParser, config_name: str, example: str) -> None:
    """The options of an ``experiment`` verb whose config has top-level ``output_dir`` and ``device``."""
    parser.add_argument("--config", metavar="FILE.toml", help=f"TOML file of {config_name} values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override one value, e.g. --set {example} (repeatable)")
    parser.add_argument("-o", "--output", metavar="DIR", help="output directory (sets output_dir)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (sets device)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")


def experiment_config(cls: type[T], args: argparse.Namespace) -> T:
    """``cls`` from its own defaults (nested dataclasses included) < --config < --set < -o/--device.

    The defaults are the dataclass's, passed whole, so a user value replaces only the field it
    names (a nested table given on the command line does not reset its siblings).
    """
    import dataclasses

    overrides = list(args.overrides)
    if getattr(args, "output", None):
        overrides.append(f"output_dir={str(Path(args.output))!r}")
    if getattr(args, "device", None):
        overrides.append(f"device={args.device!r}")
    return load_config(cls, args.config, overrides, dataclasses.asdict(cls()))  # type: ignore[call-overload]
