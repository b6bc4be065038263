"""Errors a user can act on. Each message names the file/field at fault and the fix.

The CLI turns any :class:`ReprlabError` into one ``reprlab: error: ...`` line and exit code 2;
library callers catch them as ordinary ``ValueError``/``FileNotFoundError`` subclasses.
"""

from __future__ import annotations


class ReprlabError(Exception):
    """Base class: a problem with the user's input, not a bug in reprlab."""

    exit_code = 2


class ConfigError(ReprlabError, ValueError):
    """An unknown, missing or mistyped configuration field."""


class DataError(ReprlabError, ValueError):
    """Input data that cannot be read or has the wrong shape, type or encoding."""


class MissingDataError(ReprlabError, FileNotFoundError):
    """A file or optional data set that is not there; the message names how to get it."""


class CheckpointError(ReprlabError, ValueError):
    """A checkpoint that is corrupt, truncated, pickled, or from a different configuration."""


class OutputError(ReprlabError, OSError):
    """An output that cannot be written: a read-only or full file system, or no permission.

    ``errno``, ``strerror`` and ``filename`` are the failed write's; the text is the message.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
