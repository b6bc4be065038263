"""Command-line interface: ``reprlab <command>``; see :mod:`reprlab.cli.main`."""
