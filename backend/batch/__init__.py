"""The batch behind ``autoretouch catalog``: a style's suggestions into the sidecars of many photos.

Whole folders, or the photos a Lightroom catalog lists. (Named ``batch``, not ``catalog``: in this project "catalog" is the slider catalog, ``backend/sliders/catalog.py``,
and a Lightroom catalog is an ``.lrcat`` file.)

Public API (used by ``autoretouch catalog`` and the daemon's WriteSidecars):

* :func:`run_batch` (:mod:`backend.batch.batch`) -> :class:`BatchSummary` of :class:`PhotoOutcome`;
* :func:`select_photos` (what a batch covers), :func:`find_photos` (folder walk) and :func:`list_catalog_files` (Lightroom catalog listing, read-only);
* the journal that makes a batch resumable (:mod:`backend.batch.journal`).
"""

from __future__ import annotations

from backend.batch.batch import Selection, default_jobs, run_batch, select_photos
from backend.batch.journal import DEFAULT_JOURNAL_NAME, Journal, JournalError, default_journal_path
from backend.batch.lrcat_paths import CatalogFile, LightroomCatalogError, list_catalog_files
from backend.batch.results import ALREADY_DONE, TAKEN_OUT, BatchSummary, ErrorKind, PhotoOutcome
from backend.batch.walk import find_photos, is_photo_file

__all__ = [
    "ALREADY_DONE",
    "DEFAULT_JOURNAL_NAME",
    "TAKEN_OUT",
    "BatchSummary",
    "CatalogFile",
    "ErrorKind",
    "Journal",
    "JournalError",
    "LightroomCatalogError",
    "PhotoOutcome",
    "Selection",
    "default_jobs",
    "default_journal_path",
    "find_photos",
    "is_photo_file",
    "list_catalog_files",
    "run_batch",
    "select_photos",
]
