"""Expert retouches in a Lightroom catalog: FiveK's layout, and experts kept as virtual copies.

In FiveK's ``fivek.lrcat`` (fivek.md §2) each expert is a collection named ``A`` .. ``E`` inside a
collection set named ``Experts``; its members are virtual copies (``Adobe_images.masterImage`` = the
imported photo, sharing its file) whose develop settings are that expert's edit. An ``Inputs`` set holds
``InputAsShotZeroed`` (as-shot white balance, other sliders zero), whose copies record each photo's
as-shot Temperature/Tint.

:func:`expert_settings` finds an expert, in this order:

1. collections named ``expert`` inside a set named ``parent`` (default ``"Experts"``);
2. otherwise collections named ``expert`` anywhere (exactly one);
3. otherwise virtual copies whose ``copyName`` is ``expert`` (experts kept as copies, no collections).

Each photo appears once per expert (checked; a second row for the same master and file is an error), and
``expected_count`` (5,000 for FiveK) is checked when the iteration ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from trainer.lrcat.errors import CatalogError
from trainer.lrcat.history import MappedRecipe, photo_recipe
from trainer.lrcat.luatext import Settings
from trainer.lrcat.pv2003 import LIGHTROOM_DEFAULTS, LegacyBaseline
from trainer.lrcat.reader import LightroomCatalog
from trainer.lrcat.records import HistoryStep, Photo

__all__ = [
    "EXPERTS_SET",
    "FIVEK_EXPERTS",
    "FIVEK_PHOTOS",
    "INPUT_AS_SHOT_ZEROED",
    "expert_image_ids",
    "expert_recipes",
    "expert_settings",
]

#: Name of FiveK's collection set holding the experts.
EXPERTS_SET = "Experts"
#: FiveK's experts (collection names).
FIVEK_EXPERTS = ("A", "B", "C", "D", "E")
#: Photos per expert in FiveK.
FIVEK_PHOTOS = 5000
#: FiveK's as-shot input collection (inside the ``Inputs`` set).
INPUT_AS_SHOT_ZEROED = "InputAsShotZeroed"


def expert_image_ids(catalog: LightroomCatalog, expert: str, *, parent: str = EXPERTS_SET) -> tuple[list[int], str]:
    """``Adobe_images.id_local`` of an expert's photos and where they were found (module docstring order).

    Raises:
        CatalogError: no such expert, or several collections that could be it.
    """
    for found in (catalog.find_collections(expert, parent=parent), catalog.find_collections(expert)):
        if len(found) == 1:
            return catalog.collection_image_ids(found[0].id), f"collection {found[0].path}"
        if len(found) > 1:
            paths = ", ".join(c.path for c in found)
            raise CatalogError(catalog.path, "AgLibraryCollection", f"expert {expert!r} is ambiguous: {paths}")
    copies = catalog.virtual_copies_named(expert)
    if copies:
        return copies, f"virtual copies named {expert!r}"
    raise CatalogError(
        catalog.path,
        "",
        f"no expert {expert!r}: no collection {parent}/{expert}, no collection {expert!r} and no virtual copy "
        f"named {expert!r}",
    )


@contextlib.contextmanager
def _opened(catalog: LightroomCatalog | str | Path) -> Iterator[LightroomCatalog]:
    """``catalog`` itself when it is open; else the catalog at that path, opened read-only and closed at the end."""
    if isinstance(catalog, LightroomCatalog):
        yield catalog
        return
    with LightroomCatalog(catalog) as cat:
        yield cat


def expert_settings(
    catalog: LightroomCatalog | str | Path,
    expert: str = "C",
    *,
    parent: str = EXPERTS_SET,
    with_history: bool = True,
    expected_count: int | None = None,
) -> Iterator[tuple[Photo, Settings, tuple[HistoryStep, ...]]]:
    """Iterate over one expert's edits: ``(photo, settings, history)``.

    Args:
        catalog: an open catalog, or the path of one (opened read-only and closed at the end).
        expert: the expert's collection or copy name (``"A"`` .. ``"E"`` in FiveK).
        parent: name of the collection set holding the expert collections.
        with_history: read each photo's history steps too.
        expected_count: when given, the number of photos that must be found (5,000 in FiveK).

    Yields:
        The expert's photo (a virtual copy in FiveK; ``path`` is the shared file), its current develop
        settings (never empty) and its history steps (oldest first).

    Raises:
        CatalogError: no such expert; a member without develop settings; the same photo twice; a count
            other than ``expected_count``; an unreadable settings or history row (named in the message).
    """
    with _opened(catalog) as cat:
        ids, where = expert_image_ids(cat, expert, parent=parent)
        seen: dict[tuple[int, str | None], int] = {}
        count = 0
        for photo in cat.photos(ids, with_history=with_history):
            if not photo.settings:
                raise CatalogError(cat.path, f"Adobe_images id_local={photo.id}", f"{where}: photo has no settings")
            key = (photo.master_id if photo.master_id is not None else photo.id, photo.path)
            if key in seen:
                raise CatalogError(
                    cat.path, f"Adobe_images id_local={photo.id}", f"{where}: same photo as image {seen[key]}"
                )
            seen[key] = photo.id
            count += 1
            yield photo, photo.settings, photo.history
        if expected_count is not None and count != expected_count:
            raise CatalogError(cat.path, "", f"{where}: {count} photos, expected {expected_count}")


def expert_recipes(
    catalog: LightroomCatalog | str | Path,
    expert: str = "C",
    *,
    parent: str = EXPERTS_SET,
    baseline: LegacyBaseline = LIGHTROOM_DEFAULTS,
    expected_count: int | None = None,
) -> Iterator[tuple[Photo, MappedRecipe]]:
    """:func:`expert_settings` mapped to recipes (style ``"<catalog stem>-<expert>"``), ordered by history."""
    with _opened(catalog) as cat:
        style = f"{cat.path.stem}-{expert}"
        for photo, _settings, _history in expert_settings(
            cat, expert, parent=parent, with_history=True, expected_count=expected_count
        ):
            yield photo, photo_recipe(cat, photo, baseline=baseline, style=style)
