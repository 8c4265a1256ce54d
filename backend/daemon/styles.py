"""The styles a daemon serves: loaded once at start (and again after a training), looked up by name."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backend.agent.style import DEFAULT_STYLE, Style, StyleInfo, StyleStore, load_style
from backend.errors import AutoretouchError, NotFoundError

__all__ = ["LoadedStyles", "StyleRegistry"]


@dataclass(frozen=True)
class LoadedStyles:
    """One consistent snapshot of the registry.

    Attributes:
        infos: every style file pair in the search path (``StyleStore.list`` order).
        styles: name -> loaded style (the first, unshadowed, valid one of each name).
        errors: name -> why the style of that name could not be loaded.
    """

    infos: tuple[StyleInfo, ...] = ()
    styles: dict[str, Style] = field(default_factory=dict)
    errors: dict[str, AutoretouchError] = field(default_factory=dict)


class StyleRegistry:
    """Loads every usable style of a :class:`~backend.agent.style.StyleStore` and hands them out by name.

    Args:
        dirs: style folders (``None`` = the store's defaults).
    """

    def __init__(self, dirs: Sequence[str | Path] | None = None) -> None:
        self.store = StyleStore(dirs)
        self._snapshot = LoadedStyles()
        self._lock = threading.Lock()
        self.loaded = False

    @property
    def install_dir(self) -> Path:
        """The folder new styles are installed into (the first style folder)."""
        return self.store.dirs[0]

    def load(self) -> LoadedStyles:
        """(Re)load every style from disk; the new snapshot replaces the old one at once.

        Returns:
            The new snapshot. Unusable styles are recorded in ``errors``, never raised.
        """
        with self._lock:
            infos = tuple(self.store.list())
            styles: dict[str, Style] = {}
            errors: dict[str, AutoretouchError] = {}
            for info in infos:
                if info.shadowed or info.name in styles or info.name in errors:
                    continue
                if info.error is not None:
                    errors[info.name] = _StyleLoadError(info)
                    continue
                try:
                    styles[info.name] = load_style(info.path)
                except AutoretouchError as exc:
                    errors[info.name] = exc
            self._snapshot = LoadedStyles(infos, styles, errors)
            self.loaded = True
            return self._snapshot

    def snapshot(self) -> LoadedStyles:
        """The current snapshot."""
        return self._snapshot

    def get(self, name: str) -> Style:
        """The loaded style ``name``.

        Raises:
            NotFoundError: no style of that name (with a hint for the missing default style).
            StyleError: the style exists but cannot be used (the load error).
        """
        snap = self._snapshot
        if name in snap.styles:
            return snap.styles[name]
        if name in snap.errors:
            raise snap.errors[name]
        where = ", ".join(str(d) for d in self.store.dirs) or "(no style folders)"
        if name == DEFAULT_STYLE:
            raise NotFoundError(
                f"no default style is installed on the daemon (looked in {where}); name a style "
                "(see ListStyles) or train one"
            )
        raise NotFoundError(f"no style named {name!r} on the daemon (looked in {where}); see ListStyles")

    def default_model(self) -> str:
        """``NAME@VERSION`` of the loaded default style, or ``""``."""
        snap = self._snapshot
        style = snap.styles.get(DEFAULT_STYLE)
        return style.model if style is not None else ""


class _StyleLoadError(AutoretouchError):
    """A style the store lists with an error (malformed metadata ...)."""

    grpc_status = "FAILED_PRECONDITION"

    def __init__(self, info: StyleInfo) -> None:
        super().__init__(info.error or f"{info.path}: unusable style")
