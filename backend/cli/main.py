"""The ``autoretouch`` command line: one sub-command per module in ``backend/cli/cmd_*.py``.

Every command module exposes ``register(subparsers) -> None``, which adds its parser and sets
``func=run`` with ``run(args) -> int``; a parser given an ``epilog`` prints it (and its description) as written
(:class:`CommandParser`). Commands of other packages (``train`` lives in ``trainer``, which
``backend`` must not import) join through the ``autoretouch.commands`` entry-point group. Errors are mapped to exit codes here, once:

====  ==========================================================
code  meaning
====  ==========================================================
0     success
1     unexpected internal error (a bug; the traceback is printed)
2     usage error (argparse, and typed usage errors: a malformed ``--favourites`` selection, ``train`` options
      that do not go together)
3..8  typed errors, see ``backend.errors`` (``exit_code`` of each)
9     partial failure: some photos of a batch failed, the rest succeeded
10    ``train``: the style was trained but not installed (worse than doing nothing, or degenerate moves)
130   interrupted
141   the reader of the output went away (``autoretouch styles | head -1``): stops quietly, as a command
      killed by ``SIGPIPE`` would (128 + 13)
====  ==========================================================
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import select
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from backend import __version__, errors
from backend.errors import AutoretouchError

__all__ = [
    "COMMANDS",
    "COMMAND_ENTRY_POINTS",
    "EXIT_BROKEN_PIPE",
    "EXIT_PARTIAL",
    "CommandParser",
    "build_parser",
    "main",
]

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("serve", "suggest", "render", "apply", "catalog", "revert", "styles", "sliders")

#: Entry-point group through which other installed packages add sub-commands (modules with ``register``).
COMMAND_ENTRY_POINTS = "autoretouch.commands"

#: Exit status when a batch finished but some photos failed.
EXIT_PARTIAL = errors.EXIT_PARTIAL  # re-exported; defined with the other codes

#: Exit status when the reader of stdout closed the pipe: that of a command killed by ``SIGPIPE`` (128 + 13).
EXIT_BROKEN_PIPE = 141


class CommandParser(argparse.ArgumentParser):
    """A sub-command's parser: an ``epilog`` (examples and notes laid out by hand) keeps its layout.

    Given an epilog and no ``formatter_class``, it formats with ``RawDescriptionHelpFormatter``, which prints
    the description and the epilog as written; without an epilog it keeps argparse's formatter.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("epilog") is not None:
            kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="autoretouch",
        description="Learned photo retouching that becomes native Lightroom and darktable settings.",
    )
    parser.add_argument("--version", action="version", version=f"autoretouch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=CommandParser)
    for name in COMMANDS:
        importlib.import_module(f"backend.cli.cmd_{name}").register(sub)
    for entry in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda e: e.name):
        entry.load().register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (see the module docstring)."""
    if sys.stdout is None:  # started with stdout closed (``>&-``, some service managers): output goes nowhere
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (the process's stdout from now on)
    _names_as_they_are()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a reader gone away shows here, not in the interpreter's flush at exit
        return code
    except BrokenPipeError:
        if _stdout_gone():
            return _broken_pipe()
        return _internal_error()
    except AutoretouchError as exc:
        print(f"autoretouch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("autoretouch: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: say so loudly, with the traceback
        return _internal_error()


def _names_as_they_are() -> None:
    r"""Let file names that are not valid in the locale's encoding be printed, whatever the locale.

    Such a name (a Latin-1 ``caf\xe9.jpg`` on a UTF-8 system) reaches Python as lone surrogates, which a
    stream with strict errors (stdout under most UTF-8 locales) refuses with ``UnicodeEncodeError``. stdout
    writes them back as the original bytes (``surrogateescape``, so a script reading the output gets the real
    name), stderr as escapes (``backslashreplace``, Python's own default there).
    """
    for stream, mode in ((sys.stdout, "surrogateescape"), (sys.stderr, "backslashreplace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors=mode)


def _internal_error() -> int:
    """Report a bug loudly, with the traceback of the exception being handled; exit status 1."""
    traceback.print_exc()
    print("autoretouch: internal error (please report it with the traceback above)", file=sys.stderr)
    return 1


def _stdout_gone() -> bool:
    """Whether stdout is a pipe or socket whose reader went away (a broken pipe elsewhere is a real error)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured output)
        return False
    if not hasattr(select, "poll"):  # Windows: no way to ask; take it that the reader went away, as before
        return True
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def _broken_pipe() -> int:
    """Stop quietly after the reader of stdout went away (``| head``): no traceback, no message.

    stdout is pointed at the null device, so that the interpreter's last flush of what is still buffered does
    not fail again (the recipe of Python's ``signal`` documentation).
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured output)
        return EXIT_BROKEN_PIPE
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
