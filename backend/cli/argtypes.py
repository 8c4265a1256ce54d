"""argparse ``type=`` converters for bounded integer options (one wording for every command)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_arg"]


def int_arg(minimum: int, maximum: int | None = None, *, name: str = "") -> Callable[[str], int]:
    """A converter accepting integers in ``minimum..maximum`` (no upper bound when ``maximum`` is ``None``).

    Errors read ``'x' is not an integer``, ``NAME must be at least MIN, got V`` or
    ``NAME must lie in MIN..MAX, got V`` (``NAME`` left out when empty).
    """
    prefix = f"{name} " if name else ""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if maximum is None and value < minimum:
            raise argparse.ArgumentTypeError(f"{prefix}must be at least {minimum}, got {value}")
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{prefix}must lie in {minimum}..{maximum}, got {value}")
        return value

    return convert
