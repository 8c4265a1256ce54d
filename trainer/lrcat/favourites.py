"""A photographer's own edits in their Lightroom catalog: the favourites and their develop settings as recipes.

``autoretouch train --lrcat MY.lrcat --favourites SELECTION`` learns from photos the photographer already edited.
The selection:

* ``picks``: photos flagged as picks (``Adobe_images.pick`` = 1);
* ``rating:N``: photos rated ``N`` stars or more (``N`` in 1..5);
* ``collection:NAME``: the members of every collection called ``NAME`` (a ``/``-path such as
  ``Portfolio/Best`` names one inside a set); smart collections (their rules are Lightroom's) and collection
  sets are refused, as usage errors (:class:`~trainer.lrcat.errors.FavouritesSelectionError`, exit status 2).

Each selected photo's **current develop settings** are its label, mapped into our sliders by
:func:`trainer.lrcat.pv2003.map_settings` (the per-slider table is in that module: the PV2012 tone sliders,
Vibrance, Saturation, Clarity, the PV2012 point curves, HSL, Sharpness, post-crop vignette and grayscale map
exactly or nearly; custom Temperature/Tint are made relative to the photo's as-shot white balance, found in the
catalog; ``Incremental*`` white balance of rendered files maps directly; Texture, Dehaze, the parametric curve,
colour grading, grain, crop and local corrections are dropped with a note; so is a point curve that goes down,
such as a film-negative inversion). The notes (what was dropped, clamped to a slider's range, or ignored as not a
number) are logged as one warning per photo that has any (:func:`log_notes`). Only modern edits are used:
settings of process version 2012 or later; legacy (2003/2010) rows are reported and skipped, as are rows whose
``ProcessVersion`` is not a version (:func:`~trainer.lrcat.pv2003.unreadable_process_version`), photos
without settings and photos whose original cannot be found (the recorded path, its tail below the catalog's
folder, else a file with the same stem in ``--photos DIR``; a file found by name that is also the original of
another catalog photo, as when same-named photos of different folders were moved into one, is ambiguous and
skipped too). The catalog is opened read-only and its settings
text is parsed as data (:mod:`trainer.lrcat.luatext`), never executed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import NotFoundError, PermissionDeniedError
from backend.recipe import SliderValue
from trainer.lrcat.errors import CatalogError, FavouritesSelectionError
from trainer.lrcat.pv2003 import map_settings, process_version, unreadable_process_version
from trainer.lrcat.reader import LightroomCatalog, open_catalog

__all__ = [
    "CatalogEdit",
    "FavouritesSelectionError",
    "catalog_edits",
    "log_notes",
    "originals_within",
    "parse_selection",
    "select_favourites",
]

log = logging.getLogger(__name__)

_RATING = re.compile(r"rating:([1-5])")
#: ``AgLibraryCollection.creationId`` endings of the collections that hold no photos of their own.
_SMART = "smart_collection"
_SET = ".group"
#: The check :func:`originals_within` installs (``None``: every original may be read, as for the CLI).
_ORIGINALS_CHECK: ContextVar[Callable[[Path], None] | None] = ContextVar("originals_check", default=None)


@dataclass(frozen=True)
class CatalogEdit:
    """One favourite: its original and its develop settings as our slider values.

    Attributes:
        name: the file's base name (``IMG_0042``), with ``-N`` appended for a virtual copy.
        original: the original file on disk.
        values: slider -> value (catalog units) mapped from the settings.
        notes: what the mapping left out or clamped.
    """

    name: str
    original: Path
    values: dict[str, SliderValue]
    notes: tuple[str, ...]


def parse_selection(text: str) -> tuple[str, Any]:
    """``"picks"`` -> ``("picks", None)``; ``"rating:N"`` -> ``("rating", N)``; ``"collection:NAME"``.

    Raises:
        FavouritesSelectionError: anything else (a usage error; the message lists the forms).
    """
    t = text.strip()
    if t == "picks":
        return "picks", None
    m = _RATING.fullmatch(t)
    if m:
        return "rating", int(m.group(1))
    if t.startswith("collection:") and t[len("collection:") :].strip():
        return "collection", t[len("collection:") :].strip()
    raise FavouritesSelectionError(f"--favourites {text!r}: use picks, rating:N (N = 1..5) or collection:NAME")


def _collection_hint(catalog: LightroomCatalog, wanted: str, limit: int = 12) -> str:
    """``"; did you mean 'Best'? the catalog's collections: ..."`` for a ``collection:NAME`` that names none.

    The guess is the collection whose path or name equals ``wanted`` but for case, else the closest path or
    name (:func:`difflib.get_close_matches`); the paths are listed (at most ``limit``), or the catalog is said
    to have no collection.
    """
    import difflib

    paths = sorted({c.path for c in catalog.collections()}, key=str.casefold)
    if not paths:
        return "; the catalog has no collection"
    candidates = sorted(set(paths) | {p.rsplit("/", 1)[-1] for p in paths}, key=str.casefold)
    same = [c for c in candidates if c.casefold() == wanted.casefold()]
    close = same or difflib.get_close_matches(wanted, candidates, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(repr(p) for p in paths[:limit]) + (
        f" (and {len(paths) - limit} more)" if len(paths) > limit else ""
    )
    return f"; {guess}the catalog's collections: {shown}"


def select_favourites(catalog: LightroomCatalog, selection: str) -> list[int]:
    """``Adobe_images.id_local`` of the selected photos, ascending (see the module docstring).

    ``collection:NAME`` takes the members of the regular collections of that name; smart collections (their
    rules are Lightroom's and are not evaluated here) and collection sets (which hold collections, not photos)
    of that name do not count, and when they are all the name matches, the selection is refused. A name that
    matches several regular collections (``Best`` in several collection sets) selects the photos of all of them,
    and says so in a warning that names their paths; smart collections and sets left out are named too.

    Raises:
        FavouritesSelectionError: a malformed selection, or a name that matches only smart collections or
            collection sets.
        CatalogError: a catalog without the column it needs.
        NotFoundError: no collection of that name (with a did-you-mean and the catalog's collections listed).
    """
    kind, arg = parse_selection(selection)
    if kind == "picks":
        return catalog.flagged_ids("pick", 1)
    if kind == "rating":
        return catalog.flagged_ids("rating", int(arg))
    *parents, name = str(arg).split("/")
    found = [c for c in catalog.collections() if c.name == name and (not parents or c.path == str(arg))]
    if not found:
        raise NotFoundError(f"{catalog.path}: no collection called {arg!r}{_collection_hint(catalog, str(arg))}")
    regular = [c for c in found if not c.kind.endswith((_SMART, _SET))]
    if not regular:
        smart = [c for c in found if c.kind.endswith(_SMART)]
        if smart:
            raise FavouritesSelectionError(
                f"--favourites collection:{arg}: {smart[0].path!r} is a smart collection, which is not supported "
                "(its rules are Lightroom's); use picks, rating:N or a regular collection",
                catalog.path,
            )
        raise FavouritesSelectionError(
            f"--favourites collection:{arg}: {found[0].path!r} is a collection set; name one of its collections "
            "(collection:SET/NAME)",
            catalog.path,
        )
    if len(regular) > 1:
        log.warning(
            "%s: collection:%s matches %d collections: %s; using all their photos (name one as collection:SET/NAME)",
            catalog.path,
            arg,
            len(regular),
            ", ".join(c.path for c in regular),
        )
    ignored = [c for c in found if c not in regular]
    if ignored:
        log.warning(
            "%s: collection:%s: not using %s",
            catalog.path,
            arg,
            ", ".join(
                f"{c.path} ({'a smart collection' if c.kind.endswith(_SMART) else 'a collection set'})" for c in ignored
            ),
        )
    return sorted({i for c in regular for i in catalog.collection_image_ids(c.id)})


@contextmanager
def originals_within(check: Callable[[Path], None]) -> Iterator[None]:
    """Within the block, :func:`catalog_edits` uses only originals that ``check`` accepts.

    The daemon's training worker wraps its training in this with its ``--root`` guard
    (:meth:`backend.daemon.security.Roots.check`), so that a catalog under a root cannot make it read photos
    outside them: an original ``check`` refuses (it raises :class:`~backend.errors.PermissionDeniedError`) is
    skipped and named with the reason, before anything decodes it.

    Args:
        check: raises ``PermissionDeniedError`` for a path that must not be read.
    """
    token = _ORIGINALS_CHECK.set(check)
    try:
        yield
    finally:
        _ORIGINALS_CHECK.reset(token)


@dataclass(frozen=True)
class _Found:
    edit: CatalogEdit
    where: str
    how: str  # how the original was found: "recorded", "catalog folder" or "photos folder"
    owner: str  # the catalog's own file of the photo (its recorded path; virtual copies share it)


def _drop_ambiguous(found: list[_Found], skipped: list[str], missing: list[str]) -> list[CatalogEdit]:
    """The edits, less those whose original was found by name and is also the file of another catalog photo.

    Each one dropped is named (with why) in ``skipped`` and in ``missing`` (its original could not be found for sure).
    """
    by_file: dict[Path, list[_Found]] = {}
    for f in found:
        by_file.setdefault(f.edit.original.resolve(), []).append(f)
    dropped: set[int] = set()
    for group in by_file.values():
        if len({f.owner for f in group}) < 2:
            continue  # one catalog photo (and its virtual copies)
        for f in group:
            if f.how == "recorded":
                continue  # the catalog's own path: certainly this photo's file
            others = ", ".join(g.where for g in group if g.owner != f.owner)
            message = (
                f"{f.where}: ambiguous original: {f.edit.original} (found by name in the {f.how}) is also the "
                f"original of {others}, a photo of the same name from another catalog folder; relink the "
                "originals in Lightroom, or keep them in folders as the catalog has them"
            )
            skipped.append(message)
            missing.append(message)
            dropped.add(id(f))
    return [f.edit for f in found if id(f) not in dropped]


def _unusable(settings: Mapping[str, Any]) -> str | None:
    """Why a photo's settings are not a modern edit (an unreadable or a legacy process version), or ``None``."""
    unreadable = unreadable_process_version(settings)
    if unreadable is not None:
        return f"{unreadable}; re-save the photo's settings in Lightroom"
    pv = process_version(settings)
    if pv != "PV2012":
        return f"process version {pv[2:]} (only 2012 and later are used; update it in Lightroom)"
    return None


def log_notes(source: str | Path, edits: Sequence[CatalogEdit]) -> None:
    """One warning per edit whose settings were not all used as they are (dropped, clamped or ignored values).

    Args:
        source: what the settings come from (the catalog file), the start of each line.
        edits: the edits; those without notes are not mentioned.
    """
    for edit in edits:
        if edit.notes:
            log.warning("%s: %s: settings not used as they are: %s", source, edit.name, "; ".join(edit.notes))


def _label(base_name: str, image_id: int, virtual_copy: bool) -> str:
    """A photo's name in edits and messages: its file's base name, with ``-ID`` for a virtual copy."""
    return base_name + (f"-{image_id}" if virtual_copy else "")


def _where(catalog: LightroomCatalog, image_id: int) -> str:
    """``NAME (image ID)`` of a photo whose settings cannot be read (``image ID`` alone when it has no file)."""
    found = catalog.image_file(image_id)
    if found is None or not found[0]:
        return f"image {image_id}"
    return f"{_label(found[0], image_id, found[1])} (image {image_id})"


def catalog_edits(
    lrcat: str | Path, selection: str, *, photos: str | Path | None = None, missing: list[str] | None = None
) -> tuple[list[CatalogEdit], list[str]]:
    """The selected favourites of a catalog with their settings as recipes (see the module docstring).

    Each photo's original is found by :func:`trainer.pseudo_labels.find_photo`. One found by name (below the
    catalog's folder or in ``photos``) that is also the original of another catalog photo (same-named photos of
    different folders moved into one) is ambiguous: it is skipped, never paired with another photo's settings.
    Within :func:`originals_within`, originals its check refuses are skipped too. The usable favourites' notes
    are logged (:func:`log_notes`).

    Args:
        lrcat: the ``.lrcat`` file (opened read-only).
        selection: ``picks``, ``rating:N`` or ``collection:NAME``.
        photos: folder to look for originals by file stem when the recorded paths are gone.
        missing: where given, also receives the messages of the photos skipped because their original could not
            be found (not found, ambiguous) or may not be read (the :func:`originals_within` check): the training
            summary names those.

    Returns:
        ``(edits, skipped)``: the usable favourites, and one message per skipped photo (naming it and why).

    Raises:
        FavouritesSelectionError: the selection is malformed or names a smart collection or a collection set.
        CatalogError / NotFoundError: the catalog cannot be read, or the selection selects nothing.
    """
    from trainer.pseudo_labels import StemIndex, find_photo

    check = _ORIGINALS_CHECK.get()
    index = StemIndex(photos) if photos is not None else None
    found: list[_Found] = []
    skipped: list[str] = []
    lost: list[str] = [] if missing is None else missing
    with open_catalog(lrcat) as catalog:
        ids = select_favourites(catalog, selection)
        if not ids:
            raise NotFoundError(f"{lrcat}: --favourites {selection} selects no photo")
        for image_id in ids:
            try:
                photo = catalog.photo(image_id, with_history=False)
            except CatalogError as exc:  # e.g. settings text that is not data: this photo only
                skipped.append(f"{_where(catalog, image_id)}: {exc}")
                continue
            label = _label(photo.base_name, photo.id, photo.is_virtual_copy)
            where = f"{label} (image {photo.id})"
            if not photo.settings:
                skipped.append(f"{where}: no develop settings")
                continue
            unusable = _unusable(photo.settings)
            if unusable is not None:
                skipped.append(f"{where}: {unusable}")
                continue
            hit = find_photo(photo.path, photo.base_name, Path(lrcat).resolve().parent, index)
            if hit is None:
                skipped.append(f"{where}: original not found ({photo.path or 'no path recorded'})")
                lost.append(skipped[-1])
                continue
            original, how = hit
            if check is not None:
                try:
                    check(original)
                except PermissionDeniedError as exc:
                    skipped.append(f"{where}: {exc}")
                    lost.append(skipped[-1])
                    continue
            mapped = map_settings(photo.settings, as_shot=catalog.as_shot_white_balance(photo))
            edit = CatalogEdit(label, original, dict(mapped.values), mapped.notes)
            found.append(_Found(edit, where, how, photo.path or f"image {photo.master_id or photo.id}"))
    edits = _drop_ambiguous(found, skipped, lost)
    log_notes(lrcat, edits)
    return edits, skipped


def settings_edits(
    items: Sequence[Mapping[str, Any]], *, missing: list[str] | None = None
) -> tuple[list[CatalogEdit], list[str]]:
    """Photos with their Lightroom develop settings as sent by the plug-in (``photo:getDevelopSettings()``).

    The same mapping as :func:`catalog_edits`, for settings that come with the photo instead of from a catalog
    file: process version 2012 and later only; an absolute white balance is made relative to the as-shot one,
    which for a raw comes from the raw itself (``decode``'s as-shot Kelvin/Tint). The notes are logged
    (:func:`log_notes`).

    Args:
        items: ``{"path": original photo, "settings": develop settings}`` each.
        missing: where given, also receives ``"NAME (why)"`` for each photo skipped because it could not be found
            or decoded (the training summary names those).

    Returns:
        ``(edits, skipped)``: the usable photos, and one message per skipped photo (naming it and why).
    """
    from backend.decode import decode_preview
    from backend.errors import AutoretouchError, DecodeError
    from trainer.lrcat.records import AsShotWhiteBalance

    edits: list[CatalogEdit] = []
    skipped: list[str] = []
    seen: dict[str, int] = {}
    for item in items:
        path = Path(str(item.get("path", "")))
        settings = item.get("settings")
        label = path.stem + (f"-{seen[path.stem]}" if path.stem in seen else "")
        seen[path.stem] = seen.get(path.stem, 0) + 1
        if not isinstance(settings, Mapping) or not settings:
            skipped.append(f"{path.name}: no develop settings")
            continue
        unusable = _unusable(settings)
        if unusable is not None:
            skipped.append(f"{path.name}: {unusable}")
            continue
        try:
            decoded = decode_preview(path, long_side=64)
        except AutoretouchError as exc:
            skipped.append(f"{path.name}: {exc}")
            if missing is not None and isinstance(exc, DecodeError | NotFoundError | PermissionDeniedError):
                missing.append(f"{path.name} ({getattr(exc, 'reason', None) or exc})")
            continue
        shot = decoded.as_shot
        as_shot = None
        if shot is not None and shot.kelvin is not None and shot.tint is not None:
            as_shot = AsShotWhiteBalance(float(shot.kelvin), float(shot.tint), "the raw's as-shot white balance")
        try:
            mapped = map_settings(settings, as_shot=as_shot)
        except AutoretouchError as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        edits.append(CatalogEdit(label, path, dict(mapped.values), mapped.notes))
    log_notes("Lightroom settings", edits)
    return edits, skipped
