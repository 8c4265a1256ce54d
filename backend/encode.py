"""Write rendered images: linear Rec.2020 tensors -> sRGB JPEG, PNG or TIFF files (atomic writes).

Colour: linear Rec.2020 -> linear sRGB with :data:`backend.render.color.REC2020_TO_SRGB`, hard clip to
[0, 1] (out-of-gamut colours are clipped per channel, no gamut mapping), sRGB transfer function, then
quantised with rounding. JPEGs use 4:4:4 chroma at quality >= 90 (4:2:0 below). Every file embeds an sRGB ICC profile (v2, matrix/TRC, built by
:func:`backend.decode.icc.srgb_icc_profile`): TIFF through tag 34675, PNG as an ``iCCP`` chunk right
after IHDR, JPEG as an ``ICC_PROFILE`` APP2 segment after the JFIF header.

Every file is marked as autoretouch's own in its "Software" field: the TIFF ``Software`` tag (305), a PNG ``tEXt``
chunk with the keyword ``Software``, and in a JPEG a minimal EXIF APP1 segment whose IFD0 holds that one ``Software``
tag. A render (``photo=`` given to :func:`write_image`) is marked with which photo it came from, when it was
written and its size in bytes::

    autoretouch 0.1.0 (photo 3f9a0c1d2e4b-9a8b7c6d, written 2025-12-07T10:24:31.123456Z, 123456 bytes)

``photo`` is :func:`photo_id`: a hash of the photo's resolved path, then a hash of its size and modification time (no
path is stored in clear); the time is UTC and the file's modification time is set to it. Other files carry the
bare :data:`SOFTWARE` (``"autoretouch <version>"``, as every file did in the first marked version).
:func:`check_replaceable` reads the mark back so that ``render`` replaces its own unchanged render of the same photo
but no other file (:func:`read_mark` reads only headers, a bounded number of bytes). No other metadata is written
(no camera, date, copyright or GPS; pixels are upright, so no orientation tag is needed).

Writes are atomic: the encoded file goes to a hidden temporary file in the target folder, is fsync'ed,
and replaces the target with :func:`os.replace`; on failure the temporary file is removed and the
target is untouched. With an :class:`OutputGuard` the last step replaces only the file that was checked, and never
one that appeared or changed since (see :func:`write_image`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import stat
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
import torch

from backend import __version__
from backend.decode.icc import srgb_icc_profile
from backend.errors import (
    ImageTooLargeError,
    NotFoundError,
    OutputExistsError,
    PermissionDeniedError,
    UnsupportedFormatError,
)
from backend.fsio import fsync_folder, replacing
from backend.render.color import REC2020_TO_SRGB

__all__ = [
    "MTIME_TOLERANCE_S",
    "SOFTWARE",
    "FileState",
    "Mark",
    "OutputGuard",
    "check_replaceable",
    "check_size",
    "file_state",
    "max_side",
    "photo_id",
    "read_mark",
    "srgb_planes",
    "to_srgb8",
    "write_image",
    "written_by_autoretouch",
]

#: The bare mark (see the module docstring): what every file's "Software" starts with, and all that files written
#: without a ``photo`` (and every file of the first marked version) carry.
SOFTWARE = f"autoretouch {__version__}"
#: What a "Software" value of one of our files starts with (any version).
_MARK = b"autoretouch "
#: TIFF/EXIF tag "Software".
_TAG_SOFTWARE = 305
#: Most seconds a render's modification time may lie from the time its mark says it was written before it counts
#: as changed since (FAT keeps times to 2 s; the time is set exactly where the file system allows).
MTIME_TOLERANCE_S = 2.0
#: Bounds of reading a mark: longest "Software" value (bytes), most JPEG segments / PNG chunks before it, most
#: entries of a TIFF IFD0.
_MAX_MARK_BYTES = 1024
_MAX_SEGMENTS = 256
_MAX_ENTRIES = 4096
#: A full mark (see the module docstring); a value that starts with ``autoretouch `` but does not match is a bare one.
_FULL_MARK = re.compile(
    rb"autoretouch (?P<version>[^ ()]+) \(photo (?P<photo>[0-9a-f]{12}-[0-9a-f]{8}), "
    rb"written (?P<written>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z, (?P<size>\d{1,20}) bytes\)"
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_FORMATS: dict[str, tuple[str, tuple[int, ...], int]] = {
    # extension -> (format, allowed bit depths, default bit depth)
    ".jpg": ("jpeg", (8,), 8),
    ".jpeg": ("jpeg", (8,), 8),
    ".png": ("png", (8, 16), 8),
    ".tif": ("tiff", (8, 16), 16),
    ".tiff": ("tiff", (8, 16), 16),
}

#: Largest width or height (pixels) each format holds, as our encoders write it: JPEG's 16-bit frame size less
#: libjpeg's margin (OpenCV refuses more than 65,500), libpng's default user limit of 1,000,000 a side (OpenCV
#: keeps it), TIFF's 32-bit image width and length (tifffile switches to BigTIFF past 4 GiB by itself).
_MAX_SIDE: dict[str, int] = {"jpeg": 65_500, "png": 1_000_000, "tiff": 2**32 - 1}

#: JPEG quality from which chroma is kept at full resolution (4:4:4) instead of 4:2:0.
_FULL_CHROMA_QUALITY = 90


@functools.lru_cache(maxsize=1)
def _icc() -> bytes:
    return srgb_icc_profile()


def max_side(path: str | Path) -> int:
    """The largest width or height, in pixels, that the format chosen by ``path``'s extension can hold.

    Args:
        path: an output file name (``.jpg``/``.jpeg``: 65,500; ``.png``: 1,000,000; ``.tif``/``.tiff``: 2**32 - 1).

    Raises:
        UnsupportedFormatError: an extension :func:`write_image` does not write.
    """
    ext = Path(path).suffix.lower()
    if ext not in _FORMATS:
        raise UnsupportedFormatError(path, f"cannot write {ext or 'files without extension'}; use .jpg, .png or .tif")
    return _MAX_SIDE[_FORMATS[ext][0]]


def check_size(output: str | Path, width: int, height: int, *, where: str | Path | None = None, hint: str = "") -> None:
    """Refuse an image wider or taller than the format chosen by ``output``'s extension holds (:func:`max_side`).

    Args:
        output: the output file name; its extension picks the format.
        width: the image's width, in pixels.
        height: its height.
        where: the file the error names (default: ``output``), e.g. the photo a render comes from.
        hint: appended to the error's reason as it is (e.g. ``"; write a TIFF ..."``).

    Raises:
        UnsupportedFormatError: an extension :func:`write_image` does not write.
        ImageTooLargeError: the image is too large for the format.
    """
    limit = max_side(output)
    if max(width, height) > limit:
        fmt = _FORMATS[Path(output).suffix.lower()][0]
        reason = f"{width}x{height} pixels is too large for {fmt.upper()} (at most {limit:,} pixels a side){hint}"
        raise ImageTooLargeError(Path(output) if where is None else where, reason)


def _as_planes(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` -> contiguous float32 numpy ``(3, H, W)``."""
    if isinstance(image, torch.Tensor):
        array = image.detach().to(device="cpu", dtype=torch.float32).numpy()
    else:
        array = np.asarray(image, dtype=np.float32)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] != 3:
        raise ValueError(f"image must have shape (1, 3, H, W) or (3, H, W), got {tuple(array.shape)}")
    return np.ascontiguousarray(array)


def srgb_planes(image: torch.Tensor | np.ndarray, levels: int) -> list[np.ndarray]:
    """Linear Rec.2020 -> quantised sRGB planes.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020 (any float dtype, any device).
        levels: 255 (uint8 output) or 65535 (uint16 output).

    Returns:
        ``[R, G, B]`` planes ``(H, W)`` of dtype uint8 or uint16.
    """
    src = _as_planes(image)
    m = REC2020_TO_SRGB
    dtype = np.uint8 if levels == 255 else np.uint16
    out = []
    for c in range(3):
        lin = np.multiply(src[0], np.float32(m[c, 0]))
        cv2.scaleAdd(src[1], float(m[c, 1]), lin, dst=lin)
        cv2.scaleAdd(src[2], float(m[c, 2]), lin, dst=lin)
        np.fmax(lin, np.float32(0.0), out=lin)  # fmax/fmin also turn NaN into 0 and clip infinities
        np.fmin(lin, np.float32(1.0), out=lin)
        dark = lin <= 0.0031308
        dark_values = lin[dark] * np.float32(12.92)
        enc = cv2.pow(lin, 1.0 / 2.4)
        enc *= np.float32(1.055)
        enc -= np.float32(0.055)
        enc[dark] = dark_values
        enc *= np.float32(levels)
        enc += np.float32(0.5)
        out.append(enc.astype(dtype))
    return out


def to_srgb8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """Linear Rec.2020 image -> 8-bit sRGB for contact sheets and previews.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020.

    Returns:
        ``(H, W, 3)`` uint8 array in R, G, B order (clipped to the sRGB gamut).
    """
    return cv2.merge(srgb_planes(image, 255))


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


# -- the mark ---------------------------------------------------------------------------------------


def photo_id(photo: str | Path) -> str:
    """Which photo a render comes from, as its mark records it: ``"<where>-<state>"`` (12 and 8 hex digits).

    ``where`` hashes (SHA-256) the photo's resolved path, so another photo of the same name in another folder (camera
    counters repeat IMG_0001 on every card) gets another one; ``state`` hashes its size (bytes) and modification time
    (whole seconds), so another or an edited file at the same path gets another one. No path is stored in clear.

    Args:
        photo: the photo file.

    Raises:
        NotFoundError: the photo does not exist.
        PermissionDeniedError: it may not be looked at.
    """
    path = Path(photo)
    try:
        st = path.stat()
        resolved = path.resolve()
    except PermissionError as exc:
        raise PermissionDeniedError(f"{photo}: permission denied") from exc
    except OSError as exc:
        raise NotFoundError(f"{photo}: no such photo") from exc
    where = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:12]
    state = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns // 1_000_000_000}".encode("ascii")).hexdigest()[:8]
    return f"{where}-{state}"


@dataclass
class _Provenance:
    """What a render's mark records besides the program: its photo (:func:`photo_id`) and when it was written.

    The time is taken (:meth:`stamp`) when the pixels are encoded and the mark is put in, right before the write.
    """

    photo: str
    written_us: int = 0  # microseconds since the epoch, UTC

    def stamp(self) -> None:
        """Take the time of writing: now."""
        self.written_us = time.time_ns() // 1000

    def text(self, size: int) -> str:
        """The full mark of a file of ``size`` bytes."""
        when = (_EPOCH + timedelta(microseconds=self.written_us)).strftime(_TIME_FORMAT)
        return f"{SOFTWARE} (photo {self.photo}, written {when}Z, {size} bytes)"

    def sized(self, other_bytes: int) -> str:
        """The full mark of a file made of ``other_bytes`` bytes plus the mark itself (its size counts the mark)."""
        size = other_bytes
        for _ in range(8):  # the mark's length moves with the size's digits only: settles in two or three rounds
            text = self.text(size)
            if other_bytes + len(text) == size:
                return text
            size = other_bytes + len(text)
        raise ValueError(f"the size of a {other_bytes}-byte file's mark does not settle")  # pragma: no cover


def _png_file(png: bytes, icc: bytes, provenance: _Provenance | None) -> bytes:
    """``png`` with an ``iCCP`` chunk and then a ``tEXt`` ``Software`` chunk (the mark) right after IHDR."""
    ihdr_end = 8 + 8 + 13 + 4
    icc_chunk = _png_chunk(b"iCCP", b"sRGB IEC61966-2.1\0\0" + zlib.compress(icc))
    keyword = b"Software\0"
    if provenance is not None:
        provenance.stamp()
    text = SOFTWARE if provenance is None else provenance.sized(len(png) + len(icc_chunk) + 12 + len(keyword))
    mark_chunk = _png_chunk(b"tEXt", keyword + text.encode("latin-1"))
    return png[:ihdr_end] + icc_chunk + mark_chunk + png[ihdr_end:]


def _jpeg_file(jpeg: bytes, icc: bytes, provenance: _Provenance | None) -> bytes:
    """``jpeg`` with an EXIF APP1 segment (the mark) and an ``ICC_PROFILE`` APP2 segment after the JFIF header.

    The EXIF segment is a big-endian TIFF structure whose IFD0 holds the one tag ``Software``.
    """
    icc_payload = b"ICC_PROFILE\0\x01\x01" + icc
    icc_segment = b"\xff\xe2" + struct.pack(">H", len(icc_payload) + 2) + icc_payload
    value_at = 8 + 2 + 12 + 4  # after the TIFF header, the entry count, the one entry and the next-IFD pointer
    overhead = 2 + 2 + 6 + value_at + 1  # marker, length, "Exif\0\0", the TIFF structure, the text's NUL
    if provenance is not None:
        provenance.stamp()
    text = SOFTWARE if provenance is None else provenance.sized(len(jpeg) + len(icc_segment) + overhead)
    value = text.encode("ascii") + b"\0"
    ifd = struct.pack(">H", 1) + struct.pack(">HHII", _TAG_SOFTWARE, 2, len(value), value_at) + struct.pack(">I", 0)
    payload = b"Exif\0\0" + b"MM\0\x2a" + struct.pack(">I", 8) + ifd + value
    exif_segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF APP0 first
        pos = 4 + struct.unpack_from(">H", jpeg, 4)[0]
    return jpeg[:pos] + exif_segment + icc_segment + jpeg[pos:]


def _tiff_file(rgb: np.ndarray, provenance: _Provenance | None) -> bytes:
    """A TIFF of ``(H, W, 3)`` ``rgb`` whose ``Software`` tag is the mark.

    tifffile writes the tag before the image data (BigTIFF past 4 GiB, by itself). A render's mark is written as a
    slot as long as the longest mark (a 20-digit size; the time has a fixed length) and filled once the file is
    encoded and its size known; NULs pad the rest of the slot (an ASCII value ends at its first NUL).
    """
    slot = SOFTWARE if provenance is None else provenance.text(10**20 - 1)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb, photometric="rgb", iccprofile=_icc(), metadata=None, software=slot)
    if provenance is not None:
        view = buf.getbuffer()
        try:
            provenance.stamp()
            text = provenance.text(view.nbytes).encode("ascii")
            raw = slot.encode("ascii")
            at = bytes(view[: 1 << 20]).find(raw)  # the tags come first; the pixels are not searched
            if at < 0:
                raise ValueError("tifffile did not write the Software tag before the image data")
            view[at : at + len(raw)] = text + b"\0" * (len(raw) - len(text))
        finally:
            view.release()
    return buf.getvalue()


def _encode(fmt: str, planes: list[np.ndarray], quality: int, provenance: _Provenance | None = None) -> bytes:
    if fmt == "tiff":
        return _tiff_file(cv2.merge(planes), provenance)
    bgr = cv2.merge(planes[::-1])
    if fmt == "jpeg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        if quality >= _FULL_CHROMA_QUALITY:  # no chroma subsampling, as editors do at high quality
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
        ok, encoded = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise ValueError("JPEG encoding failed")
        return _jpeg_file(encoded.tobytes(), _icc(), provenance)
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return _png_file(encoded.tobytes(), _icc(), provenance)


# -- writing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileState:
    """Which file stands at a path and which version of it, to tell whether it was replaced or changed.

    Attributes:
        device: the file system's device number.
        inode: the file's inode number (another file at the path has another one).
        size: its size in bytes.
        mtime_ns: its modification time (nanoseconds since the epoch).
        ctime_ns: its status change time (nanoseconds); every write moves it, and no program can set it back.
    """

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileState:
        """The state an ``os.stat``/``os.lstat``/``os.fstat`` result describes."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_state(path: str | Path) -> FileState | None:
    """What stands at ``path`` (a symbolic link itself, not followed), or ``None`` when nothing does."""
    try:
        return FileState.of(os.lstat(path))
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class OutputGuard:
    """What an output path must still hold when :func:`write_image` moves the new file there.

    Attributes:
        state: the file that was checked (:func:`check_replaceable`), or ``None``: the path was empty and must still be.
    """

    state: FileState | None


_CHANGED_MEANWHILE = "was changed by another program while autoretouch rendered (nothing was replaced)"
_APPEARED_MEANWHILE = "was created by another program while autoretouch rendered (nothing was replaced)"


def _move_into_place(tmp: Path, path: Path, guard: OutputGuard | None) -> None:
    """Move the temporary file ``tmp`` to ``path``: over anything (no guard), or only over what ``guard`` names.

    An empty path is taken with a hard link, which fails when anything appeared there meanwhile (where the file
    system has no hard links: checked, then moved); a checked file is compared with its state again right before
    :func:`os.replace` (a window of microseconds instead of the whole render).

    Raises:
        OutputExistsError: ``path`` no longer holds what ``guard`` names; ``tmp`` is left for the caller to remove.
    """
    if guard is None:
        os.replace(tmp, path)
        return
    if guard.state is not None:
        now = file_state(path)
        if now == guard.state:
            os.replace(tmp, path)
            return
        if now is not None:
            raise OutputExistsError(path, f"{_CHANGED_MEANWHILE}; pass --overwrite to replace it")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(path, f"{_APPEARED_MEANWHILE}; pass --overwrite to replace it") from None
    except OSError:  # no hard links here (FAT, some network shares)
        if os.path.lexists(path):
            raise OutputExistsError(path, f"{_APPEARED_MEANWHILE}; pass --overwrite to replace it") from None
        os.replace(tmp, path)
        return
    with contextlib.suppress(OSError):
        tmp.unlink()


def _write_atomic(path: Path, data: bytes, *, mtime_ns: int | None = None, guard: OutputGuard | None = None) -> None:
    """Replace ``path`` with ``data`` through :func:`backend.fsio.replacing`, the last step :func:`_move_into_place`.

    The file gets a plain new file's permissions and ``mtime_ns`` as its modification time (where the file system
    allows), and is fsync'ed.
    """
    folder = path.parent
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such folder")

    def move(tmp: Path, target: Path) -> None:
        _move_into_place(tmp, target, guard)

    try:
        with replacing(path, move=move) as tmp:
            tmp.write_bytes(data)
            if mtime_ns is not None:
                with contextlib.suppress(OSError):  # not allowed here: the write time stands (a little later)
                    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    except PermissionError as exc:
        raise PermissionDeniedError(f"{folder}: permission denied") from exc
    except IsADirectoryError as exc:  # the temporary file is gone, the folder untouched
        raise OutputExistsError(path, "is a folder; choose another output name or folder") from exc
    fsync_folder(folder)


def write_image(
    path: str | Path,
    image: torch.Tensor | np.ndarray,
    *,
    bit_depth: int | None = None,
    quality: int = 95,
    photo: str | None = None,
    guard: OutputGuard | None = None,
) -> None:
    """Write a linear Rec.2020 image as an sRGB file, chosen by extension, atomically.

    Args:
        path: target file: ``.jpg``/``.jpeg`` (8-bit), ``.png`` (8 or 16-bit, default 8) or ``.tif``/``.tiff``
            (8 or 16-bit, default 16). An existing file is replaced (with ``guard``, only the one it names).
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` linear Rec.2020 (clipped to the sRGB gamut on output).
        bit_depth: bits per channel, ``None`` for the format's default.
        quality: JPEG quality 1..100.
        photo: the :func:`photo_id` of the photo this is a render of: the mark then records it, the time of writing
            (now, to the microsecond; the file's modification time is set to it) and the file's size. ``None``:
            the bare :data:`SOFTWARE` mark.
        guard: replace only what ``path`` held when it was checked (:func:`check_replaceable`): nothing, or that very
            file unchanged. ``None``: replace whatever is there.

    Raises:
        UnsupportedFormatError: unknown extension, or a bit depth the format does not offer.
        ImageTooLargeError: the image is wider or taller than the format holds (:func:`max_side`); checked before
            encoding, nothing is written.
        NotFoundError: the target folder does not exist.
        PermissionDeniedError: the folder is not writable.
        OutputExistsError: ``path`` is a folder, or no longer holds what ``guard`` names (nothing is written).
        ValueError: ``image`` has the wrong shape, or ``quality`` is outside 1..100.
    """
    target = Path(path)
    max_side(target)  # a known extension
    fmt, depths, default = _FORMATS[target.suffix.lower()]
    depth = default if bit_depth is None else int(bit_depth)
    if depth not in depths:
        raise UnsupportedFormatError(target, f"{fmt.upper()} cannot be written with {depth} bits per channel")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    check_size(target, int(image.shape[-1]), int(image.shape[-2]))
    planes = srgb_planes(image, 255 if depth == 8 else 65535)
    provenance = None if photo is None else _Provenance(photo)
    data = _encode(fmt, planes, quality, provenance)  # stamps the provenance with the time of writing
    mtime_ns = None if provenance is None else provenance.written_us * 1000
    _write_atomic(target, data, mtime_ns=mtime_ns, guard=guard)


# -- reading the mark (headers only, bounded) -------------------------------------------------------

#: ``read(offset, size)``: exactly ``size`` bytes from ``offset``, or ``ValueError``.
_Read = Callable[[int, int], bytes]


def _bytes_reader(data: bytes) -> _Read:
    def read(offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or offset + size > len(data):
            raise ValueError("out of range")
        return data[offset : offset + size]

    return read


def _file_reader(fh: BinaryIO) -> _Read:
    def read(offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            raise ValueError("out of range")
        fh.seek(offset)
        data = fh.read(size)
        if len(data) != size:
            raise ValueError("past the end of the file")
        return data

    return read


def _tiff_software(read: _Read) -> bytes | None:
    r"""The ``Software`` value of a TIFF structure's IFD0, classic (``II*\0``/``MM\0*``) or BigTIFF (``II+\0``/``MM\0+``).

    Reads the header, IFD0's entries (at most :data:`_MAX_ENTRIES`) and the value (at most :data:`_MAX_MARK_BYTES`).
    ``None`` when absent or not ASCII; a structure that points outside the data raises ``ValueError``.
    """
    head = read(0, 8)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        return None
    (magic,) = struct.unpack(f"{order}H", head[2:4])
    if magic == 42:
        count_fmt, entry_fmt, field, (ifd,) = "H", "HHI", "I", struct.unpack(f"{order}I", head[4:8])
    elif magic == 43 and struct.unpack(f"{order}HH", head[4:8]) == (8, 0):  # BigTIFF: 8-byte offsets and counts
        count_fmt, entry_fmt, field, (ifd,) = "Q", "HHQ", "Q", struct.unpack(f"{order}Q", read(8, 8))
    else:
        return None
    count_size, head_size, field_size = (struct.calcsize(f"<{f}") for f in (count_fmt, entry_fmt, field))
    (n,) = struct.unpack(f"{order}{count_fmt}", read(ifd, count_size))
    if not 0 < n <= _MAX_ENTRIES:
        return None
    entry_size = head_size + field_size
    entries = read(ifd + count_size, n * entry_size)
    for at in range(0, n * entry_size, entry_size):
        tag, ftype, count = struct.unpack_from(f"{order}{entry_fmt}", entries, at)
        if tag != _TAG_SOFTWARE:
            continue
        if ftype != 2 or not 0 < count <= _MAX_MARK_BYTES:  # 2: ASCII
            return None
        if count <= field_size:
            raw = entries[at + head_size : at + head_size + count]
        else:
            (offset,) = struct.unpack_from(f"{order}{field}", entries, at + head_size)
            raw = read(offset, count)
        return raw.split(b"\0", 1)[0]
    return None


def _jpeg_software(read: _Read) -> bytes | None:
    """The EXIF ``Software`` of a JPEG (the first EXIF APP1 segment before the image data), or ``None``."""
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        first, marker, length = struct.unpack(">BBH", read(pos, 4))
        if first != 0xFF or marker in (0xDA, 0xD9) or length < 2:  # start of scan: no more header segments
            return None
        if marker == 0xE1 and length >= 8:
            payload = read(pos + 4, length - 2)
            if payload.startswith(b"Exif\0\0"):
                return _tiff_software(_bytes_reader(payload[6:]))
        pos += 2 + length
    return None


def _png_software(read: _Read) -> bytes | None:
    """The text of a PNG's ``tEXt`` chunk with the keyword ``Software`` (chunks before the image data), or ``None``."""
    pos = 8
    keyword = b"Software\0"
    for _ in range(_MAX_SEGMENTS):
        length, ctype = struct.unpack(">I4s", read(pos, 8))
        if ctype in (b"IDAT", b"IEND"):
            return None
        if ctype == b"tEXt" and length >= len(keyword) and read(pos + 8, len(keyword)) == keyword:
            if length - len(keyword) > _MAX_MARK_BYTES:
                return None
            return read(pos + 8 + len(keyword), length - len(keyword))
        pos += 12 + length
    return None


def _software(fh: BinaryIO) -> bytes | None:
    """The "Software" value of a JPEG, PNG or TIFF/BigTIFF file, told by its first bytes (not its name)."""
    read = _file_reader(fh)
    head = read(0, 8)
    if head.startswith(b"\xff\xd8"):
        return _jpeg_software(read)
    if head == b"\x89PNG\r\n\x1a\n":
        return _png_software(read)
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return _tiff_software(read)
    return None


@dataclass(frozen=True)
class Mark:
    """What an autoretouch mark says (see the module docstring).

    Attributes:
        version: the autoretouch version that wrote the file.
        photo: the :func:`photo_id` of the photo it is a render of; ``None`` for a bare mark (written without a photo,
            or by the first marked version), and then so are ``written_ns`` and ``size``.
        written_ns: when it was written (nanoseconds since the epoch, to the microsecond).
        size: its size in bytes when it was written.
    """

    version: str
    photo: str | None = None
    written_ns: int | None = None
    size: int | None = None


def _parse_mark(value: bytes) -> Mark | None:
    if not value.startswith(_MARK):
        return None
    match = _FULL_MARK.fullmatch(value)
    if match is not None:
        with contextlib.suppress(ValueError):  # an impossible date: a bare mark
            written = datetime.strptime(match["written"].decode("ascii"), _TIME_FORMAT).replace(tzinfo=UTC)
            written_us = (written - _EPOCH) // timedelta(microseconds=1)
            photo = match["photo"].decode("ascii")
            return Mark(match["version"].decode("ascii"), photo, written_us * 1000, int(match["size"]))
    return Mark(value[len(_MARK) :].split(b" ", 1)[0].decode("latin-1"))


def _inspect(path: str | Path) -> tuple[FileState, Mark | None] | None:
    """The state of the regular file at ``path`` and its mark; ``None`` for anything else or an unreadable file.

    A symbolic link, folder, pipe or device is never opened (a pipe would wait for a writer): checked before opening
    and again, on the open file, after (the file is opened without following a link and without blocking).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        fd = os.open(path, flags)
    except OSError:
        return None
    with open(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        value: bytes | None = None
        with contextlib.suppress(OSError, ValueError, struct.error):  # unreadable, empty, truncated or damaged
            value = _software(fh)
        return FileState.of(st), None if value is None else _parse_mark(value)


def read_mark(path: str | Path) -> Mark | None:
    """The autoretouch mark of the image file at ``path``, or ``None`` when it has none.

    The format is told by the file's first bytes, not its extension; only headers are read (a bounded number of
    bytes, whatever the file's size). A file another program saved again usually loses the mark (editors write their
    own ``Software``); one that keeps it is told by its size and time (:func:`check_replaceable`).

    Args:
        path: any path (a folder, a link, a pipe, a missing, empty or unreadable file, or another format: ``None``).
    """
    found = _inspect(path)
    return None if found is None else found[1]


def written_by_autoretouch(path: str | Path) -> bool:
    """Whether ``path`` is an image file that :func:`write_image` wrote: it carries a mark (:func:`read_mark`).

    Its TIFF ``Software`` tag, PNG ``tEXt`` ``Software`` or JPEG EXIF ``Software`` starts with ``"autoretouch "``.
    Whether it may be replaced is :func:`check_replaceable`'s question.
    """
    return read_mark(path) is not None


def _local_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def _why_not_ours(state: FileState, mark: Mark, photo: str | Path) -> str | None:
    """Why a marked file is not autoretouch's unchanged render of ``photo`` (``None`` when it is)."""
    if mark.photo is None or mark.written_ns is None or mark.size is None:
        return (
            f"was written by autoretouch {mark.version} without recording which photo it came from (an earlier "
            "version, or not a render)"
        )
    written = _local_time(mark.written_ns)
    if state.size != mark.size:
        return f"was changed since autoretouch wrote it at {written} ({state.size:,} bytes, not {mark.size:,})"
    if abs(state.mtime_ns - mark.written_ns) > MTIME_TOLERANCE_S * 1e9:
        return f"was changed since autoretouch wrote it at {written} (modified at {_local_time(state.mtime_ns)})"
    ours = photo_id(photo)
    if mark.photo.split("-")[0] != ours.split("-")[0]:
        return f"is autoretouch's render of another photo, not of {photo}"
    if mark.photo != ours:
        return f"is autoretouch's render of {photo} as it was before that file was changed or replaced"
    return None


def check_replaceable(path: str | Path, photo: str | Path) -> OutputGuard:
    """Refuse an output path unless it is empty or holds autoretouch's own, unchanged render of ``photo``.

    A render is replaced only when its mark (:func:`read_mark`) names ``photo`` as it is now (:func:`photo_id`: the
    same path, size and modification time) and the file is as autoretouch wrote it: the size its mark records, and
    modified within :data:`MTIME_TOLERANCE_S` of the time its mark records. A bare mark (no photo) is not enough.

    Args:
        path: the output file (its folder exists).
        photo: the photo about to be rendered there.

    Returns:
        What :func:`write_image` must still find at ``path`` (``guard=``): nothing, or this very file.

    Raises:
        OutputExistsError: ``path`` is a folder, a symbolic link, a file autoretouch did not write (or one whose mark
            it cannot read), a file with a bare mark, a render of another photo or of ``photo`` before it changed, or
            a render changed since it was written. The message says which, and suggests ``--overwrite``.
        NotFoundError: ``photo`` does not exist (asked only when ``path`` holds a render).
        PermissionDeniedError: ``path`` or ``photo`` may not be looked at.
    """
    target = Path(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return OutputGuard(None)
    except OSError as exc:
        raise PermissionDeniedError(f"{target}: cannot look at the existing file ({exc.strerror})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise OutputExistsError(target, "is a folder; choose another output name or folder")
    if stat.S_ISLNK(st.st_mode):
        link = "is a symbolic link (replacing it would break the link)"
        raise OutputExistsError(target, f"{link}; pass --overwrite to replace it")
    state, mark = _inspect(target) or (None, None)
    if state is None or mark is None:
        raise OutputExistsError(target, "exists and was not written by autoretouch; pass --overwrite to replace it")
    reason = _why_not_ours(state, mark, photo)
    if reason is not None:
        raise OutputExistsError(target, f"{reason}; pass --overwrite to replace it")
    return OutputGuard(state)
