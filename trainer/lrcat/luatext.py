r"""Parse Lightroom's develop-settings text (a Lua table literal) as data, never as code.

Lightroom stores develop settings, history steps and many preferences as Lua table source::

    s = { Exposure = 0.5,
    ToneCurve = { 0,
    0,
    255,
    255 },
    WhiteBalance = "As Shot" }

This module reads that text with a small tokenizer and a recursive-descent parser. Nothing is executed
and nothing is looked up: an identifier, a call, an operator or a concatenation where a value belongs is
a :class:`~trainer.lrcat.errors.SettingsParseError`, so ``Exposure = os.execute("...")`` is rejected at
``os``.

Grammar accepted (a data subset of Lua 5.1)::

    text   := [ "return" | NAME "=" ] table [";"]
    table  := "{" [ field { ("," | ";") field } [ "," | ";" ] ] "}"
    field  := "[" key "]" "=" value | NAME "=" value | value
    key    := STRING | NUMBER | "-" NUMBER
    value  := NUMBER | "-" NUMBER | STRING | "true" | "false" | "nil" | table

* numbers: decimal integers and reals with optional exponent (``8.3e-05``), hexadecimal integers; a
  single leading ``-``; numbers beyond the float range (``1e999``, or an integer past about 1.8e308,
  such as one of thousands of digits) are errors. Integer literals become ``int``, the others ``float``
  (Lua 5.1 has one number type; the distinction only keeps ``255`` readable).
* strings: ``"..."`` or ``'...'`` with the escapes ``\a \b \f \n \r \t \v \\ \" \' \<newline>``,
  ``\ddd`` (decimal byte, UTF-8 decoded with the rest of the string) and ``\xHH``; long brackets
  ``[[...]]`` / ``[==[...]==]`` (a first newline is skipped, no escapes). Comments ``--`` and
  ``--[[...]]`` are skipped.
* tables: only positional items -> ``list``; only keyed items (or empty, ``{  }``) -> ``dict``; both ->
  ``dict`` whose positional items have the ``int`` keys 1, 2, ... as in Lua. A key given twice is an
  error (Lua would silently keep the last one; in a catalog that means a damaged row).

Limits (keyword arguments of :func:`parse_lua_table`): text length ``max_chars`` (default 8 MiB), table
nesting ``max_depth`` (default 64) and items per text ``max_items`` (default 1,000,000).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from trainer.lrcat.errors import SettingsParseError

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_ITEMS",
    "LuaValue",
    "Settings",
    "parse_lua_table",
    "parse_settings",
]

#: A parsed value: number, string, boolean, ``None`` (nil), list (array table) or dict (keyed table).
LuaValue = Any
#: Parsed develop settings: key (``crs:`` name without prefix) -> value.
Settings = dict[str, Any]

DEFAULT_MAX_CHARS = 8 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_ITEMS = 1_000_000

_TOKEN = re.compile(
    r"""[ \t\r\n\f\v]*(?:
    (?P<number>(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_.]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}=,;\]]|\[(?![=\[])|-(?!-))
  | (?P<string>"(?:[^"\\\n]|\\(?:.|\n))*"|'(?:[^'\\\n]|\\(?:.|\n))*')
  | (?P<comment>--(?:\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|[^\n]*))
  | (?P<long>\[(?P<leq>=*)\[(?P<body>.*?)\](?P=leq)\])
  | (?P<eof>\Z)
  | (?P<error>.)
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(?:([abfnrtv\\\"'\n])|([0-9]{1,3})|x([0-9a-fA-F]{2})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "\n": "\n",
}
_LITERALS = {"true": True, "false": False, "nil": None}
#: Lua reserved words other than the three literals: code, never data.
_RESERVED = frozenset(
    {
        *("and", "break", "do", "else", "elseif", "end", "for", "function", "if", "in", "local", "not", "or"),
        *("repeat", "return", "then", "until", "while"),
    }
)
_DATA_ONLY = "only numbers, strings, booleans, nil and tables are data"

# A token is (kind, text, position, value); kinds: number, name, punct, string, eof, and error (value =
# the message; the parser raises it when it gets there).
_Token = tuple[str, str, int, Any]


class _Parser:
    """Recursive-descent parser over the token list of one text (see the module grammar)."""

    def __init__(self, text: str, catalog: str | Path | None, where: str, max_depth: int, max_items: int) -> None:
        self.text = text
        self.catalog = catalog
        self.where = where
        self.max_depth = max_depth
        self.max_items = max_items
        self.items = 0
        self.toks = self._tokenize()
        self.i = 0

    # -- errors -------------------------------------------------------------------------------------

    def error_at(self, reason: str, pos: int) -> SettingsParseError:
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return SettingsParseError(self.catalog, self.where, reason, line=line, column=column)

    def error(self, reason: str) -> SettingsParseError:
        kind, _, pos, message = self.toks[self.i]
        return self.error_at(message if kind == "error" else reason, pos)

    @staticmethod
    def describe(tok: _Token) -> str:
        kind, text = tok[0], tok[1]
        if kind == "eof":
            return "end of text"
        snippet = text if len(text) <= 40 else text[:37] + "..."
        return f"{kind} {snippet!r}"

    # -- tokens -------------------------------------------------------------------------------------

    def _tokenize(self) -> list[_Token]:
        toks: list[_Token] = []
        for m in _TOKEN.finditer(self.text):
            kind = m.lastgroup
            if kind == "comment":
                continue
            assert kind is not None
            pos = m.start(kind)
            tok = m.group(kind)
            if kind == "number":
                toks.append((kind, tok, pos, self._number(tok, pos)))
            elif kind == "string":
                toks.append((kind, tok, pos, self._unescape(tok[1:-1], pos)))
            elif kind == "long":
                body = m.group("body")
                body = body[2:] if body.startswith("\r\n") else body[1:] if body.startswith("\n") else body
                toks.append(("string", tok, pos, body))
            elif kind == "error":  # raised when the parser reaches it, so earlier errors come first
                toks.append(("error", tok, pos, self._bad_char(tok, pos)))
                toks.append(("eof", "", len(self.text), None))
                break
            else:
                toks.append((kind, tok, pos, None))
                if kind == "eof":
                    break
        return toks

    def _bad_char(self, ch: str, pos: int) -> str:
        if ch in "\"'":
            return "unterminated string"
        if ch == "[":
            return "unterminated long string"
        if ch.isdigit():
            end = pos
            while end < len(self.text) and (self.text[end].isalnum() or self.text[end] in "._"):
                end += 1
            return f"malformed number {self.text[pos:end]!r}"
        return f"unexpected character {ch!r} (operators, calls and concatenation are code, not data)"

    def _number(self, literal: str, pos: int) -> int | float:
        value: int | float
        try:
            if literal[:2] in ("0x", "0X"):
                value = int(literal, 16)
            elif "." in literal or "e" in literal or "E" in literal:
                value = float(literal)
            else:
                value = int(literal)  # ValueError past Python's 4,300-digit limit
            if not math.isfinite(float(value)):  # OverflowError for an int past the float range
                raise OverflowError
        except (ValueError, OverflowError):
            shown = literal if len(literal) <= 40 else f"{literal[:20]}...({len(literal)} characters)"
            raise self.error_at(f"number {shown} is out of range", pos) from None
        return value

    def _unescape(self, body: str, pos: int) -> str:
        if "\\" not in body:
            return body
        raw = bytearray()
        last = 0
        for m in _ESCAPE.finditer(body):
            raw += body[last : m.start()].encode("utf-8")
            last = m.end()
            simple, dec, hexa, bad = m.groups()
            if simple is not None:
                raw += _SIMPLE_ESCAPES[simple].encode("utf-8")
            elif dec is not None:
                if int(dec) > 255:
                    raise self.error_at(f"escape \\{dec} is larger than 255", pos + 1 + m.start())
                raw.append(int(dec))
            elif hexa is not None:
                raw.append(int(hexa, 16))
            else:
                raise self.error_at(f"invalid escape sequence \\{bad}", pos + 1 + m.start())
        raw += body[last:].encode("utf-8")
        return raw.decode("utf-8", errors="replace")

    def at(self, punct: str) -> bool:
        tok = self.toks[self.i]
        return tok[0] == "punct" and tok[1] == punct

    def expect(self, punct: str) -> None:
        if not self.at(punct):
            raise self.error(f"expected {punct!r}, found {self.describe(self.toks[self.i])}")
        self.i += 1

    # -- grammar ------------------------------------------------------------------------------------

    def document(self) -> dict[Any, Any] | list[Any]:
        kind, text = self.toks[0][0], self.toks[0][1]
        if kind == "name" and text == "return":
            self.i += 1
        elif kind == "name" and text not in _LITERALS and text not in _RESERVED:
            self.i += 1
            self.expect("=")
        if not self.at("{"):
            raise self.error(f"expected a table '{{', found {self.describe(self.toks[self.i])}")
        result = self.table(1)
        if self.at(";"):
            self.i += 1
        if self.toks[self.i][0] != "eof":
            raise self.error(f"unexpected {self.describe(self.toks[self.i])} after the table")
        return result

    def table(self, depth: int) -> dict[Any, Any] | list[Any]:
        if depth > self.max_depth:
            raise self.error(f"tables nested deeper than {self.max_depth} levels")
        self.i += 1  # '{'
        toks = self.toks
        positional: list[Any] = []
        keyed: dict[Any, Any] = {}
        while True:
            kind, text, pos, _ = toks[self.i]
            if kind == "punct" and text == "}":
                break
            self.items += 1
            if self.items > self.max_items:
                raise self.error(f"more than {self.max_items} table items")
            if kind == "name" and text not in _LITERALS:
                if not (toks[self.i + 1][0] == "punct" and toks[self.i + 1][1] == "="):
                    raise self.error(f"identifier {text!r} in value position ({_DATA_ONLY})")
                if text in _RESERVED:
                    raise self.error(f"reserved word {text!r} used as a key")
                self.i += 2
                self.store(keyed, text, self.value(depth), pos)
            elif kind == "punct" and text == "[":
                self.i += 1
                key = self.key()
                self.expect("]")
                self.expect("=")
                self.store(keyed, key, self.value(depth), pos)
            else:
                positional.append(self.value(depth))
            kind, text = toks[self.i][0], toks[self.i][1]
            if kind == "punct" and (text == "," or text == ";"):
                self.i += 1
            elif not (kind == "punct" and text == "}"):
                raise self.error(f"expected ',' or '}}', found {self.describe(toks[self.i])}")
        end = toks[self.i][2]
        self.i += 1
        if not keyed:
            return positional if positional else {}
        for n, item in enumerate(positional, start=1):
            self.store(keyed, n, item, end)
        return keyed

    def store(self, keyed: dict[Any, Any], key: Any, value: Any, pos: int) -> None:
        if key in keyed:
            raise self.error_at(f"key {key!r} given twice", pos)
        keyed[key] = value

    def key(self) -> str | int | float:
        tok = self.toks[self.i]
        if tok[0] == "string":
            self.i += 1
            return str(tok[3])
        if tok[0] == "number" or (tok[0] == "punct" and tok[1] == "-"):
            number = self.number()
            return int(number) if isinstance(number, float) and number.is_integer() else number
        raise self.error(f"a key in brackets must be a string or a number, found {self.describe(tok)}")

    def number(self) -> int | float:
        sign = 1
        if self.at("-"):
            self.i += 1
            sign = -1
        tok = self.toks[self.i]
        if tok[0] != "number":
            raise self.error(f"expected a number after '-', found {self.describe(tok)}")
        self.i += 1
        return sign * tok[3]  # type: ignore[no-any-return]

    def value(self, depth: int) -> Any:
        kind, text, _, value = self.toks[self.i]
        if kind == "number":
            self.i += 1
            return value
        if kind == "string":
            self.i += 1
            return value
        if kind == "punct":
            if text == "{":
                return self.table(depth + 1)
            if text == "-":
                return self.number()
        if kind == "name":
            if text in _LITERALS:
                self.i += 1
                return _LITERALS[text]
            raise self.error(f"identifier {text!r} in value position ({_DATA_ONLY})")
        raise self.error(f"expected a value, found {self.describe(self.toks[self.i])}")


def parse_lua_table(
    text: str,
    *,
    catalog: str | Path | None = None,
    where: str = "",
    max_chars: int = DEFAULT_MAX_CHARS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> dict[Any, Any] | list[Any]:
    """Parse one Lua table literal (optionally ``s = ...`` or ``return ...``) into Python data.

    Args:
        text: the Lua source.
        catalog: catalog file the text comes from (for error messages only).
        where: table and row it comes from, e.g. ``"Adobe_imageDevelopSettings id_local=48"``.
        max_chars: longest accepted text, in characters.
        max_depth: deepest accepted table nesting (the outer table is level 1).
        max_items: most table items (keyed and positional, all levels) accepted.

    Returns:
        ``dict`` or ``list`` as described in the module docstring.

    Raises:
        SettingsParseError: invalid syntax, code instead of data, or a limit exceeded; the message names
            ``catalog``, ``where``, the line and the column.
    """
    if not isinstance(text, str):
        raise SettingsParseError(catalog, where, f"settings text must be str, got {type(text).__name__}")
    if len(text) > max_chars:
        raise SettingsParseError(
            catalog, where, f"settings text has {len(text)} characters, over the {max_chars} limit"
        )
    parser = _Parser(text.removeprefix("\ufeff"), catalog, where, max_depth, max_items)
    return parser.document()


def parse_settings(
    text: str,
    *,
    catalog: str | Path | None = None,
    where: str = "",
    max_chars: int = DEFAULT_MAX_CHARS,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Settings:
    """Parse a develop-settings text into ``key -> value`` (see :func:`parse_lua_table`).

    An empty or blank text gives ``{}`` (Lightroom leaves extra settings rows empty).

    Raises:
        SettingsParseError: as :func:`parse_lua_table`; also when the table has positional items or
            non-string keys at the top level (develop settings are always a keyed table).
    """
    if isinstance(text, str) and not text.strip():
        return {}
    data = parse_lua_table(text, catalog=catalog, where=where, max_chars=max_chars, max_depth=max_depth)
    if isinstance(data, list) or any(not isinstance(k, str) for k in data):
        raise SettingsParseError(catalog, where, "develop settings must be a table of Key = value fields")
    return data
