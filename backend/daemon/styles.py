"""The styles a daemon serves, looked up by name and kept in step with the style folders.

Every style is loaded at start. Each request then checks the folders cheaply (one directory scan and a
``stat`` per style file: name, ``mtime_ns``, size, inode) and, when anything changed (a style added, removed,
or retrained in place by a local ``autoretouch train``), lists the folders again and reloads the styles whose
``.safetensors`` or ``.json`` changed, from the listing's reading (each style is read and validated once per
reload); the unchanged ones are kept as loaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backend.agent.style import DEFAULT_STYLE, Style, StyleInfo, StyleStore, style_not_found
from backend.errors import AutoretouchError

__all__ = ["LoadedStyles", "StyleRegistry", "folder_state"]

#: A file's identity for the cache: (mtime_ns, size, inode), or ``None`` when it cannot be stat'ed.
FileKey = tuple[int, int, int] | None
#: The state of the style folders: every (folder, file name, key) of their style files, sorted.
FolderState = tuple[tuple[str, str, FileKey], ...]


def _file_key(path: str | Path) -> FileKey:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def folder_state(dirs: Sequence[Path]) -> FolderState:
    """The style files of ``dirs`` and their keys: equal states mean no style was added, removed or changed.

    Args:
        dirs: the style folders (a missing or unreadable one counts as empty).

    Returns:
        Sorted (folder, file name, :data:`FileKey`) of every ``.safetensors`` and ``.json`` file.
    """
    entries: list[tuple[str, str, FileKey]] = []
    for d in dirs:
        try:
            with os.scandir(d) as it:
                names = [e.name for e in it if e.name.endswith((".safetensors", ".json"))]
        except OSError:
            continue
        entries.extend((str(d), name, _file_key(os.path.join(d, name))) for name in names)
    return tuple(sorted(entries))


def _style_key(weights: Path, keys: dict[str, FileKey]) -> tuple[FileKey, FileKey]:
    """The keys of a style's two files, from ``keys`` (a folder state's) where listed, else stat'ed."""
    paths = (str(weights), str(weights.with_suffix(".json")))
    return (
        keys[paths[0]] if paths[0] in keys else _file_key(paths[0]),
        keys[paths[1]] if paths[1] in keys else _file_key(paths[1]),
    )


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
    dirs: tuple[Path, ...] = ()

    def get(self, name: str) -> Style:
        """The loaded style ``name``.

        Raises:
            NotFoundError: no style of that name (with a hint for the missing default style).
            StyleError: the style exists but cannot be used (the load error).
        """
        if name in self.styles:
            return self.styles[name]
        if name in self.errors:
            raise self.errors[name]
        raise style_not_found(
            name,
            self.dirs,
            scope=" on the daemon",
            default_hint="name a style (see ListStyles) or train one",
            listing="ListStyles",
        )

    def default_model(self) -> str:
        """``NAME@VERSION`` of the loaded default style, or ``""``."""
        style = self.styles.get(DEFAULT_STYLE)
        return style.model if style is not None else ""


class StyleRegistry:
    """Loads every usable style of a :class:`~backend.agent.style.StyleStore` and hands them out by name.

    Args:
        dirs: style folders (``None`` = the store's defaults).
    """

    def __init__(self, dirs: Sequence[str | Path] | None = None) -> None:
        self.store = StyleStore(dirs)
        self._snapshot = LoadedStyles(dirs=tuple(self.store.dirs))
        self._state: FolderState | None = None
        self._cache: dict[Path, tuple[tuple[FileKey, FileKey], Style]] = {}
        self._lock = threading.Lock()
        self.loaded = False

    @property
    def install_dir(self) -> Path:
        """The folder new styles are installed into (the first style folder)."""
        return self.store.dirs[0]

    def load(self) -> LoadedStyles:
        """(Re)load the styles from disk; the new snapshot replaces the old one at once.

        A style whose two files have the same ``mtime_ns``, size and inode as when it was last loaded is kept;
        the others are loaded again.

        Returns:
            The new snapshot. Unusable styles are recorded in ``errors``, never raised.
        """
        with self._lock:
            return self._load_locked(folder_state(self.store.dirs))

    def _load_locked(self, state: FolderState) -> LoadedStyles:
        keys = {os.path.join(d, name): key for d, name, key in state}  # the keys the state took: no second stat
        taken: dict[Path, tuple[FileKey, FileKey]] = {}

        def changed(weights: Path) -> bool:
            # the key is taken before the style is read: a file replaced meanwhile is reloaded next time
            taken[weights] = key = _style_key(weights, keys)
            cached = self._cache.get(weights)
            return cached is None or cached[0] != key

        listed, loaded = self.store.list_loading(changed)  # each style read and validated once, listed or loaded
        infos: tuple[StyleInfo, ...] = tuple(listed)
        styles: dict[str, Style] = {}
        errors: dict[str, AutoretouchError] = {}
        cache: dict[Path, tuple[tuple[FileKey, FileKey], Style]] = {}
        for info in infos:
            if info.shadowed or info.name in styles or info.name in errors:
                continue
            if info.error is not None:
                errors[info.name] = _StyleLoadError(info)
                continue
            style = loaded[info.path] if info.path in loaded else self._cache[info.path][1]
            styles[info.name] = style
            cache[info.path] = (taken[info.path], style)
        self._snapshot = LoadedStyles(infos, styles, errors, tuple(self.store.dirs))
        self._cache, self._state = cache, state
        self.loaded = True
        return self._snapshot

    def snapshot(self) -> LoadedStyles:
        """The current snapshot, reloaded first when the style folders changed since the last load.

        Before the first :meth:`load` it is empty (nothing is loaded here).
        """
        if not self.loaded:
            return self._snapshot
        state = folder_state(self.store.dirs)
        if state == self._state:
            return self._snapshot
        with self._lock:
            if state == self._state:  # another request reloaded meanwhile
                return self._snapshot
            return self._load_locked(state)

    def get(self, name: str) -> Style:
        """The loaded style ``name`` (:meth:`LoadedStyles.get` on the current :meth:`snapshot`).

        Raises:
            NotFoundError: no style of that name (with a hint for the missing default style).
            StyleError: the style exists but cannot be used (the load error).
        """
        return self.snapshot().get(name)

    def default_model(self) -> str:
        """``NAME@VERSION`` of the loaded default style, or ``""``."""
        return self.snapshot().default_model()


class _StyleLoadError(AutoretouchError):
    """A style the store lists with an error (malformed metadata ...)."""

    grpc_status = "FAILED_PRECONDITION"

    def __init__(self, info: StyleInfo) -> None:
        super().__init__(info.error or f"{info.path}: unusable style")
