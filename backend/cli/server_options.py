"""``--server HOST:PORT`` and ``--token T`` on the commands that can run on a daemon, and the options that cannot."""

from __future__ import annotations

import argparse

from backend.daemon.client import TOKEN_ENV
from backend.errors import AutoretouchError

__all__ = ["RemoteOptionError", "add_server_options", "refuse_options"]


class RemoteOptionError(AutoretouchError):
    """An option that has no meaning with ``--server`` (the daemon decides it), or a file that cannot be sent.

    Exit status 2, as for other usage errors.
    """

    exit_code = 2


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--server HOST:PORT`` and ``--token T`` to a command's parser (``args.server``, ``args.token``)."""
    parser.add_argument(
        "--server", metavar="HOST:PORT", help="run on a running daemon (autoretouch serve) instead of in-process"
    )
    parser.add_argument(
        "--token", metavar="T", help=f"the daemon's token, with --server (default: ${TOKEN_ENV}; visible in ps)"
    )


def refuse_options(args: argparse.Namespace, options: dict[str, str]) -> None:
    """Refuse options that ``--server`` cannot honour.

    Args:
        args: the parsed command line.
        options: attribute name -> why the option has no meaning with ``--server``; an attribute counts as
            given when it is not ``None``/``False``.

    Raises:
        RemoteOptionError: one of them was given.
    """
    for name, why in options.items():
        if getattr(args, name, None) not in (None, False):
            flag = "--" + name.replace("_", "-")
            raise RemoteOptionError(f"{flag} cannot be used with --server: {why}")
