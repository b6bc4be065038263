"""``reprlab config show``: print the resolved training configuration as TOML (a template to edit)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from reprlab.cli.common import add_config_args, command_group, config_from_args
from reprlab.train.config import TrainConfig


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(config: Any, section: str) -> str:
    """Render a flat dataclass as a TOML table; ``None`` fields become comments."""
    lines = [f"[{section}]"]
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        lines.append(f"# {f.name} = (unset)" if v is None else f"{f.name} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class _TrainOnly:
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(_TrainOnly, args)
    print(to_toml(cfg.train, "train"), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = command_group(sub, "config", "show the resolved training configuration as TOML", metavar="ACTION")
    show = s.add_parser("show", help="print [train] settings after --config/--set (validates them)")
    add_config_args(show)
    show.set_defaults(handler=run)
