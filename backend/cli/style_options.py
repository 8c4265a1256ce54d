"""Command-line options that pick a learned style: ``--style S`` / ``--mix A:W,B:W`` and ``--strength A``.

One place for the parsers, so that ``suggest``, ``render`` and the other commands accept and check them alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backend.errors import InvalidRecipeError

__all__ = [
    "add_recipe_or_style_options",
    "add_strength_option",
    "add_style_options",
    "load_styles",
    "parse_mix_arg",
    "parse_strength_arg",
    "parse_style_arg",
]


def parse_strength_arg(text: str) -> float:
    """argparse type of ``--strength``: a number in [0, 1]."""
    from backend.errors import InvalidRecipeError
    from backend.recipe import check_strength

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    try:
        return check_strength(value)
    except InvalidRecipeError:
        raise argparse.ArgumentTypeError(f"strength must lie in [0, 1], got {text}") from None


def add_strength_option(
    parser: argparse.ArgumentParser,
    *,
    default: float | None = 1.0,
    help_text: str = "scale every slider toward 'no change': 0 = nothing, 1 = the full style (default 1)",
) -> None:
    """Add ``--strength A`` (parsed by :func:`parse_strength_arg`): a number in [0, 1].

    Args:
        parser: the command's parser.
        default: the value without the option (1 = the full style; ``None`` tells "not given" apart).
        help_text: the command's help text of ``--strength``.
    """
    parser.add_argument("--strength", type=parse_strength_arg, default=default, metavar="A", help=help_text)


def parse_style_arg(text: str) -> str:
    """argparse type of ``--style S``: a style name or path; an empty one is refused (rc 2).

    ``--style ""`` (a script's unset ``$STYLE``) would otherwise fall back to the default style unnoticed.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("empty style name (leave --style out for the default style)")
    return text


def parse_mix_arg(text: str) -> list[tuple[str, float]]:
    """argparse type of ``--mix A:0.7,B:0.3``: ``(style, weight)`` pairs (see :func:`backend.agent.suggest.parse_mix`)."""
    from backend.agent.suggest import parse_mix

    try:
        return parse_mix(text)
    except InvalidRecipeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_style_options(group: argparse._MutuallyExclusiveGroup, *, style_help: str, mix_help: str) -> None:
    """Add ``--style S`` and ``--mix A:W,B:W`` to a mutually exclusive group.

    They are parsed by :func:`parse_style_arg` (an empty name is refused) and :func:`parse_mix_arg`.

    Args:
        group: the command's group of edit sources (it may already hold ``--recipe``).
        style_help: the command's help text of ``--style``.
        mix_help: the command's help text of ``--mix``.
    """
    group.add_argument("--style", type=parse_style_arg, metavar="S", help=style_help)
    group.add_argument("--mix", type=parse_mix_arg, metavar="A:W,B:W", help=mix_help)


def add_recipe_or_style_options(
    parser: argparse.ArgumentParser, *, recipe_help: str, style_help: str, mix_help: str
) -> None:
    """Add the required choice of the edit: ``--recipe R.json``, ``--style S`` or ``--mix A:W,B:W``.

    Args:
        parser: the command's parser (``apply``, ``render``: commands that take a recipe file or a style).
        recipe_help: the command's help text of ``--recipe``.
        style_help: the command's help text of ``--style``.
        mix_help: the command's help text of ``--mix``.
    """
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--recipe", type=Path, metavar="R.json", help=recipe_help)
    add_style_options(group, style_help=style_help, mix_help=mix_help)


def load_styles(style: str | None, mix: list[tuple[str, float]] | None) -> list[tuple[Any, float]]:
    """The ``(Style, weight)`` pairs that ``--style`` / ``--mix`` name (no option: the default style).

    Raises:
        StyleError: a style is missing or invalid (the message names it).
    """
    from backend.agent.style import DEFAULT_STYLE, StyleStore, load_style

    store = StyleStore()
    if mix:
        return [(load_style(name, store=store), weight) for name, weight in mix]
    return [(load_style(DEFAULT_STYLE if style is None else style, store=store), 1.0)]
