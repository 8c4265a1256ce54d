"""An editor's selection as a folder: symbolic links to listed photo files (and their darktable sidecars).

The trainer reads folders (favourites, darktable edits); a selection in Lightroom or darktable is a list of
files from many folders. :func:`linked_folder` makes a folder of links to them, names made unique; it starts
afresh on every call, so a run folder reused by a later run never trains on an earlier run's selection. It marks
the folder with :data:`MARKER`, which also records what the user gave (:func:`selection_given`: the folders and
files as named, for the training record), and :func:`is_selection` recognises such a folder by that file only (a
user's own folder of links, whatever its name and links, is read as the user's folder; :func:`unmarked_selection`
tells one that an autoretouch before the marker linked, so that the trainer can warn).
:func:`darktable_selection` turns what ``train --darktable`` was given (folders, photos, a photo's sidecar, a
virtual copy's sidecar) into one list of photo files and virtual copies' sidecars.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.errors import AutoretouchError, NotFoundError
from trainer.data.darktable_copies import VirtualCopy, copy_named, copy_sidecars

__all__ = [
    "MARKER",
    "SelectionError",
    "darktable_selection",
    "is_selection",
    "link_target",
    "linked_folder",
    "selection_given",
    "unmarked_selection",
]

log = logging.getLogger(__name__)


class SelectionError(AutoretouchError):
    """A selection cannot be used as given: a listed path is not a photo, or the selection folder holds a user file.

    Attributes:
        path: the file concerned.
    """

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = Path(path)


#: The file :func:`linked_folder` writes into the folder it makes; :func:`is_selection` knows a selection by it.
MARKER = ".autoretouch-selection"
#: The version of :data:`MARKER`'s content; a marker of another version is not recognised.
_MARKER_VERSION = 1
#: What a selection was made for, by ``with_sidecars`` (:func:`linked_folder`), as :data:`MARKER` records it.
_MADE_FOR = {True: "darktable edits", False: "photos"}
#: The most bytes :func:`is_selection` reads of a marker: about 70, and the paths given (the daemon lists at most
#: 10,000 files: 8 MiB is 800 bytes a path). A list of paths given that would not fit is left out of the marker.
_MARKER_LIMIT = 8 << 20


def _mark(folder: Path, with_sidecars: bool, given: Sequence[str] | None = None) -> None:
    """Write :data:`MARKER` into ``folder`` atomically (a regular file; an earlier marker or a link there replaced).

    Content: ``{"autoretouch": "selection", "version": 1, "for": "darktable edits" | "photos", "given": [...]}``,
    ``"given"`` the paths the selection was made from as the user gave them (:func:`selection_given`), left out
    where none are given (``None``) or the marker would be over :data:`_MARKER_LIMIT` bytes with them.

    Raises:
        SelectionError: it cannot be written (a folder of that name is there, the folder is not writable).
        OutputError: the disk is full (or a quota or file-size limit is reached).
    """
    from backend.fsio import write_text_atomic

    content: dict[str, object] = {
        "autoretouch": "selection",
        "version": _MARKER_VERSION,
        "for": _MADE_FOR[with_sidecars],
    }
    text = json.dumps(content if given is None else {**content, "given": list(given)}) + "\n"
    if len(text) > _MARKER_LIMIT:  # (ASCII: json.dumps escapes the rest)
        text = json.dumps(content) + "\n"
    try:
        write_text_atomic(folder / MARKER, text)
    except IsADirectoryError as exc:
        raise SelectionError(folder / MARKER, "a folder of the user's is in the way; choose another --run-dir") from exc
    except OSError as exc:
        raise SelectionError(folder / MARKER, f"cannot write the selection's marker ({exc.strerror or exc})") from exc


def is_selection(folder: str | Path, *, with_sidecars: bool | None = None) -> bool:
    """Whether ``folder`` is a selection :func:`linked_folder` made: it holds its :data:`MARKER`.

    The marker must be a regular file (not a link), at most :data:`_MARKER_LIMIT` bytes, holding the JSON object
    :func:`_mark` writes, of this version (``"for"`` one of the known purposes; ``"given"``, where there, a list of
    paths). Anything else (no marker, a link, a folder, text that is not that JSON: deeply nested brackets, another
    version) means the folder is not one: a user's folder. Never raises.

    Args:
        folder: the folder.
        with_sidecars: the purpose asked for, as :func:`linked_folder` was given it (``True``: darktable edits,
            ``False``: photos); ``None``: either.
    """
    content = _marker(Path(folder))
    return content is not None and (with_sidecars is None or content["for"] == _MADE_FOR[with_sidecars])


def selection_given(folder: str | Path) -> list[str] | None:
    """What selection ``folder`` was made from, as the user gave it: folders, photos, sidecars (absolute paths).

    As its marker records it (:func:`linked_folder`'s ``given``), in the order given; ``None`` where ``folder`` is
    not a selection (:func:`is_selection`) or its marker lists nothing given (one written before markers listed
    it, or a list too long for :data:`_MARKER_LIMIT`). Never raises.
    """
    content = _marker(Path(folder))
    return None if content is None else content.get("given")


def _marker(folder: Path) -> dict[str, Any] | None:
    """The content of ``folder``'s :data:`MARKER` where it is one :func:`_mark` wrote (:func:`is_selection`)."""
    content = _marker_object(folder)
    if content is None or set(content) - {"given"} != {"autoretouch", "version", "for"}:
        return None
    version, given = content["version"], content.get("given", [])
    ok = (
        content["autoretouch"] == "selection"
        and type(version) is int
        and version == _MARKER_VERSION
        and content["for"] in _MADE_FOR.values()
        and isinstance(given, list)
        and all(isinstance(p, str) and os.path.isabs(p) for p in given)
    )
    return content if ok else None


def _marker_object(folder: Path) -> dict[str, Any] | None:
    """The JSON object in ``folder``'s :data:`MARKER` (a regular file, at most :data:`_MARKER_LIMIT` bytes), if any.

    Whatever its keys (:func:`_marker` checks them; :func:`_clear` asks only whether it is an autoretouch
    selection's marker, of any version). ``None`` for anything else. Never raises.
    """
    marker = folder / MARKER
    try:
        info = marker.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MARKER_LIMIT:
            return None
        text = marker.read_bytes().decode("utf-8").strip()
        content = json.loads(text) if text.startswith("{") and text.endswith("}") else None
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return content if isinstance(content, dict) else None


def unmarked_selection(folder: str | Path) -> bool:
    """Whether ``folder`` looks like a selection an autoretouch older than :data:`MARKER` linked, unmarked.

    Such a folder is named ``selection`` (its absolute path's last part: ``.`` inside it too, not a link to it
    named otherwise) and holds absolute links only (one at least; hidden files aside), as :func:`linked_folder`
    makes it, but no marker (:func:`is_selection`): it is read as a user's folder, and the trainer warns (a photo
    linked there without its sidecar learns every edit beside its own file, its virtual copies too). Never raises
    (an unreadable folder is not one).
    """
    root = Path(folder)
    try:
        if Path(os.path.abspath(root)).name != "selection" or os.path.lexists(root / MARKER):
            return False
        entries = [p for p in root.iterdir() if p.is_symlink() or not p.name.startswith(".")]
        return bool(entries) and all(p.is_symlink() and os.path.isabs(os.readlink(p)) for p in entries)
    except OSError:
        return False


def _clear(folder: Path) -> None:
    """Remove the links of an earlier selection from ``folder``; refuse if it holds anything else.

    Only symbolic links are removed (this module makes nothing else there but its :data:`MARKER`, which is kept,
    to be rewritten); a regular file or folder in it is the user's, so it is left alone and reported, except
    hidden ones (``.DS_Store``), which the photo listing skips anyway. A file or folder named :data:`MARKER` that
    is not a marker an autoretouch wrote (a JSON object with ``"autoretouch": "selection"``, of any version: one
    another version wrote is rewritten too, though :func:`is_selection` knows this version's only) is the user's
    too: refused, nothing removed.
    """
    marker = folder / MARKER
    ours = (_marker_object(folder) or {}).get("autoretouch") == "selection"
    if os.path.lexists(marker) and not marker.is_symlink() and not ours:
        what = "a folder" if marker.is_dir() else "a file"
        raise SelectionError(
            marker,
            f"{what} of the user's is in the way (not a selection marker autoretouch wrote); move it away or "
            "choose another --run-dir",
        )
    entries = sorted(p for p in folder.iterdir() if p.is_symlink() or not p.name.startswith("."))
    foreign = [p for p in entries if not p.is_symlink()]
    if foreign:
        raise SelectionError(
            foreign[0],
            "the selection folder holds a file that is not a link made by autoretouch; move it away or choose "
            "another --run-dir",
        )
    for link in entries:
        link.unlink()


def linked_folder(
    folder: Path, files: Sequence[str | Path], *, with_sidecars: bool, given: Sequence[str | Path] | None = None
) -> Path:
    """A folder of symbolic links to ``files`` (and, with ``with_sidecars``, each one's ``NAME.EXT.xmp``).

    The folder holds this selection only: the links of an earlier call (an earlier, perhaps interrupted, run in
    the same run folder) are removed first. It is marked as a selection (:data:`MARKER`, written before the links,
    :func:`is_selection`); the trainer reads it as one by that file only.

    Args:
        folder: the folder to create (its parents too) or to empty of its links.
        files: photo files; a name that repeats (same file name in two folders) gets ``-<index>`` before its
            extension. The same file listed twice is linked once. With ``with_sidecars`` also darktable virtual
            copies' sidecars (``NAME_NN.EXT.xmp``, :func:`darktable_selection`): each is linked beside its photo's
            link, as that link's copy (``LINK_NN.EXT.xmp``), the photo linked too (without its own sidecar
            unless listed); where that name is another file's (a photo ``LINK_NN.EXT``'s own sidecar), beside a
            further link of its photo. One whose photo is missing is linked as the copy of a photo name that no
            link has (the trainer names it), so that no photo of the selection takes it for its own copy.
        with_sidecars: also link each photo's darktable sidecar, under the link's name plus ``.xmp``.
        given: what the user gave (``--darktable DIR A.jpg``: not the folder's photos), for the training record
            (:func:`selection_given`: absolute, ``lib/../a.jpg`` as ``a.jpg``, each once); ``None``: ``files``.

    Returns:
        ``folder``.

    Raises:
        SelectionError: ``folder`` holds something that is not a symbolic link (a user's file is never removed), or
            a file or folder of the marker's name that is not a marker autoretouch wrote.
        OutputError: the disk is full as the marker is written.
    """
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise SelectionError(folder, "the selection folder is not a folder; choose another --run-dir")
    folder.mkdir(parents=True, exist_ok=True)
    _clear(folder)
    _mark(folder, with_sidecars, _as_given(files if given is None else given))
    used: set[str] = set()
    linked: dict[Path, str] = {}  # photo (resolved) -> its link's name

    def fresh(photo: Path, k: int) -> str:
        name = photo.name
        # IMG_1-2.jpg may be a photo's own name too, and IMG_1.JPG is img_1.jpg on a case-insensitive disk
        while name.casefold() in used:
            name, k = f"{photo.stem}-{k}{photo.suffix}", k + 1
        used.add(name.casefold())
        return name

    def link(photo: Path, k: int, own_sidecar: bool, present: bool = True) -> str:
        name = linked.get(photo.resolve())
        if name is None:
            name = linked[photo.resolve()] = fresh(photo, k)
            if present:  # a missing photo's name is only kept from the others (no photo takes its copies)
                (folder / name).symlink_to(photo)
            sidecar = photo.with_name(photo.name + ".xmp")
            if present and own_sidecar and sidecar.is_file():
                (folder / (name + ".xmp")).symlink_to(sidecar)
        return name

    def taken(path: Path, sidecar: Path) -> bool:  # another file's link, or the own sidecar's name of a photo's link
        if path.is_symlink():
            return path.resolve() != sidecar.resolve()  # the same file: a photo NAME_NN.EXT's too (darktable shares it)
        return path.name.removesuffix(".xmp").casefold() in used

    copies = [(i, Path(f).absolute()) for i, f in enumerate(files) if with_sidecars and Path(f).suffix == ".xmp"]
    for i, text in enumerate(files):
        if not (with_sidecars and Path(text).suffix == ".xmp"):
            link(Path(text).absolute(), i, with_sidecars)
    for i, sidecar in copies:
        copy = copy_named(sidecar)
        if copy is None:
            continue
        present, tail = copy.photo.is_file(), sidecar.name[len(copy.photo.stem) :]
        name = Path(link(copy.photo, i, False, present)).stem + tail
        while taken(folder / name, sidecar):  # the copy goes beside a link of its own to its photo
            stem = Path(fresh(copy.photo, i)).stem
            if present:
                (folder / (stem + copy.photo.suffix)).symlink_to(copy.photo)
            name = stem + tail
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(sidecar)
    return folder


def _as_given(paths: Sequence[str | Path]) -> list[str]:
    """``paths`` as :func:`_mark` records them: absolute, ``..`` taken out where that names the same file, each once."""
    out: dict[str, None] = {}
    for path in paths:
        full = str(Path(path).absolute())
        tidy = os.path.normpath(full)
        out[tidy if tidy == full or os.path.realpath(tidy) == os.path.realpath(full) else full] = None
    return list(out)


def link_target(path: Path) -> Path:
    """The user's own file behind a link of a selection folder (for messages); ``path`` itself when not a link."""
    if not path.is_symlink():
        return path
    target = Path(os.readlink(path))
    return target if target.is_absolute() else path.parent / target


def darktable_selection(paths: Sequence[Path]) -> list[Path]:
    """The photo files of ``train --darktable DIR_OR_PHOTO...``: each folder's photos, each photo given.

    A darktable sidecar given in place of its photo (``IMG.jpg.xmp``) stands for that photo (``IMG.jpg``) when
    the photo is there. A virtual copy's sidecar (``IMG_01.jpg.xmp``, :func:`_given_sidecar`) stands for that
    copy, listed as the sidecar itself; a folder's photos come with their copies' sidecars (a photo given alone
    stands for its own edit only: darktable's selection names copies apart). Listed once each, in the order
    given (a folder's sorted by name); a file given twice (a folder of the user's links and the folder of the
    files they link to) is listed as the path with its sidecar beside it, else as the one that is not a link
    (:func:`_rank`), whatever the order (a sidecar of its own beside the path left out, another file, is logged).

    Args:
        paths: folders and photo files, as typed.

    Returns:
        the photo files and virtual copies' sidecars (absolute paths).

    Raises:
        NotFoundError: a path does not exist, or a folder holds no photo.
        SelectionError: a path is neither a folder nor a photo (a sidecar whose photo is missing, a text file),
            or only copies' sidecars whose photos are missing are given.
    """
    from backend.batch.walk import is_photo_file
    from trainer.data.folders import list_photos

    photos: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            listed = [p.absolute() for p in list_photos(path, several=True)]
            names = {p.name for p in path.iterdir()}
            photos += [q for p in listed for q in (p, *(c.sidecar for c in copy_sidecars(p, names)))]
        elif not path.is_file():
            missing.append(str(path))
        elif path.suffix.lower() == ".xmp":
            photos.append(_given_sidecar(path).absolute())
        elif is_photo_file(path, explicit=True):
            photos.append(path.absolute())
        else:
            raise SelectionError(path, "not a photo (nor a folder of photos)")
    if missing:
        raise NotFoundError(f"--darktable: no such folder or photo file: {', '.join(missing[:5])}")
    lone = [copy for p in photos if (copy := _lone_copy(p)) is not None]
    if photos and len(lone) == len(photos):  # named by the copy's photo: IMG.jpg for IMG_01.jpg.xmp
        raise SelectionError(photos[0], _NO_COPY_PHOTO.format(photo=lone[0].photo.name))
    unique: dict[Path, Path] = {}
    for p in photos:  # the same file given twice: the one with its sidecar (a link in a folder of links has none)
        key = p.resolve()
        kept = unique.setdefault(key, p)
        if kept == p:
            continue
        if _rank(p) > _rank(kept):
            unique[key], p = p, kept  # in the place of the first given; p: the one left out
        _warn_left_out(p, unique[key])
    return list(unique.values())


def _warn_left_out(dropped: Path, kept: Path) -> None:
    """Log the sidecar of ``dropped``, the same file as ``kept``, not linked: a sidecar of its own, not ``kept``'s."""
    mine, theirs = dropped.with_name(dropped.name + ".xmp"), kept.with_name(kept.name + ".xmp")
    if mine.is_file() and not (theirs.is_file() and mine.resolve() == theirs.resolve()):
        log.warning("%s: not learnt from: %s, the same photo, is given too and read with its own sidecar", mine, kept)


def _rank(path: Path) -> tuple[bool, bool]:
    """Which of two paths to the same file :func:`darktable_selection` keeps: the higher (a tie keeps the first).

    One with its darktable sidecar beside it (``NAME.xmp``: ``links/a.png -> lib/a.png`` has none, ``lib/a.png``
    has ``lib/a.png.xmp``), so that the edit is linked whichever is given first; then one that is not a link.
    """
    return path.with_name(path.name + ".xmp").is_file(), not path.is_symlink()


#: A sidecar given whose photo is not beside it.
_NO_PHOTO = "not a photo: a darktable sidecar, and its photo {photo} is not beside it; pass the photo"
#: Only virtual copies' sidecars given, and their photo is not beside them. Worded unlike :data:`_NO_PHOTO`, which an
#: autoretouch too old to learn from copies printed for a copy's sidecar (the darktable plug-in tells them apart).
_NO_COPY_PHOTO = "a darktable virtual copy's sidecar, and its photo {photo} is not there; the photo is needed beside it"


def _given_sidecar(path: Path) -> Path:
    """What a darktable sidecar given to ``train --darktable`` stands for: its photo, or a virtual copy (itself).

    ``IMG_01.jpg.xmp`` is virtual copy 1 of ``IMG.jpg`` when that photo is there, unless a file ``IMG_01.jpg`` is
    there too and the sidecar does not name ``IMG.jpg`` as its image (``xmpMM:DerivedFrom``; then it is
    ``IMG_01.jpg``'s, as :func:`backend.sidecar.apply.copy_conflict` reads it). A copy's sidecar whose photo is
    missing (nor ``IMG_01.jpg`` there) is returned as it is, so that the trainer names it and goes on.

    Raises:
        SelectionError: a sidecar that is no copy's and whose photo is missing.
    """
    from backend.errors import SidecarError
    from backend.sidecar.darktable_doc import derived_from
    from backend.sidecar.xmp import read_sidecar_readonly

    photo = path.with_name(path.name[: -len(path.suffix)])
    copy = copy_named(path)
    if copy is None:
        if not photo.is_file():
            raise SelectionError(path, _NO_PHOTO.format(photo=photo.name))
        return photo
    if not photo.is_file():
        return path  # a copy's, its photo there or not
    if not copy.photo.is_file():
        return photo
    try:
        owner = derived_from(read_sidecar_readonly(path))
    except SidecarError:
        owner = None
    return path if owner == copy.photo.name else photo


def _lone_copy(path: Path) -> VirtualCopy | None:
    """The virtual copy whose sidecar ``path`` is (listed by :func:`darktable_selection`), if its photo is missing.

    Returns:
        The copy (its photo named by :func:`copy_named`: ``IMG.jpg`` for ``IMG_01.jpg.xmp``), or ``None``.
    """
    copy = copy_named(path) if path.suffix == ".xmp" else None
    return copy if copy is not None and not copy.photo.is_file() else None
