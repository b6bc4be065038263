"""``reprlab config show [VERB ...]``: print a command's fully resolved config as TOML (a template to edit).

``reprlab config show simclr train --set train.lr=0.1`` prints every table of the config that
``reprlab simclr train --set train.lr=0.1`` would run (``[data]``, ``[model]``, ``[model.augment]``,
``[train]``); saved to a file, it loads back with ``--config FILE.toml`` as the same config.
Without a VERB it prints the shared ``[train]`` table of :class:`reprlab.train.TrainConfig`.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from reprlab.cli.common import add_config_args, build_config, command_group, config_class, config_from_args
from reprlab.config import init_values
from reprlab.errors import ConfigError


def _toml_value(v: Any) -> str:
    if v is None:
        return '"none"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + s + '"'


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else _toml_value(k)


def _is_config(v: Any) -> bool:
    return dataclasses.is_dataclass(v) and not isinstance(v, type)


def to_toml(config: Any, section: str = "") -> str:
    """Render dataclass ``config`` as TOML: its plain fields, then one table per nested config.

    TOML has no null: ``None`` is written as ``"none"``, which the loader reads back as ``None``
    for the optional fields it can be, so the text loads back to the same config.
    """
    lines = [f"[{section}]"] if section else []
    nested = []
    for name, v in init_values(config).items():
        attr = getattr(config, name)
        if _is_config(attr):
            nested.append((name, attr))
        else:
            lines.append(f"{_toml_key(name)} = {_toml_value(v)}")
    out = "\n".join(lines) + "\n" if lines else ""
    for name, attr in nested:
        out += ("\n" if out else "") + to_toml(attr, f"{section}.{name}" if section else name)
    return out


def run(args: argparse.Namespace) -> int:
    if not args.command:
        from reprlab.train.config import TrainConfig

        train_only = dataclasses.make_dataclass(
            "TrainOnly", [("train", TrainConfig, dataclasses.field(default_factory=TrainConfig))])
        print(to_toml(config_from_args(train_only, args)), end="")
        return 0
    if args.overrides or args.config or args.device or args.output or args.resume:
        raise ConfigError("give the options after the command, e.g. 'reprlab config show simclr train --set "
                          "train.lr=0.1'")
    from reprlab.cli.main import build_parser

    verb_args = build_parser().parse_args(args.command)
    verb = verb_args.command + (f" {getattr(verb_args, f'{verb_args.command}_command')}"
                                if hasattr(verb_args, f"{verb_args.command}_command") else "")
    if config_class(verb_args) is None:
        raise ConfigError(f"'reprlab {verb}' takes no config file; its options and defaults are in "
                          f"'reprlab {verb} --help'")
    print(to_toml(build_config(verb_args)), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = command_group(sub, "config", "show a command's resolved configuration as TOML", metavar="ACTION")
    show = s.add_parser("show", help="print the config a command would run, every table, as TOML",
                        description="Print the resolved config of VERB (e.g. 'simclr train', 'vae train', "
                                    "'experiment maps') after its --config/--set options, as TOML that "
                                    "--config reads back. Without VERB: the shared [train] table.",
                        epilog="example: reprlab config show simclr train --set train.lr=0.1 > simclr.toml")
    show.add_argument("command", nargs=argparse.REMAINDER, metavar="VERB ...",
                      help="the command and its options, e.g. simclr train --set train.lr=0.1")
    add_config_args(show)
    show.set_defaults(handler=run)
