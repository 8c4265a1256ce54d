"""Host programs the tests need (darktable-cli, exiftool, busted, Xvfb ...): skip locally, fail under CI.

A test that needs a program which is not installed skips with a clear reason on a developer's machine, but under
``CI=true`` (what ``.ci/run`` sets after installing everything) a missing program means a broken set-up, so the
test fails instead of passing silently.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing", "need_program", "under_ci", "update_golden"]


def under_ci() -> bool:
    """Whether the tests run under ``CI=true``."""
    return os.environ.get("CI") == "true"


def missing(message: str, *, module_level: bool = False) -> NoReturn:
    """Skip because something is not installed (``message`` says what and how to install it); fail under CI.

    Args:
        message: e.g. ``"exiftool is not installed (apt-get install libimage-exiftool-perl)"``.
        module_level: called while the test module is imported (skips the whole module).

    Raises:
        pytest's skip or fail outcome; under CI at module level a ``RuntimeError`` (collection then fails).
    """
    if under_ci():
        if module_level:
            raise RuntimeError(f"{message}; CI=true requires it")
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message, allow_module_level=module_level)


def need_program(name: str, message: str | None = None) -> str:
    """The path of a program on ``PATH``; else :func:`missing` (skip locally, fail under CI)."""
    import shutil

    path = shutil.which(name)
    if path is None:
        missing(message or f"{name} is not installed")
    return path


def update_golden() -> bool:
    """Whether golden tests rewrite their expected files (``AUTORETOUCH_UPDATE_GOLDEN=1``).

    Raises:
        RuntimeError: asked for under ``CI=true``, where a test that rewrites its own expectations cannot fail.
    """
    wanted = os.environ.get("AUTORETOUCH_UPDATE_GOLDEN") == "1"
    if wanted and under_ci():
        raise RuntimeError("AUTORETOUCH_UPDATE_GOLDEN=1 rewrites the expected files; it is refused under CI=true")
    return wanted
