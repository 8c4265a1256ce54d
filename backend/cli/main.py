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
130   interrupted (Ctrl-C at any moment, also while starting, where a second Ctrl-C stops a hang at once:
      ``autoretouch: interrupted``, no traceback)
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
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from backend import __version__, errors
from backend.cli.printable import printable
from backend.errors import AutoretouchError

__all__ = [
    "COMMANDS",
    "COMMAND_ENTRY_POINTS",
    "EXIT_BROKEN_PIPE",
    "EXIT_PARTIAL",
    "CommandParser",
    "build_parser",
    "interrupted",
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


class _Interrupts:
    """Ctrl-C for the whole life of the command: never a raw traceback, never lost (see :func:`interrupted`).

    :func:`main` takes SIGINT over when it starts (the console script's entry function, ``python -m backend``; never
    at import, so a script that imports this module keeps Python's own Ctrl-C) and gives the previous handler back
    when it returns. Until the command itself runs (importing the heavy libraries, building the parser), a first
    SIGINT is only recorded: a ``KeyboardInterrupt`` raised in the middle of importing torch or numpy leaves
    half-initialised modules behind (``module 'numpy' has no attribute 'matrix'``), and some libraries swallow it
    while importing. A second SIGINT while only recording means the user wants out now (an import or a wait that
    hangs): Python's own handler is put back and ``KeyboardInterrupt`` raised, which :func:`main` reports as an
    interruption. While the command runs, the handler records each SIGINT and raises ``KeyboardInterrupt``, as
    Python's own does; the record stays, so that an interruption swallowed by a library is still seen: by
    :func:`main`, which then exits with 130, and by ``train``, which never installs a style after it
    (:func:`interrupted`).
    """

    seen = False
    raising = False
    #: Whether a :func:`main` that took SIGINT over is running (a nested one leaves the handler and the state alone).
    active = False

    @classmethod
    def handler(cls, signum: int, frame: object) -> None:
        again = cls.seen
        cls.seen = True
        if cls.raising:
            raise KeyboardInterrupt
        if again:  # a second Ctrl-C while only recording: stop waiting (a hang while importing, finishing)
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt

    @classmethod
    def take_over(cls) -> _Taken:
        """Take SIGINT over where Python's own handler is in place (not where a test runner or host set another).

        Ours left in place by no running :func:`main` counts as Python's own. Only a call that takes it over owns
        the state (``seen``, ``raising``): one in a thread other than the main thread (no handler can be set
        there), one under a test runner's or host's handler, and one nested in a running :func:`main` change
        nothing.

        Returns:
            What :meth:`give_back` needs: the handler in place before, and whether this call took it over.
        """
        try:
            previous = signal.getsignal(signal.SIGINT)
            if not cls.active and (previous is signal.default_int_handler or previous == cls.handler):
                signal.signal(signal.SIGINT, cls.handler)
            else:
                return _Taken(previous, installed=False)
        except ValueError:  # not the main thread
            return _Taken(None, installed=False)
        cls.seen = False  # a Ctrl-C recorded before belongs to no command of ours
        cls.raising = False
        cls.active = True
        return _Taken(previous, installed=True)

    @classmethod
    def give_back(cls, taken: _Taken) -> None:
        """Put back the handler :meth:`take_over` found, where it took SIGINT over, and forget the state.

        Python's own goes back where it found ours (left by no running :func:`main`); a call that took nothing over
        changes nothing.
        """
        if not taken.installed:
            return
        previous = taken.previous
        with contextlib.suppress(ValueError, TypeError):  # a handler set outside Python
            signal.signal(signal.SIGINT, signal.default_int_handler if previous == cls.handler else previous)
        cls.raising = False
        cls.seen = False  # a later library call in this process (``trainer.train`` in a notebook) starts afresh
        cls.active = False


@dataclass(frozen=True)
class _Taken:
    """What :meth:`_Interrupts.take_over` did: the SIGINT handler it found, and whether it put ours in its place."""

    previous: Any
    installed: bool


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
    """Run the CLI; returns the process exit status (see the module docstring).

    The console script's entry function (and ``python -m backend``'s): SIGINT is handled as :class:`_Interrupts`
    says while it runs, and the handler that was in place is given back when it returns (Python's own for the
    ``autoretouch`` process, so a hang at the interpreter's exit still stops on Ctrl-C).
    """
    taken = _Interrupts.take_over()
    try:
        return _run(argv, owner=taken.installed)
    except KeyboardInterrupt:  # a second Ctrl-C while starting (a hanging import) or finishing: stop now
        return _interrupted()
    finally:
        _Interrupts.give_back(taken)


def interrupted() -> bool:
    """Whether this process got a SIGINT since the command started: ``train`` installs no style after one.

    Seen even where a library swallowed the ``KeyboardInterrupt`` (some catch ``BaseException`` while
    importing), so an interrupted training is never installed. The command's Ctrl-C belongs to the main thread,
    which runs the command (and where Python runs signal handlers): asked from any other thread (a daemon's
    request threads, under ``serve``) this is ``False``.
    """
    return _Interrupts.seen and threading.current_thread() is threading.main_thread()


def _interrupted() -> int:
    print("autoretouch: interrupted", file=sys.stderr)
    return 130


def _run(argv: Sequence[str] | None, *, owner: bool = True) -> int:
    """Run the command; ``owner``: this call took SIGINT over (only then does it switch ``raising``).

    A Ctrl-C counts where :func:`interrupted` sees it: in the main thread (a nested call sees its command's too).
    """
    if sys.stdout is None:  # started with stdout closed (``>&-``, some service managers): output goes nowhere
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (the process's stdout from now on)
    _names_as_they_are()
    parser = build_parser()
    args = parser.parse_args(argv)
    if interrupted():  # while starting (imports, parser): nothing was done yet
        return _interrupted()
    if owner:
        _Interrupts.raising = True
    try:
        code = int(args.func(args))
        if owner:
            _Interrupts.raising = False
        sys.stdout.flush()  # a reader gone away shows here, not in the interpreter's flush at exit
        return _interrupted() if interrupted() else code  # a library swallowed it: still an interruption
    except BrokenPipeError:
        if _stdout_gone():
            return _broken_pipe()
        return _internal_error()
    except AutoretouchError as exc:
        if interrupted():
            return _interrupted()
        print(f"autoretouch: error: {printable(str(exc))}", file=sys.stderr)  # a file name's control characters escaped
        return exc.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except Exception:  # a bug: say so loudly, with the traceback (unless a Ctrl-C broke a library half-way)
        if interrupted():
            return _interrupted()
        return _internal_error()
    finally:
        if owner:
            _Interrupts.raising = False


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
