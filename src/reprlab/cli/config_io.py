"""Moved to :mod:`reprlab.config` (library code reads configs too); these names stay importable here."""

from reprlab.config import from_dict, load_config, merge, parse_overrides, read_toml, to_dict

__all__ = ["read_toml", "parse_overrides", "merge", "from_dict", "load_config", "to_dict"]
