"""JPEG and PNG (OpenCV) and TIFF (tifffile, OpenCV for compressions tifffile cannot do alone).

Each decoder checks the header size against the pixel limit and the file structure for truncation before
the codec runs, and returns the stored pixels (not yet oriented) as R, G, B planes plus the colour
interpretation (:class:`Colour`). Alpha is dropped; grey stays one plane (expanded later).

Float TIFF samples that are not finite are replaced on decode (see :func:`clean_float_samples`), so no NaN
or infinity reaches the agent or the renderer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import io
import itertools
import logging
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile

from backend.decode.containers import ContainerInfo, jpeg_info, png_info
from backend.decode.exif import ADOBE_RGB
from backend.decode.icc import KNOWN_SPACES, SRGB_TRC, IccError, IccProfile, Trc, parse_icc
from backend.decode.progressive import dc_scans_only
from backend.errors import AutoretouchError, CorruptImageError, ImageTooLargeError, UnsupportedFormatError
from backend.render.color import SRGB_TO_REC2020

__all__ = ["Colour", "Raster", "clean_float_samples", "decode_jpeg", "decode_png", "decode_tiff", "resolve_colour"]

_LINEAR = Trc("gamma", 1.0)
#: Adobe RGB (1998)'s curve as its ICC profile stores it: gamma 563/256 (2.19921875) in a u8Fixed8 ``curv``.
_ADOBE_RGB_TRC = Trc("gamma", 563 / 256)


@dataclass(frozen=True)
class Colour:
    """How stored values map to linear Rec.2020.

    Attributes:
        trcs: encoded -> linear curves (one per plane, or one for all).
        to_rec2020: ``(3, 3)`` linear source RGB -> linear Rec.2020.
        note: human-readable description for ``DecodedImage.colour_note``.
    """

    trcs: tuple[Trc, ...]
    to_rec2020: np.ndarray
    note: str


@dataclass(frozen=True)
class Raster:
    """Decoded stored pixels.

    Attributes:
        pixels: ``(H, W, 3)`` colour or ``(H, W)`` grey; uint8, uint16 or float32. Stored orientation.
        bgr: colour channels are in OpenCV's B, G, R order (else R, G, B).
        colour: colour interpretation.
        stored_width: full-resolution stored width (before orientation; also for reduced previews).
        stored_height: full-resolution stored height.
        orientation: EXIF orientation read from the container, 0 when the caller should use EXIF.
    """

    pixels: np.ndarray
    bgr: bool
    colour: Colour
    stored_width: int
    stored_height: int
    orientation: int = 0


def resolve_colour(
    icc: bytes | None, *, srgb_chunk: bool = False, is_float: bool = False, exif_space: str | None = None
) -> Colour:
    """Colour interpretation from an embedded ICC profile, else the EXIF colour space, else the documented assumption.

    Args:
        icc: embedded profile bytes, or ``None``.
        srgb_chunk: a PNG ``sRGB`` chunk is present.
        is_float: float samples (assumed linear sRGB without a profile; the EXIF colour space is not used).
        exif_space: :attr:`backend.decode.types.ExifInfo.colour_space`; :data:`ADOBE_RGB` (a DCF option file,
            as cameras set to Adobe RGB write it: no profile, EXIF ColorSpace "Uncalibrated", interoperability
            index R03) is read as Adobe RGB (1998), the space and curve an embedded Adobe RGB profile gives.

    Returns:
        The :class:`Colour`.
    """
    fallback = "sRGB (assumed, no profile)"
    if icc is not None:
        try:
            profile: IccProfile = parse_icc(icc)
        except IccError as exc:
            fallback = f"sRGB (assumed; embedded ICC not applied: {exc})"
        else:
            if profile.colour_space == "GRAY":
                return Colour(profile.trcs, np.eye(3), "greyscale (embedded ICC)")
            if profile.known_space:
                return Colour(profile.trcs, profile.to_rec2020, f"{profile.known_space} (embedded ICC)")
            return Colour(profile.trcs, profile.to_rec2020, f"embedded ICC {profile.label()!r} (matrix/TRC, D50 PCS)")
    if srgb_chunk:
        return Colour((SRGB_TRC,), SRGB_TO_REC2020, "sRGB (PNG sRGB chunk)")
    if is_float:
        return Colour((_LINEAR,), SRGB_TO_REC2020, "linear sRGB (assumed for float samples without profile)")
    if icc is None and exif_space == ADOBE_RGB:
        note = f"{ADOBE_RGB} (EXIF ColorSpace Uncalibrated with interoperability index R03, no profile)"
        return Colour((_ADOBE_RGB_TRC,), KNOWN_SPACES[ADOBE_RGB], note)
    return Colour((SRGB_TRC,), SRGB_TO_REC2020, fallback)


def _check_size(width: int, height: int, max_pixels: int, where: Path | None) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(where, f"{width}x{height} pixels exceed the limit of {max_pixels:,} pixels")


def _check_container(info: ContainerInfo, kind: str, max_pixels: int, where: Path | None) -> None:
    if info.width and info.height:
        _check_size(info.width, info.height, max_pixels, where)
    if info.problem:
        raise CorruptImageError(where, info.problem)
    if not (info.width and info.height):
        raise CorruptImageError(where, f"{kind} header without image dimensions")


def _imdecode(data: bytes, flags: int, kind: str, where: Path | None) -> np.ndarray:
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as exc:
        raise CorruptImageError(where, f"{kind} could not be decoded ({str(exc).strip().splitlines()[-1]})") from exc
    if pixels is None:
        raise CorruptImageError(where, f"{kind} could not be decoded (damaged image data)")
    return pixels


def _drop_alpha(pixels: np.ndarray) -> np.ndarray:
    """OpenCV BGR/BGRA/grey(+alpha) -> BGR (H, W, 3) or grey (H, W)."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if channels == 1:
        return pixels[:, :, 0]
    if channels == 2:
        return np.ascontiguousarray(pixels[:, :, 0])
    return pixels if channels == 3 else np.ascontiguousarray(pixels[:, :, :3])


def _dct_reduction(width: int, height: int, preview_long_side: int) -> int:
    """OpenCV flag for the largest DCT-domain reduction whose long side is still >= 90 % of the target."""
    long_now = max(width, height)
    for factor, flag in (
        (8, cv2.IMREAD_REDUCED_COLOR_8),
        (4, cv2.IMREAD_REDUCED_COLOR_4),
        (2, cv2.IMREAD_REDUCED_COLOR_2),
    ):
        if -(-long_now // factor) >= 0.9 * preview_long_side:
            return flag
    return cv2.IMREAD_COLOR


def decode_jpeg(
    data: bytes, where: Path | None, *, preview_long_side: int | None, max_pixels: int, exif_space: str | None = None
) -> Raster:
    """Decode a JPEG (8-bit); ``preview_long_side`` selects the fast preview path.

    Preview path: the JPEG's own pixels with libjpeg's DCT-domain reduction (1/2, 1/4, 1/8: the largest whose
    long side is still at least 90 % of ``preview_long_side``; at 1/8 a progressive JPEG's AC scans are
    skipped, see :mod:`progressive`). An embedded EXIF thumbnail or MPF preview is never used: an editor
    that rewrites the pixels often keeps the camera's EXIF, thumbnail included, which then shows the photo
    as shot, not as it is (a brightened photo's stale thumbnail made ``suggest`` add +2.1 EV instead of
    +0.5). EXIF orientation is *not* applied here (OpenCV is told to ignore it).

    Args:
        data: the whole file.
        where: the file, for error messages.
        preview_long_side: target long side of a preview in pixels, or ``None`` for the full decode.
        max_pixels: refuse a frame of more pixels than this (from the header, before decoding).
        exif_space: the EXIF colour space, used when no ICC profile is embedded (see :func:`resolve_colour`).

    Returns:
        The stored pixels (BGR), full size or reduced by 2, 4 or 8, with the colour interpretation.

    Raises:
        ImageTooLargeError: more than ``max_pixels`` pixels.
        CorruptImageError: truncated or damaged file.
    """
    info = jpeg_info(data)
    _check_container(info, "JPEG", max_pixels, where)
    colour = resolve_colour(info.icc, exif_space=exif_space)
    flags = _dct_reduction(info.width, info.height, preview_long_side) if preview_long_side else cv2.IMREAD_COLOR
    if flags == cv2.IMREAD_REDUCED_COLOR_8:
        data = dc_scans_only(data) or data  # same pixels at 1/8 scale, without decoding the AC scans
    pixels = _imdecode(data, flags | cv2.IMREAD_IGNORE_ORIENTATION, "JPEG", where)
    return Raster(_drop_alpha(pixels), True, colour, info.width, info.height)


def decode_png(data: bytes, where: Path | None, *, max_pixels: int, exif_space: str | None = None) -> Raster:
    """Decode a PNG at its bit depth (8 or 16), dropping alpha and expanding palettes.

    Colour: the ICC profile, else the ``sRGB`` chunk, else ``exif_space`` (see :func:`resolve_colour`), else sRGB.
    """
    info = png_info(data)
    _check_container(info, "PNG", max_pixels, where)
    pixels = _imdecode(data, cv2.IMREAD_UNCHANGED, "PNG", where)
    colour = resolve_colour(info.icc, srgb_chunk=info.srgb_chunk, exif_space=exif_space)
    return Raster(_drop_alpha(pixels), True, colour, info.width, info.height)


def _tiff_pixels(page: tifffile.TiffPage) -> np.ndarray | None:
    """Samples of a TIFF page as (H, W, S) or (H, W), or ``None`` when tifffile cannot decode them."""
    photometric = int(page.photometric)
    if photometric not in (0, 1, 2, 3) or page.dtype is None:
        return None
    try:
        arr = page.asarray()
    except (KeyError, ValueError, NotImplementedError, RuntimeError):
        return None  # typically "requires the 'imagecodecs' package"
    axes = page.axes
    if "S" in axes and axes.index("S") < axes.index("Y"):
        arr = np.moveaxis(arr, axes.index("S"), -1)
    arr = np.squeeze(arr) if arr.ndim > 3 else arr
    if photometric == 3:  # palette
        colormap = page.colormap
        if colormap is None:
            return None
        arr = np.ascontiguousarray(np.asarray(colormap).T[arr])
    if photometric == 0 and arr.dtype.kind == "u":  # min-is-white
        arr = np.iinfo(arr.dtype).max - arr
    if arr.ndim == 3:
        arr = arr[:, :, 0] if arr.shape[2] < 3 else arr[:, :, :3]
    return arr


@dataclass(frozen=True)
class _TiffPage:
    """What :func:`decode_tiff` needs from the page it decodes.

    Attributes:
        icc: embedded ICC profile bytes, or ``None``.
        orientation: the page's Orientation tag (1 when absent; may be out of 1..8).
        width: stored width in pixels.
        height: stored height in pixels.
        pixels: samples read by tifffile, or ``None`` when tifffile cannot decode them (OpenCV then does).
        opencv_patches: ``(file offset, bytes)`` replacements that make OpenCV, which reads the first page of
            a file, read this page as stored (see :func:`_opencv_tiff`); empty when the file is fine as it is.
        unsupported: when tifffile cannot decode the page, what an error should name if OpenCV cannot either
            (see :func:`_unsupported_reason`), else ``""``.
        samples_per_pixel: the page's SamplesPerPixel (OpenCV reads 1 to 4).
    """

    icc: bytes | None
    orientation: int
    width: int
    height: int
    pixels: np.ndarray | None
    opencv_patches: tuple[tuple[int, bytes], ...]
    unsupported: str = ""
    samples_per_pixel: int = 1


#: NewSubfileType (tag 254) bits of pages that are not the photo: 1 = reduced-resolution image, 4 = mask.
_NOT_THE_PHOTO = 0b101
_MAX_PAGES_SEARCHED = 64


def _full_resolution_page(tif: tifffile.TiffFile) -> tifffile.TiffPage | None:
    """The page that holds the photo.

    The first page whose NewSubfileType marks it neither as a reduced-resolution image (a preview or
    thumbnail, which scanners and editors may write before the photo) nor as a mask; when every page (of the
    first 64) is one of those, the largest.

    Returns:
        The page, or ``None`` for a file without pages.
    """
    others: list[tifffile.TiffPage] = []
    for page in itertools.islice(tif.pages, _MAX_PAGES_SEARCHED):
        if not isinstance(page, tifffile.TiffPage):
            continue
        if not int(page.subfiletype) & _NOT_THE_PHOTO:
            return page
        others.append(page)
    return max(others, key=lambda page: int(page.imagewidth) * int(page.imagelength), default=None)


def _opencv_patches(tif: tifffile.TiffFile, page: tifffile.TiffPage) -> tuple[tuple[int, bytes], ...]:
    """Replacements that point the header's first-page offset at ``page`` and make its Orientation tag say 1."""
    patches: list[tuple[int, bytes]] = []
    if page.offset != tif.pages.first.offset:
        at, fmt = (8, "Q") if tif.is_bigtiff else (4, "I")
        patches.append((at, struct.pack(f"{tif.byteorder}{fmt}", page.offset)))
    tag = page.tags.get(274)
    fmt = tifffile.TIFF.DATA_FORMATS.get(int(tag.dtype), "") if tag is not None else ""
    if tag is not None and tag.count == 1 and tag.value != 1 and fmt[-1:] in ("B", "H", "I", "Q"):
        patches.append((int(tag.valueoffset), struct.pack(f"{tif.byteorder}{fmt[-1]}", 1)))
    return tuple(patches)


#: Photometric interpretations tifffile or OpenCV turn into grey or RGB (min-is-white/black, RGB, palette, CMYK, YCbCr).
_READ_PHOTOMETRICS = (0, 1, 2, 3, 5, 6)
_PHOTOMETRIC_SEPARATED = 5
_INKSET_CMYK = 1


def _unsupported_reason(page: tifffile.TiffPage) -> str:
    """What a TIFF page has that neither tifffile nor OpenCV may decode, to follow "TIFF " in a message.

    Returns:
        e.g. ``"CMYK with 1 extra channel (alpha or spot colour)"``, ``"CIELAB colour (photometric 8)"``,
        ``"with 6 samples per pixel"``, ``"of 12-bit RGB samples with PACKBITS compression"``.
    """
    photometric, samples = int(page.photometric), int(page.samplesperpixel)
    name = _enum_name(tifffile.PHOTOMETRIC, photometric)
    if photometric == _PHOTOMETRIC_SEPARATED:
        inkset = page.tags.get(332)
        if inkset is not None and inkset.value != _INKSET_CMYK:
            return "separated colour in inks other than CMYK"
        extra = max(len(page.extrasamples), samples - 4)
        if extra > 0:
            plural = "s" if extra > 1 else ""
            return f"CMYK with {extra} extra channel{plural} (alpha or spot colour{plural})"
        name = "CMYK"
    if photometric not in _READ_PHOTOMETRICS:
        return f"{name} colour (photometric {photometric})"
    if samples > 4:
        return f"with {samples} samples per pixel"
    compression = _enum_name(tifffile.COMPRESSION, int(page.compression))
    return f"of {page.bitspersample}-bit {name} samples with {compression} compression"


def _enum_name(kind: type[enum.IntEnum], value: int) -> str:
    """The member name of ``value`` in one of tifffile's tag enumerations, else the number."""
    try:
        return kind(value).name
    except ValueError:
        return str(value)


_log = logging.getLogger(__name__)
_tifffile_log = threading.local()


class _TakeTifffileRecords(logging.Filter):
    """Takes tifffile's log records while this thread reads a TIFF for us (see :func:`_tifffile_records`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        taken: list[str] | None = getattr(_tifffile_log, "taken", None)
        if taken is None:
            return True  # another use of tifffile, or another thread: left alone
        taken.append(record.getMessage())
        return False


logging.getLogger("tifffile").addFilter(_TakeTifffileRecords())


@contextlib.contextmanager
def _tifffile_records(where: Path | None) -> Iterator[list[str]]:
    """Collect what tifffile logs about the file being read in this thread, instead of its reaching stderr.

    tifffile reports a damaged structure ("invalid offset to first page" ...) as a logged warning and reads on;
    our error message says what is wrong, and the records go to this module's log at DEBUG.
    """
    outer = getattr(_tifffile_log, "taken", None)
    taken: list[str] = []
    _tifffile_log.taken = taken
    try:
        yield taken
    finally:
        _tifffile_log.taken = outer
        for message in taken:
            _log.debug("%s: tifffile: %s", where, message)


def _first_directory_problem(data: bytes) -> str | None:
    """Why the first image directory the header points to is not inside the file, or ``None`` when it is.

    A TIFF cut off before its directory (which many writers put after the image data) is refused here, with
    a message that says so, rather than left to tifffile, which finds "no pages".
    """
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\0", b"\0+")
    at, pointer, count, entry = (8, "Q", "Q", 20) if big else (4, "I", "H", 12)
    if len(data) < at + struct.calcsize(pointer):
        return "truncated: the file ends inside the TIFF header"
    (offset,) = struct.unpack_from(f"{order}{pointer}", data, at)
    head = struct.calcsize(count)
    directory, end = f"the TIFF's image directory at byte {offset:,}", f"the end of the file ({len(data):,} bytes)"
    if offset + head > len(data):
        return f"truncated or damaged: {directory} lies past {end}"
    (entries,) = struct.unpack_from(f"{order}{count}", data, offset)
    if offset + head + entry * entries > len(data):
        return f"truncated or damaged: {directory} runs past {end}"
    return None


def _read_tiff_page(tif: tifffile.TiffFile, data: bytes, where: Path | None, max_pixels: int) -> _TiffPage:
    """ICC profile, orientation, size and samples of the photo's page (see :func:`_full_resolution_page`)."""
    with tif:
        page = _full_resolution_page(tif)
        if page is None:
            raise CorruptImageError(where, "damaged: no readable image directory in the TIFF")
        width, height = int(page.imagewidth), int(page.imagelength)
        _check_size(width, height, max_pixels, where)
        if width == 0 or height == 0:
            raise CorruptImageError(where, "TIFF without image dimensions")
        ends = [int(o) + int(c) for o, c in zip(page.dataoffsets, page.databytecounts, strict=False)]
        if ends and max(ends) > len(data):
            raise CorruptImageError(where, "truncated: TIFF image data ends beyond the end of the file")
        icc_tag = page.tags.get(34675)
        icc = bytes(icc_tag.value) if icc_tag is not None else None
        orientation_tag = page.tags.get(274)
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
        pixels = _tiff_pixels(page)
        if pixels is not None:
            return _TiffPage(icc, orientation, width, height, pixels, ())
        patches, unsupported = _opencv_patches(tif, page), _unsupported_reason(page)
        return _TiffPage(icc, orientation, width, height, None, patches, unsupported, int(page.samplesperpixel))


def _opencv_tiff(data: bytes, page: _TiffPage, where: Path | None) -> np.ndarray:
    """Stored pixels of a TIFF page that tifffile cannot decode (LZW, JPEG compression, CMYK ...), via OpenCV.

    OpenCV decodes a file's first page and turns it upright by its Orientation tag itself, whatever the flags
    (OpenCV 5.1 even with ``IMREAD_IGNORE_ORIENTATION``; older versions depending on the flags and on libtiff),
    while every other decoder here returns stored pixels and the caller applies the orientation once. So
    OpenCV reads a copy of the file whose header points at the page chosen and whose Orientation tag says 1
    (``page.opencv_patches``), and returns that page's stored pixels like the others.

    Returns:
        BGR ``(H, W, 3)`` or grey ``(H, W)`` samples at the file's bit depth, alpha dropped.

    Raises:
        UnsupportedFormatError: OpenCV cannot decode the page either.
        CorruptImageError: OpenCV's image is not the size the page's header gives.
    """
    if page.samples_per_pixel > 4:  # OpenCV refuses them (and says so on stderr)
        raise UnsupportedFormatError(where, f"TIFF {page.unsupported} is not supported")
    buffer: bytes | bytearray = data
    if page.opencv_patches:
        buffer = bytearray(data)  # one copy, patched in place and decoded from (no second bytes() copy)
        for at, value in page.opencv_patches:
            buffer[at : at + len(value)] = value
    decoded = cv2.imdecode(np.frombuffer(buffer, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise UnsupportedFormatError(where, f"TIFF {page.unsupported} is not supported")
    if decoded.shape[:2] != (page.height, page.width):
        raise CorruptImageError(
            where, f"TIFF decoded as {decoded.shape[1]}x{decoded.shape[0]}, its header says {page.width}x{page.height}"
        )
    return _drop_alpha(decoded)


def clean_float_samples(pixels: np.ndarray) -> tuple[np.ndarray, str]:
    """Replace the non-finite samples of float pixels, in place.

    NaN and -inf become 0 (black, which is also where the renderer clamps negative light); +inf becomes the
    largest finite sample of the image, at least 1.0 (a clipped highlight: as bright as white and as the
    brightest real sample).

    Args:
        pixels: float32 samples, any shape; modified in place when some are not finite (copied first when
            read-only).

    Returns:
        The pixels and a note for the colour description (``""`` when every sample was finite), e.g.
        ``"2 non-finite samples replaced (NaN and -inf by 0, +inf by 1)"``.

    Example:
        >>> clean_float_samples(np.array([np.nan, 0.5, np.inf], dtype=np.float32))
        (array([0. , 0.5, 1. ], dtype=float32), '2 non-finite samples replaced (NaN and -inf by 0, +inf by 1)')
    """
    if np.isfinite(pixels.sum(dtype=np.float64)):  # cheap test first: a non-finite sample makes the sum one
        return pixels, ""
    finite = np.isfinite(pixels)
    bad = int(finite.size - np.count_nonzero(finite))
    if bad == 0:  # finite samples whose sum overflowed float64 (not possible for float32 images below the limit)
        return pixels, ""
    brightest = float(np.max(pixels, where=finite, initial=-np.inf))  # no copy of the finite samples
    high = max(brightest, 1.0)
    if not pixels.flags.writeable:
        pixels = pixels.copy()
    np.nan_to_num(pixels, copy=False, nan=0.0, posinf=high, neginf=0.0)
    return pixels, f"{bad:,} non-finite sample{'s' if bad > 1 else ''} replaced (NaN and -inf by 0, +inf by {high:g})"


def decode_tiff(data: bytes, where: Path | None, *, max_pixels: int, exif_space: str | None = None) -> Raster:
    """Decode the photo's page of a TIFF (8/16-bit integer or 16/32/64-bit float samples), honouring its ICC.

    The page is the first that is not a reduced-resolution image or a mask (NewSubfileType bits 0 and 2
    clear; see :func:`_full_resolution_page`), so a preview written before the photo is passed over, at full
    and at preview decode alike.

    tifffile reads a hostile file's tags lazily and can fail in many ways (``TypeError``, ``KeyError``...);
    every such failure is a :class:`CorruptImageError` naming the file, and what tifffile logs about it stays
    off stderr (see :func:`_tifffile_records`). Float samples that are NaN or
    infinite are replaced by :func:`clean_float_samples` and the colour note says how many. Without an ICC
    profile, integer samples follow ``exif_space`` (see :func:`resolve_colour`).
    """
    problem = _first_directory_problem(data)
    if problem:
        raise CorruptImageError(where, problem)
    with _tifffile_records(where):
        try:
            tif = tifffile.TiffFile(io.BytesIO(data))
            page = _read_tiff_page(tif, data, where, max_pixels)
        except AutoretouchError:
            raise
        except Exception as exc:
            raise CorruptImageError(where, f"damaged TIFF structure ({type(exc).__name__}: {exc})") from exc
    icc, orientation, width, height = page.icc, page.orientation, page.width, page.height
    pixels, bgr = (page.pixels, False) if page.pixels is not None else (_opencv_tiff(data, page, where), True)
    note = ""
    if pixels.dtype.kind == "f":
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes +-inf, then cleaned
            pixels = pixels.astype(np.float32, copy=False)
        pixels, note = clean_float_samples(pixels)
    elif pixels.dtype not in (np.uint8, np.uint16):
        raise UnsupportedFormatError(where, f"TIFF samples of type {pixels.dtype} are not supported")
    colour = resolve_colour(icc, is_float=pixels.dtype.kind == "f", exif_space=exif_space)
    if note:
        colour = dataclasses.replace(colour, note=f"{colour.note}; {note}")
    return Raster(pixels, bgr, colour, width, height, orientation if 1 <= orientation <= 8 else 1)
