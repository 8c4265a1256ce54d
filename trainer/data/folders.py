"""Photo folders -> cached square crops (linear Rec.2020 tensors), decoded with ``decode_preview``.

The agent sees a photo at inference as the *whole* frame squeezed to a square thumbnail
(:func:`backend.agent.thumbnail.make_thumbnail`, area average in linear light), so training uses the same
geometry: every photo gives ``crops_per_image`` views squeezed to ``cache_size`` x ``cache_size``: the first is
the whole frame, the others random rectangles covering 60-100 % of the width and of the height. Training cuts
random ``thumb``-sized crops (with flips) out of those (Exposure: 64 out of 80). Each photo also gives the whole
frame squeezed to ``eval_size`` for evaluation and the contact sheet.

Photos that fail to decode are skipped with a warning naming the file (the run keeps going); a folder
without a single readable photo is an error.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from backend.agent.thumbnail import PREVIEW_LONG_SIDE, make_thumbnail
from backend.decode import RAW_EXTENSIONS, decode_preview
from backend.errors import DecodeError, NotFoundError
from backend.fsio import file_sha256
from trainer.summary_lines import counted

__all__ = [
    "MIN_PHOTO_SIDE",
    "PHOTO_EXTENSIONS",
    "CroppedPhotos",
    "SubfolderScan",
    "crop_photo",
    "decode_long_side",
    "list_photos",
    "load_folder",
    "photo_subfolders",
    "unique_folder_photos",
    "unique_photos",
    "unread_subfolders_note",
]

log = logging.getLogger(__name__)


def decode_long_side(cache_size: int, eval_size: int) -> int:
    """The long side, in pixels, a training photo (favourite, source or pair) is decoded at.

    The preview size, or twice the larger of the crop cache and the check size when that is more, so that crops
    and check images are taken from at least twice their size.
    """
    return max(PREVIEW_LONG_SIDE, 2 * max(cache_size, eval_size))


#: The smallest shorter side, in pixels after decoding at the preview size, of a favourite the trainer learns
#: from: the smallest agent thumbnail the configuration allows (``agent.thumb >= 16``). Smaller photos (a 1x1
#: PNG, an 8x8000 sliver) are skipped and named.
MIN_PHOTO_SIDE = 16

#: File extensions (lower case, no dot) treated as photos when scanning a folder.
PHOTO_EXTENSIONS: frozenset[str] = frozenset({"jpg", "jpeg", "png", "tif", "tiff"} | set(RAW_EXTENSIONS))


@dataclass(frozen=True)
class CroppedPhotos:
    """Cached crops of a set of photos.

    Attributes:
        crops: ``(P, K, 3, cache_size, cache_size)`` float32 linear Rec.2020 (K views per photo).
        evals: ``(P, 3, eval_size, eval_size)`` float32 linear Rec.2020 whole frames.
        names: the P file names (relative to their folder).
        too_small: the photos skipped as too small (``"NAME (WxH)"``, see :func:`load_folder`'s ``min_side``).
        unreadable: the photos skipped as undecodable (``"NAME (why)"``: an empty file, a truncated JPEG ...).
    """

    crops: Tensor
    evals: Tensor
    names: tuple[str, ...]
    too_small: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()


def list_photos(folder: str | Path, max_images: int = 0, *, several: bool = False) -> list[Path]:
    """Photo files directly inside ``folder`` (sorted by name; hidden files skipped).

    Entries with a photo's extension that are not readable files (a symbolic link that leads nowhere or loops, a
    folder) are skipped with a warning naming them; the "no photos" error names them too. Subfolders are not read:
    where ``folder`` holds no photo of its own but its subfolders do (:func:`photo_subfolders`), the error names
    them (the first :data:`SUBFOLDERS_SHOWN`, the rest counted).

    Args:
        folder: the folder to scan (not recursive).
        max_images: keep at most this many (0 = all).
        several: the option takes several folders (``--darktable``): the error suggests giving several.

    Raises:
        NotFoundError: ``folder`` is not a directory (a file: "is a file, not a folder"), or holds no photo file.
    """
    root = Path(folder)
    if not root.is_dir():
        if root.exists():
            raise NotFoundError(f"{root}: is a file, not a folder (give the folder that holds the photos)")
        raise NotFoundError(f"{root}: no such folder")
    files: list[Path] = []
    unusable: list[Path] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or p.suffix.lower().lstrip(".") not in PHOTO_EXTENSIONS:
            continue
        (files if p.is_file() else unusable).append(p)
    if unusable:
        log.warning("skipping %s", _unusable_text(unusable))
    if max_images > 0:
        files = files[:max_images]
    if not files:
        skipped = f"; skipped {_unusable_text(unusable)}" if unusable else ""
        below = photo_subfolders(root)
        if below:  # a folder of dated film rolls: say why its photos are not seen, and what to give instead
            raise NotFoundError(
                f"{root}: no photo in this folder; its subfolders are not read ({_names_text(below)}): give a "
                f"subfolder{', or several folders' if several else ''}{skipped}"
            )
        raise NotFoundError(
            f"{root}: no photos (extensions {', '.join(sorted(PHOTO_EXTENSIONS)[:6])}, raws ...){skipped}"
        )
    return files


#: How many subfolders :func:`list_photos`'s error and :func:`unread_subfolders_note` name (the rest are counted).
SUBFOLDERS_SHOWN = 4

#: How deep below a subfolder :func:`photo_subfolders` looks for a photo (``2024/05/01/IMG.jpg``: 2 below ``2024``).
_SUBFOLDER_DEPTH = 3

#: How many folders :func:`photo_subfolders` lists at most below one subfolder before giving up on it.
_SUBFOLDER_VISITS = 64

#: How many folder listings one :func:`photo_subfolders` call makes at most, its folder's own included (about 0.1 s
#: on a local disk, warm; each costs a round trip on a network share). Subfolders not looked at by then are not named.
_SCAN_LISTINGS = 1000


class SubfolderScan:
    """The folder listings of a search for unread subfolders, at most :data:`_SCAN_LISTINGS` of them.

    One per :func:`photo_subfolders` call, or one shared by the calls for all the folders of one training
    (:func:`trainer.data.given.unread_subfolders`), so that many folders given cost no more listings than one. A
    folder is listed once: its listing is kept, and asking for it again is free.

    Attributes:
        left: the listings it may still make.
        made: the listings it has made.
    """

    def __init__(self) -> None:
        self.left = _SCAN_LISTINGS
        self.made = 0
        self._listed: dict[str, list[os.DirEntry[str]]] = {}

    def listed(self, folder: str) -> bool:
        """Whether ``folder``'s listing is kept (:meth:`entries` of it is free)."""
        return folder in self._listed

    def entries(self, folder: str) -> list[os.DirEntry[str]]:
        """The entries of ``folder`` that are not hidden, sorted by name (one listing of the budget, the first time).

        Empty where ``folder`` cannot be listed (a folder the user cannot open, ``lost+found``, counts as empty) or
        the budget is spent.
        """
        if folder in self._listed:
            return self._listed[folder]
        if self.left <= 0:
            return []
        self.left -= 1
        self.made += 1
        try:
            with os.scandir(folder) as listing:
                found = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            found = []
        self._listed[folder] = found
        return found


def _is_dir(entry: os.DirEntry[str], *, links: bool = True) -> bool:
    """Whether ``entry`` is a folder (``links``: a symbolic link to one counts); ``False`` where that cannot be told."""
    try:
        return entry.is_dir() and (links or not entry.is_symlink())
    except OSError:
        return False


def photo_subfolders(folder: str | Path, *, scan: SubfolderScan | None = None) -> list[Path]:
    """The subfolders directly inside ``folder`` that hold photos, which training does not read (sorted by name).

    Training reads the photos directly inside the folder given (:func:`list_photos`, not recursive); this names the
    subfolders it leaves unread, for the "no photo" error and the run's notes. A subfolder counts where a photo file
    (:data:`PHOTO_EXTENSIONS`, not hidden) lies in it or up to :data:`_SUBFOLDER_DEPTH` folders below it (film rolls
    in dated folders: ``2024/2024-05-01``). Not named: hidden folders (``.name``), autoretouch's run folders (a
    folder whose listing holds a ``config.toml`` file, or a ``runs`` folder of them), folders that cannot be opened
    (a root-owned ``lost+found``), and a symbolic link to ``folder`` itself, to a folder above it (``self -> .``,
    ``up -> ..``) or into a subfolder named already (``latest -> 2024``); a link to another folder is followed at
    this level only (below it, no link is followed). The search of a subfolder stops at its first photo and gives
    it up after :data:`_SUBFOLDER_VISITS` listings (a ``runs`` folder's look into its subfolders included); the
    whole call (or ``scan``) makes at most :data:`_SCAN_LISTINGS` listings, each folder listed once (what a folder
    holds, its ``config.toml`` included, is told from its listing: no further look per entry), and the subfolders
    not looked at by then are not named.

    Args:
        folder: the folder given to training.
        scan: the listings to share with other calls (their budget and the folders listed); a new one if ``None``.

    Returns:
        The subfolders (``folder / name``), ``[]`` when there are none (or ``folder`` cannot be listed).
    """
    scan = scan if scan is not None else SubfolderScan()
    root = Path(folder)
    try:
        real = root.resolve()
        above: set[Path] | None = {real, *real.parents}
    except (OSError, RuntimeError):  # a loop of links on the way: no link below is followed
        real, above = root, None
    children = [c for c in scan.entries(os.fspath(root)) if _is_dir(c)]
    found: list[str] = []
    for child in (c for c in children if _is_dir(c, links=False)):  # the subfolders themselves first
        if scan.left > 0 and _holds_photo(child.path, scan):
            found.append(child.name)
    named = [real / name for name in found]  # (not links: their real paths)
    for child in (c for c in children if not _is_dir(c, links=False)):  # then the links to folders
        if scan.left > 0 and not _leads_to(child.path, above, named) and _holds_photo(child.path, scan):
            found.append(child.name)
    return [root / name for name in sorted(found)]


def _leads_to(link: str, folders: set[Path] | None, within: Sequence[Path]) -> bool:
    """Whether symbolic link ``link`` resolves to one of ``folders`` or into one of ``within``.

    ``True`` where it or ``folders`` cannot be resolved (``folders`` is ``None``).
    """
    if folders is None:
        return True
    try:
        target = Path(link).resolve()
    except (OSError, RuntimeError):
        return True
    return target in folders or any(target.is_relative_to(f) for f in within)


def _is_run_listing(entries: Sequence[os.DirEntry[str]]) -> bool:
    """Whether a folder listed as ``entries`` is one of autoretouch's run folders (a ``config.toml`` file among them)."""
    return any(e.name == "config.toml" and _is_file(e) for e in entries)


def _holds_photo(folder: str, scan: SubfolderScan) -> bool:
    """Whether a photo file lies in ``folder`` or in a (not hidden) folder up to :data:`_SUBFOLDER_DEPTH` below it.

    A run folder (:func:`_is_run_listing`) holds none, nor a ``runs`` folder with one among its subfolders; each is
    told from listings of the budget (a run folder's own: the one the search makes anyway). The search makes at
    most :data:`_SUBFOLDER_VISITS` listings (a folder listed already costs none).
    """
    limit = scan.made + _SUBFOLDER_VISITS
    todo = deque([(folder, 0)])
    while todo and scan.left > 0:
        here, depth = todo.popleft()
        if scan.made >= limit and not scan.listed(here):
            break
        entries = scan.entries(here)
        if _is_run_listing(entries):
            continue
        subfolders = [e for e in entries if _is_dir(e, links=False)]
        if os.path.basename(here) == "runs" and _holds_run(subfolders, scan, limit):
            continue
        if any(_is_photo(e) for e in entries):
            return True
        if depth < _SUBFOLDER_DEPTH:
            todo.extend((e.path, depth + 1) for e in subfolders)
    return False


def _holds_run(subfolders: Sequence[os.DirEntry[str]], scan: SubfolderScan, limit: int) -> bool:
    """Whether one of ``subfolders`` is a run folder, looking into them until ``scan`` has made ``limit`` listings.

    Their listings are kept (:class:`SubfolderScan`): the search that goes on below a user's own ``runs`` folder
    lists none of them twice.
    """
    for entry in subfolders:
        if scan.made >= limit and not scan.listed(entry.path):
            return False
        if _is_run_listing(scan.entries(entry.path)):
            return True
    return False


def _is_photo(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a photo file by its name (:data:`PHOTO_EXTENSIONS`) and kind."""
    return os.path.splitext(entry.name)[1].lower().lstrip(".") in PHOTO_EXTENSIONS and _is_file(entry)


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a file (a symbolic link to one counts); ``False`` where that cannot be told."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _names_text(paths: Sequence[Path], *, whole: bool = False) -> str:
    """``"2024-05-01, 2024-05-02, 2024-05-03, 2024-05-04 and 3 more"``: the first :data:`SUBFOLDERS_SHOWN`.

    ``whole``: each named by its whole path, not its name.
    """
    names = [str(p) if whole else p.name for p in paths[:SUBFOLDERS_SHOWN]]
    more = f" and {len(paths) - SUBFOLDERS_SHOWN} more" if len(paths) > SUBFOLDERS_SHOWN else ""
    return ", ".join(names) + more


def unread_subfolders_note(subfolders: Sequence[str | Path]) -> str | None:
    """The run's note on the subfolders with photos that training did not read, or ``None`` where there are none.

    Args:
        subfolders: the subfolders (:func:`photo_subfolders` of each folder given), as the summary records them.

    Returns:
        ``"2 subfolders with photos not read (training reads the photos directly in each folder given): ..."``.
    """
    if not subfolders:
        return None
    shown = _names_text([Path(s) for s in subfolders], whole=True)
    return (
        f"{counted(len(subfolders), 'subfolder')} with photos not read (training reads the photos directly in "
        f"each folder given): {shown}"
    )


def _unusable_text(paths: Sequence[Path]) -> str:
    """``"2 entries that are not readable files: a.png (a symbolic link that leads nowhere or loops), ..."``."""
    names = [
        f"{p.name} ({'a symbolic link that leads nowhere or loops' if p.is_symlink() else 'not a regular file'})"
        for p in paths[:10]
    ]
    more = f" and {len(paths) - 10} more" if len(paths) > 10 else ""
    return f"{len(paths)} entries that are not readable files: {', '.join(names)}{more}"


def unique_photos(files: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """``files`` without duplicates: the same file reached twice (a symbolic link, a hard link) or a byte copy.

    Duplicates are found by real path (:func:`os.path.realpath`), then by the sha256 of the file's bytes; the
    first in ``files``' order is kept. A twin used twice would weigh double, and one could be held out while
    the other trains, inflating the held-out check. A file that cannot be read is kept (its decoding reports it).
    Only files whose size another file shares are hashed (a byte copy has its original's size); when a file
    cannot be looked at (:func:`os.stat` fails), every file is hashed.

    Returns:
        ``(the files kept, one "NAME (same as OTHER)" per file dropped)``.
    """
    reals = [os.path.realpath(path) for path in files]
    same_size = _same_size_files(files, reals)
    kept: list[Path] = []
    dropped: list[str] = []
    by_real: dict[str, Path] = {}
    by_hash: dict[str, Path] = {}
    for path, real in zip(files, reals, strict=True):
        twin = by_real.get(real)
        digest = None
        if twin is None and (same_size is None or real in same_size):
            digest = file_sha256(path)
            twin = by_hash.get(digest) if digest is not None else None
        if twin is not None:
            how = "the same file" if os.path.realpath(twin) == real else "the same bytes"
            dropped.append(f"{path.name} ({how} as {twin.name})")
            continue
        by_real[real] = path
        if digest is not None:
            by_hash[digest] = path
        kept.append(path)
    return kept, dropped


def _same_size_files(files: Sequence[Path], reals: Sequence[str]) -> set[str] | None:
    """The real paths of the files whose size another file (another real path) shares; None when a stat fails."""
    by_size: dict[int, set[str]] = {}
    for path, real in zip(files, reals, strict=True):
        try:
            size = os.stat(path).st_size
        except OSError:
            return None
        by_size.setdefault(size, set()).add(real)
    return {real for group in by_size.values() if len(group) > 1 for real in group}


def unique_folder_photos(
    folder: str | Path, max_images: int, what: str, *, prefix: str, logger: logging.Logger | None = None
) -> tuple[list[Path], list[str]]:
    """The photos of ``folder`` (:func:`list_photos`) without duplicates (:func:`unique_photos`), then capped.

    Args:
        folder: the folder of photos.
        max_images: keep at most this many (after dropping duplicates; 0: all).
        what: what the photos are, for the warning (``"favourites"``, ``"sources"``).
        prefix: the warning's prefix (``"data"``, ``"restore"``).
        logger: where the warning goes (default: this module's logger).

    Returns:
        ``(the files kept, one "NAME (same as OTHER)" per file dropped)``.
    """
    files, dropped = unique_photos(list_photos(folder, 0))
    if dropped:
        (logger or log).warning("%s: %d duplicate %s dropped: %s", prefix, len(dropped), what, ", ".join(dropped))
    return files[:max_images] if max_images > 0 else files, dropped


def crop_photo(
    image: Tensor, *, cache_size: int, eval_size: int, crops: int, rng: np.random.Generator
) -> tuple[Tensor, Tensor]:
    """Squeezed square views of one photo.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020 (or several images stacked on the channel axis,
            ``(1, 3k, H, W)``: every one gets the same views).
        cache_size: side of the training views in pixels.
        eval_size: side of the evaluation view in pixels.
        crops: number of training views (the first is the whole frame).
        rng: random source for the extra views.

    Returns:
        (``(crops, C, cache_size, cache_size)``, ``(C, eval_size, eval_size)``) float32 linear Rec.2020, ``C`` the
        channels of ``image``.
    """
    img = image.reshape(1, -1, *image.shape[-2:]).float()
    h, w = img.shape[-2:]
    out = [make_thumbnail(img, cache_size)]
    for _ in range(crops - 1):
        ch = max(1, round(h * rng.uniform(0.6, 1.0)))
        cw = max(1, round(w * rng.uniform(0.6, 1.0)))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        out.append(make_thumbnail(img[..., y : y + ch, x : x + cw], cache_size))
    return torch.cat(out).contiguous(), make_thumbnail(img, eval_size)[0].contiguous()


def load_folder(
    files: Sequence[Path], *, cache_size: int, eval_size: int, crops: int, seed: int, min_side: int = 0
) -> CroppedPhotos:
    """Decode photos with ``decode_preview`` and cut their crops.

    Args:
        files: photo files.
        cache_size: side of the training crops.
        eval_size: side of the evaluation crops.
        crops: training crops per photo.
        seed: seed of the random crop positions (photo ``i`` uses ``seed + i``: independent of the others).
        min_side: skip photos whose shorter side, decoded at the preview size, is under this many pixels
            (:data:`MIN_PHOTO_SIDE`: a 1x1 PNG, an 8x8000 sliver), with a warning naming them; they are listed
            in the result's ``too_small`` (0: keep every photo).

    Raises:
        NotFoundError: none of the files could be decoded.
    """
    long_side = decode_long_side(cache_size, eval_size)
    all_crops: list[Tensor] = []
    evals: list[Tensor] = []
    names: list[str] = []
    too_small: list[str] = []
    unreadable: list[str] = []
    for i, path in enumerate(files):
        try:
            decoded = decode_preview(path, long_side=long_side)
        except DecodeError as exc:
            log.warning("skipping %s: %s", path, exc.reason)
            unreadable.append(f"{path.name} ({exc.reason})")
            continue
        h, w = decoded.image.shape[-2:]
        if min(h, w) < min_side:
            log.warning("skipping %s: %dx%d pixels, too small to learn from (under %d a side)", path, w, h, min_side)
            too_small.append(f"{path.name} ({w}x{h})")
            continue
        rng = np.random.default_rng(seed + i)
        train, ev = crop_photo(decoded.image, cache_size=cache_size, eval_size=eval_size, crops=crops, rng=rng)
        all_crops.append(train)
        evals.append(ev)
        names.append(path.name)
    if not names:
        folder = files[0].parent if files else Path(".")
        none = "the only photo" if len(files) == 1 else f"none of the {counted(len(files), 'photo')}"
        could = "could not" if len(files) == 1 else "could"
        if too_small:
            small = "too small" if len(files) == 1 else f"{len(too_small)} too small"
            raise NotFoundError(
                f"{folder}: {none} {could} be used ({small} to learn from, under {min_side} pixels a side: "
                f"{', '.join(too_small)})"
            )
        raise NotFoundError(f"{folder}: {none} {could} be decoded")
    return CroppedPhotos(
        crops=torch.stack(all_crops),
        evals=torch.stack(evals),
        names=tuple(names),
        too_small=tuple(too_small),
        unreadable=tuple(unreadable),
    )
