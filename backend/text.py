r"""Text for the terminal: file names and messages with their control characters escaped.

The one place every text report passes a name or a message through before printing it: the CLI's reports
(:mod:`backend.cli.outcome_report`, :mod:`backend.cli.batch_report`, :mod:`backend.cli.suggestion_report`,
``catalog``, ``render``, ``styles``, the top-level error line of :mod:`backend.cli.main`) and ``train``'s summary (in
``trainer``, which may import ``backend`` but has no business in ``backend.cli``; :mod:`backend.cli.printable`
re-exports it). A file name may hold any character but ``/`` and NUL: a line break in it would split one report
line in two (and could forge a line such as ``written      lightroom ...``), an escape sequence could clear the
screen or recolour it, a bidi override reverse what follows. Those become Python's escapes (``\n``, ``\x1b``,
``\u202e``), written as ``repr`` writes them (a backslash already in the name is left as it is, so a name holding the
two characters ``\n`` prints like one holding a line break); ordinary Unicode (accents, CJK, emoji with their
zero-width joiners) stays as it is. The invisible tag characters (U+E0020–E007F) are escaped too, although a
subdivision flag (England's) is built from them: they can hide text in a name, and showing it matters more.
Private-use characters (a font's icons, Apple's logo) and code points this Python's Unicode tables do not know yet
(a newer emoji) are left as they are: they can neither split a line nor drive the terminal, and a name holding them
is printed as the user sees it elsewhere.
``--json`` output needs none of this: JSON escapes control characters itself.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

__all__ = ["printable"]

#: Unicode categories escaped: controls, format characters (bidi overrides, zero-width spaces), line and paragraph
#: separators, and lone surrogates (the undecodable bytes of a file name, which a UTF-8 terminal cannot print).
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: Format characters kept: the zero-width (non-)joiners that emoji sequences and several scripts need.
_KEPT = frozenset({"\u200c", "\u200d"})
#: The short escapes ``repr`` uses.
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    r"""``ch`` as ``repr`` escapes it: ``\n``, ``\xNN``, ``\uNNNN`` or ``\UNNNNNNNN``."""
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str | Path) -> str:
    r"""``text`` with control and format characters escaped, so that it prints as what it is, on one line.

    Args:
        text: a file name, a path or a message (which may quote file names).

    Returns:
        ``text`` unchanged when it holds none; otherwise each such character as its Python escape.

    Example:
        >>> printable("bad\nwritten      lightroom forged.jpg")
        'bad\\nwritten      lightroom forged.jpg'
        >>> printable("Café 東京 👨\u200d👩.jpg")
        'Café 東京 👨\u200d👩.jpg'
    """
    s = str(text)
    if s.isprintable():
        return s
    return "".join(
        _escape(ch) if ch not in _KEPT and unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in s
    )
