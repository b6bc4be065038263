"""Options shared by training commands: ``--config``, ``--set``, ``--device``, ``-o``, ``--resume``, ``--data``."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any, TypeVar

from reprlab.config import load_config, merge, parse_overrides

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


def add_config_args(parser: argparse.ArgumentParser, *, config: str | None = None, output: bool = True,
                    data: str | None = None, output_dir: str | None = None) -> None:
    """Add the options every configurable command takes (``--data`` too when ``data`` describes it).

    ``config`` names the command's run config as ``"module:Class"`` (imported only when the command
    runs, so ``--help`` stays fast); :func:`build_config` and ``reprlab config show VERB`` build it.
    ``output_dir`` replaces the class's default run directory (for verbs that share one run config).
    """
    if data is not None:
        parser.add_argument("--data", help=f"{data} (sets data.name)")
    parser.add_argument("--config", metavar="FILE.toml", help="TOML file of config values "
                        "('reprlab config show VERB' prints them all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (sets train.device)")
    if output:
        parser.add_argument("-o", "--output", metavar="DIR", help="run directory (sets train.output_dir)")
        parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.set_defaults(config_class=config, config_output_dir=output_dir)
    if config is not None:
        _point_to_config_show(parser)


def _point_to_config_show(parser: argparse.ArgumentParser) -> None:
    """End the verb's ``--help`` with the command that prints its whole config."""
    note = f"every config value and its default: reprlab config show {parser.prog.removeprefix('reprlab ')}"
    parser.epilog = f"{parser.epilog}\n\n{note}" if parser.epilog else note


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions and epilogs as written; each option's default appended when it has a real one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if default in (None, False, [], argparse.SUPPRESS) or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action) or ""


def config_class(args: argparse.Namespace) -> type | None:
    """The run config class the parsed command builds (``None`` for commands without one)."""
    spec = getattr(args, "config_class", None)
    if spec is None:
        return None
    module, name = spec.split(":")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


def build_config(args: argparse.Namespace) -> Any:
    """The parsed command's run config: its class defaults < ``--config`` < ``--set`` < flags."""
    cls = config_class(args)
    if cls is None:
        raise TypeError(f"{getattr(args, 'handler', args)!r} declares no run config (add_config_args(config=...))")
    config: Any = config_from_args(cls, args, output_dir=getattr(args, "config_output_dir", None),
                                   train_key=getattr(args, "config_train_key", "train"))
    seed_from_config(config)
    return config


def config_from_args(cls: type[T], args: argparse.Namespace, defaults: dict[str, Any] | None = None, *,
                     train_key: str | None = "train", output_dir: str | None = None) -> T:
    """Build ``cls`` from its defaults < ``defaults`` < ``--config`` < ``--set`` < the dedicated flags.

    Every value names one field: the config layer (:func:`reprlab.config.from_dict`) keeps the
    class's own defaults, nested tables included, for every field not named. ``--device``/``-o``/
    ``--resume`` set fields of the ``train_key`` table, or top-level fields when ``train_key`` is
    None; ``output_dir`` is a different default for that table's ``output_dir``.
    The flags' values go in as values (never through TOML source text), so a path with quotes or
    backslashes lands where the user typed it.
    """
    if output_dir is not None:
        prefix = f"{train_key}." if train_key else ""
        defaults = merge(defaults or {}, parse_overrides([f"{prefix}output_dir={output_dir!r}"]))
    values: dict[str, Any] = {}
    train: dict[str, Any] = {}
    if getattr(args, "data", None):
        values["data"] = {"name": args.data}
    if getattr(args, "device", None):
        train["device"] = args.device
    if getattr(args, "output", None):
        train["output_dir"] = str(Path(args.output))
    if getattr(args, "resume", False):
        train["resume"] = True
    if train and train_key:
        values[train_key] = train
    else:
        values.update(train)
    return load_config(cls, args.config, list(args.overrides), defaults, values)


def seed_from_config(config: Any) -> None:
    """Seed every random number generator from the config's ``train.seed`` (or top-level ``seed``).

    Called once the run config is built and before the command builds its model, so two
    identical commands give identical weights (the Trainer seeds again, per rank, before training).
    """
    from reprlab.train.seed import seed_everything

    seed = getattr(getattr(config, "train", None), "seed", getattr(config, "seed", None))
    if isinstance(seed, int):
        seed_everything(seed)


def add_experiment_args(parser: argparse.ArgumentParser, config: str, example: str) -> None:
    """The options of an ``experiment`` verb whose config has top-level ``output_dir`` and ``device``.

    ``config`` is ``"module:Class"`` as in :func:`add_config_args`; :func:`build_config` builds it.
    """
    name = config.split(":")[-1]
    parser.add_argument("--config", metavar="FILE.toml", help=f"TOML file of {name} values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override one value, e.g. --set {example} (repeatable)")
    parser.add_argument("-o", "--output", metavar="DIR", help="output directory (sets output_dir)")
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (sets device)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.set_defaults(config_class=config, config_train_key=None)
    _point_to_config_show(parser)
