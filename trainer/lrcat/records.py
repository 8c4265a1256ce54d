"""Typed records the catalog reader returns (plain frozen dataclasses, no database handles inside)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "COCOA_EPOCH",
    "AsShotWhiteBalance",
    "Collection",
    "HistoryStep",
    "Photo",
    "cocoa_time",
    "parse_capture_time",
]

#: Lightroom's timestamps (``dateCreated``, ``touchTime``, ``modTime``) count seconds from 2001-01-01 UTC.
COCOA_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)


def cocoa_time(value: Any) -> datetime | None:
    """Seconds since :data:`COCOA_EPOCH` (int, float or numeric text) -> aware UTC datetime; else ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
        return COCOA_EPOCH + timedelta(seconds=seconds)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_capture_time(value: Any) -> datetime | None:
    """``Adobe_images.captureTime`` -> datetime.

    Lightroom writes ISO 8601 text (``2011-11-06T00:16:03.08``, sometimes with a UTC offset); the result
    is naive when the text has no offset (camera local time, as Lightroom shows it). Numbers are read as
    Cocoa-epoch seconds. Anything unreadable gives ``None``.
    """
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return cocoa_time(value)


@dataclass(frozen=True)
class HistoryStep:
    """One row of ``Adobe_libraryImageDevelopHistoryStep``.

    Attributes:
        id: ``id_local`` of the step.
        name: Lightroom's step name (``"Import (07/02/2012 22:58:22)"``, ``"Exposure"``, ``"Preset: ..."``).
        date: ``dateCreated`` as an aware UTC datetime (``None`` when missing).
        settings: the full develop settings after this step (``{}`` when the row has no text).
        value_string: ``valueString`` (the new value as Lightroom shows it), or ``None``.
        rel_value_string: ``relValueString`` (the change, e.g. ``"+0.50"``), or ``None``.
    """

    id: int
    name: str
    date: datetime | None
    settings: dict[str, Any] = field(repr=False)
    value_string: str | None = None
    rel_value_string: str | None = None


@dataclass(frozen=True)
class Collection:
    """One ``AgLibraryCollection`` row (a collection or a collection set).

    Attributes:
        id: ``id_local``.
        name: the collection's name (``"C"``).
        parent: ``id_local`` of the parent set, or ``None`` at the top level.
        path: names from the top level down, joined by ``/`` (``"Experts/C"``).
        kind: ``creationId`` (``com.adobe.ag.library.collection``, ``...group`` for a set, smart collections).
    """

    id: int
    name: str
    parent: int | None
    path: str
    kind: str


@dataclass(frozen=True)
class Photo:
    """One ``Adobe_images`` row with its file, develop settings, history and collections.

    Attributes:
        id: ``Adobe_images.id_local``.
        id_global: the image UUID.
        path: absolute path as the catalog records it (root folder + folder + base name + ``.`` +
            extension; forward slashes, possibly a Windows drive path), or ``None`` when the file row is
            missing.
        base_name: file name without extension (``"a0001-jmac_DSC1459"``).
        extension: file extension without the dot (``"dng"``).
        file_format: ``fileFormat`` (``RAW``, ``DNG``, ``JPG``, ...), or ``None``.
        capture_time: capture time (see :func:`parse_capture_time`), or ``None``.
        master_id: for a virtual copy, the ``id_local`` of its master image; ``None`` for a master.
        copy_name: the virtual copy's name (``copyName``), or ``None``.
        settings: current develop settings (parsed text; ``{}`` when the photo has none).
        settings_row: ``Adobe_imageDevelopSettings.id_local`` the settings were read from, or ``None``.
        history: develop history, oldest first (empty unless requested).
        collections: paths of the (non-smart) collections the photo is in, e.g. ``("Experts/C",)``.
    """

    id: int
    id_global: str
    path: str | None
    base_name: str
    extension: str
    file_format: str | None
    capture_time: datetime | None
    master_id: int | None
    copy_name: str | None
    settings: dict[str, Any] = field(repr=False)
    settings_row: int | None = None
    history: tuple[HistoryStep, ...] = field(default=(), repr=False)
    collections: tuple[str, ...] = ()

    @property
    def is_virtual_copy(self) -> bool:
        """Whether this row is a virtual copy of another image."""
        return self.master_id is not None

    @property
    def is_raw(self) -> bool:
        """Whether the file is a raw (``RAW`` or ``DNG``): absolute Temperature/Tint apply."""
        return (self.file_format or "").upper() in ("RAW", "DNG")

    @property
    def process_version(self) -> str | None:
        """``ProcessVersion`` of the current settings (``None`` in legacy rows that predate the key)."""
        pv = self.settings.get("ProcessVersion")
        return pv if isinstance(pv, str) else None


@dataclass(frozen=True)
class AsShotWhiteBalance:
    """A photo's as-shot white balance on Adobe's scale (satisfies ``backend.translate.lightroom.AsShot``).

    Attributes:
        kelvin: as-shot ``Temperature`` in kelvin.
        tint: as-shot ``Tint`` (Adobe units, + magenta).
        source: where it was found (``"image 41 settings"``, ``"image 40 history step 12"``, ``"given"``).
    """

    kelvin: float
    tint: float
    source: str = "given"
