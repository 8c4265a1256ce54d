"""Generators of small photo files for tests: DNG, TIFF (with/without ICC), JPEG (with EXIF), PNG, damaged files.

Every ``make_*`` function takes a directory and returns the path it wrote. Contents are deterministic
and described by the module constants, so tests can compute what a decoder must return.

* :func:`make_dng`: uncompressed RGGB 16-bit CFA DNG (tifffile) that LibRaw/rawpy and darktable's
  rawspeed open. ColorMatrix1 = XYZ(D65) -> linear sRGB, so white-balanced camera RGB is linear sRGB.
  The scene is given in white-balanced camera units (:data:`DNG_PATCHES`); the raw values are those
  times ``neutral`` (the AsShotNeutral), scaled between black 256 and white 16383.
* :func:`make_tiff`: RGB TIFF (8/16-bit or float32) of :func:`pattern_rgb`, optionally with an embedded
  ProPhoto (or sRGB) ICC profile built by :func:`backend.decode.icc.build_icc_profile`.
* :func:`make_jpeg`: JPEG of :func:`pattern_rgb` with a minimal EXIF APP1 (:data:`JPEG_EXIF`).
* :func:`make_camera_jpeg`: a JPEG laid out as cameras write them: EXIF with an IFD1 thumbnail, optionally an
  MPF (APP2) index pointing at a larger preview appended after the main image.
* :func:`make_png`: 8/16-bit RGB, grey or RGBA PNG.
* :func:`grey_ramp`, :func:`gradient_jpeg_named`: a small grey ramp, and a JPEG of it under any file name.
* damaged variants: zero bytes, truncated copies, text, and header-only "bombs".
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tifffile

from backend.decode.icc import build_icc_profile, srgb_icc_profile
from backend.render.color import PROPHOTO_TO_REC2020, REC2020_TO_XYZ_D50, REC2020_TO_XYZ_D65, SRGB_TO_REC2020

__all__ = [
    "DNG_BLACK",
    "DNG_NEUTRAL",
    "DNG_PATCHES",
    "DNG_WHITE",
    "JPEG_EXIF",
    "build_exif_tiff",
    "copy_as",
    "gradient_jpeg_named",
    "grey_ramp",
    "make_camera_jpeg",
    "make_dng",
    "make_jpeg",
    "make_png",
    "make_png_bomb",
    "make_text_file",
    "make_tiff",
    "make_tiff_bomb",
    "make_truncated",
    "make_zero_byte",
    "pattern_rgb",
    "prophoto_icc_profile",
]

# ---------------------------------------------------------------------------------------------------
# A tiny TIFF/EXIF directory writer (little-endian)

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 10: 8}


def _pack_value(ftype: int, value: object) -> tuple[int, bytes]:
    """(count, bytes) of one tag value."""
    if ftype == 2:
        raw = str(value).encode("ascii") + b"\0"
        return len(raw), raw
    if ftype in (1, 7):
        raw = bytes(value) if not isinstance(value, bytes) else value  # type: ignore[call-overload]
        return len(raw), raw
    values: list[Any] = list(value) if isinstance(value, Sequence) else [value]  # numbers or (num, den) pairs
    if ftype in (5, 10):
        code = "I" if ftype == 5 else "i"
        pairs: list[int] = []
        for v in values:
            num, den = v if isinstance(v, tuple) else (round(float(v) * 10000), 10000)
            pairs += [int(num), int(den)]
        return len(values), struct.pack(f"<{len(pairs)}{code}", *pairs)
    code = {3: "H", 4: "I"}[ftype]
    return len(values), struct.pack(f"<{len(values)}{code}", *(int(v) for v in values))


def _ifd(entries: list[tuple[int, int, object]], start: int) -> bytes:
    """Serialise one IFD placed at file offset ``start``; out-of-line data follows it, next-IFD = 0."""
    entries = sorted(entries, key=lambda e: e[0])
    data_at = start + 2 + 12 * len(entries) + 4
    head = struct.pack("<H", len(entries))
    blob = b""
    for tag, ftype, value in entries:
        count, raw = _pack_value(ftype, value)
        if len(raw) <= 4:
            head += struct.pack("<HHI", tag, ftype, count) + raw.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, ftype, count, data_at + len(blob))
            blob += raw + (b"\0" if len(raw) % 2 else b"")
    return head + b"\0\0\0\0" + blob


def build_exif_tiff(ifd0: list[tuple[int, int, object]], exif: list[tuple[int, int, object]]) -> bytes:
    """A little-endian TIFF structure with IFD0 (plus an ExifIFD pointer when ``exif`` is not empty).

    Args:
        ifd0: ``(tag, TIFF type, value)`` entries of IFD0.
        exif: entries of the Exif IFD.

    Returns:
        Bytes starting with ``II*\\0`` (the payload of a JPEG APP1 after ``Exif\\0\\0``).
    """
    entries = list(ifd0)
    if exif:
        entries.append((0x8769, 4, 0))
        size0 = len(_ifd(entries, 8))
        entries[-1] = (0x8769, 4, 8 + size0)
        return b"II*\0" + struct.pack("<I", 8) + _ifd(entries, 8) + _ifd(list(exif), 8 + size0)
    return b"II*\0" + struct.pack("<I", 8) + _ifd(entries, 8)


#: EXIF written into :func:`make_jpeg` files (orientation is a separate argument).
JPEG_EXIF: dict[str, object] = {
    "camera_make": "Autoretouch",
    "camera_model": "Fixture Cam",
    "lens": "Fixture 35mm F2",
    "iso": 400.0,
    "shutter_s": 1 / 250,
    "aperture": 2.8,
    "focal_length_mm": 35.0,
    "exposure_bias_ev": -2 / 3,
    "datetime_original": "2024:05:17 10:11:12",
}


def _exif_entries(orientation: int) -> tuple[list[tuple[int, int, object]], list[tuple[int, int, object]]]:
    e = JPEG_EXIF
    ifd0: list[tuple[int, int, object]] = [
        (0x010F, 2, e["camera_make"]),
        (0x0110, 2, e["camera_model"]),
        (0x0112, 3, orientation),
    ]
    exif: list[tuple[int, int, object]] = [
        (0x829A, 5, [(1, 250)]),
        (0x829D, 5, [(28, 10)]),
        (0x8827, 3, 400),
        (0x9003, 2, e["datetime_original"]),
        (0x9204, 10, [(-2, 3)]),
        (0x920A, 5, [(35, 1)]),
        (0xA434, 2, e["lens"]),
    ]
    return ifd0, exif


# ---------------------------------------------------------------------------------------------------
# Test content


def pattern_rgb(height: int = 48, width: int = 64, dtype: type = np.uint8) -> np.ndarray:
    """A deterministic RGB test image, ``(H, W, 3)``: smooth ramps plus a pure red 8x8 block at the top-left.

    Args:
        height: rows.
        width: columns.
        dtype: ``np.uint8``, ``np.uint16`` or ``np.float32`` (values in [0, 1]).

    Returns:
        The image; red block at rows 0..7, columns 0..7 (stored orientation).
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.stack(
        [0.15 + 0.7 * x / max(width - 1, 1), 0.15 + 0.7 * y / max(height - 1, 1), 0.5 + 0.3 * np.sin(x / 7.0)], axis=-1
    )
    img[:8, :8] = (1.0, 0.0, 0.0)
    if dtype == np.float32:
        return img.astype(np.float32)
    top = np.iinfo(dtype).max
    return np.round(img * top).astype(dtype)


def prophoto_icc_profile() -> bytes:
    """A ProPhoto RGB (ROMM) matrix/TRC profile: D50 primaries, gamma 1.8 ``curv`` TRC."""
    colorants = REC2020_TO_XYZ_D50 @ PROPHOTO_TO_REC2020
    return build_icc_profile("ProPhoto RGB", colorants, (0.9642, 1.0, 0.8249), 1.8)


def make_tiff(
    directory: Path,
    name: str = "photo.tif",
    *,
    bit_depth: int = 16,
    icc: str | None = "prophoto",
    height: int = 48,
    width: int = 64,
    lzw: bool = False,
) -> Path:
    """Write :func:`pattern_rgb` as an RGB TIFF.

    Args:
        directory: target folder.
        name: file name.
        bit_depth: 8, 16 or 32 (float32).
        icc: ``"prophoto"``, ``"srgb"`` or ``None`` (no profile).
        height: rows.
        width: columns.
        lzw: write LZW-compressed with OpenCV (8/16-bit; no ICC) instead of uncompressed with tifffile.

    Returns:
        The path written.
    """
    dtype = {8: np.uint8, 16: np.uint16, 32: np.float32}[bit_depth]
    img = pattern_rgb(height, width, dtype)
    path = Path(directory) / name
    if lzw:
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_TIFF_COMPRESSION, 5])
        return path
    profile = {"prophoto": prophoto_icc_profile, "srgb": srgb_icc_profile}[icc]() if icc else None
    tifffile.imwrite(path, img, photometric="rgb", iccprofile=profile, metadata=None)
    return path


def make_jpeg(
    directory: Path,
    name: str = "photo.jpg",
    *,
    orientation: int | None = 6,
    height: int = 48,
    width: int = 64,
    quality: int = 95,
) -> Path:
    """Write :func:`pattern_rgb` as a baseline JPEG with an EXIF APP1 (``orientation=None``: no EXIF)."""
    bgr = cv2.cvtColor(pattern_rgb(height, width), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    jpeg = buf.tobytes()
    if orientation is not None:
        payload = b"Exif\0\0" + build_exif_tiff(*_exif_entries(orientation))
        jpeg = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
    path = Path(directory) / name
    path.write_bytes(jpeg)
    return path


def _encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def _exif_with_thumbnail(orientation: int, thumbnail: bytes) -> bytes:
    """EXIF TIFF (:data:`JPEG_EXIF`) whose IFD0 links to an IFD1 holding a JPEG thumbnail."""
    ifd0, exif = _exif_entries(orientation)
    tiff = build_exif_tiff(ifd0, exif)
    tiff += b"\0" * (len(tiff) % 2)
    ifd1_at = len(tiff)

    def ifd1(offset: int) -> bytes:
        return _ifd([(0x0103, 3, 6), (0x0201, 4, offset), (0x0202, 4, len(thumbnail))], ifd1_at)

    ifd1_bytes = ifd1(ifd1_at + len(ifd1(0)))
    next_at = 8 + 2 + 12 * (len(ifd0) + 1)  # IFD0 has the ExifIFD pointer as well
    tiff = tiff[:next_at] + struct.pack("<I", ifd1_at) + tiff[next_at + 4 :]
    return tiff + ifd1_bytes + thumbnail


def _mpf_segment(main_size: int, preview_offset: int, preview_size: int) -> bytes:
    """APP2 ``MPF`` segment listing the primary image and one large-thumbnail preview."""
    entries = struct.pack("<IIIHH", 0x030000, main_size, 0, 0, 0)
    entries += struct.pack("<IIIHH", 0x010001, preview_size, preview_offset, 0, 0)
    tiff = b"II*\0" + struct.pack("<I", 8) + _ifd([(0xB000, 7, b"0100"), (0xB001, 4, 2), (0xB002, 7, entries)], 8)
    payload = b"MPF\0" + tiff
    return b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload


def make_camera_jpeg(
    directory: Path,
    main_rgb: np.ndarray,
    thumbnail_rgb: np.ndarray,
    *,
    preview_rgb: np.ndarray | None = None,
    orientation: int = 1,
    name: str = "camera.jpg",
) -> Path:
    """Write a JPEG as a camera would: EXIF with an IFD1 thumbnail, optionally an MPF large preview.

    Args:
        directory: where to write.
        main_rgb: ``(H, W, 3)`` uint8 RGB of the main image.
        thumbnail_rgb: ``(h, w, 3)`` uint8 RGB of the EXIF thumbnail (tests may make it differ from the
            main image to see which one a decoder used).
        preview_rgb: ``(h, w, 3)`` uint8 RGB of an MPF preview appended after the main image, or ``None``.
        orientation: EXIF orientation written into IFD0.
        name: file name.

    Returns:
        The path written.
    """
    main = _encode_jpeg(main_rgb, 95)
    payload = b"Exif\0\0" + _exif_with_thumbnail(orientation, _encode_jpeg(thumbnail_rgb))
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    if preview_rgb is None:
        data = main[:2] + app1 + main[2:]
    else:
        preview = _encode_jpeg(preview_rgb)
        size = len(main) + len(app1) + len(_mpf_segment(0, 0, 0))
        mpf_tiff_at = 2 + len(app1) + 4 + len(b"MPF\0")  # SOI, APP1, APP2 marker + length, MPF id
        app2 = _mpf_segment(size, size - mpf_tiff_at, len(preview))
        data = main[:2] + app1 + app2 + main[2:] + preview
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def make_png(
    directory: Path,
    name: str = "photo.png",
    *,
    bit_depth: int = 8,
    mode: str = "rgb",
    height: int = 48,
    width: int = 64,
    orientation: int | None = None,
) -> Path:
    """Write :func:`pattern_rgb` as a PNG.

    Args:
        directory: target folder.
        name: file name.
        bit_depth: 8 or 16.
        mode: ``"rgb"``, ``"rgba"`` (alpha = 128 everywhere) or ``"grey"`` (the green channel).
        height: rows.
        width: columns.
        orientation: when given, an ``eXIf`` chunk with this EXIF orientation (and :data:`JPEG_EXIF`).

    Returns:
        The path written.
    """
    img = pattern_rgb(height, width, np.uint8 if bit_depth == 8 else np.uint16)
    if mode == "grey":
        out = img[:, :, 1]
    else:
        out = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        if mode == "rgba":
            alpha = np.full((*img.shape[:2], 1), np.iinfo(img.dtype).max // 2, dtype=img.dtype)
            out = np.concatenate([out, alpha], axis=-1)
    path = Path(directory) / name
    ok, buf = cv2.imencode(".png", out)
    assert ok
    png = buf.tobytes()
    if orientation is not None:
        ihdr_end = 8 + 8 + 13 + 4
        png = png[:ihdr_end] + _png_chunk(b"eXIf", build_exif_tiff(*_exif_entries(orientation))) + png[ihdr_end:]
    path.write_bytes(png)
    return path


# ---------------------------------------------------------------------------------------------------
# DNG

DNG_BLACK = 256
DNG_WHITE = 16383
#: AsShotNeutral of :func:`make_dng` (G = 1): the camera saw white as (0.5, 1, 0.8).
DNG_NEUTRAL = (0.5, 1.0, 0.8)
#: Patches of the stored (un-oriented) DNG frame: name -> (rows, columns, white-balanced camera RGB,
#: which equals linear sRGB because ColorMatrix1 is XYZ -> sRGB).
DNG_PATCHES: dict[str, tuple[slice, slice, tuple[float, float, float]]] = {
    "grey": (slice(0, 48), slice(0, 32), (0.18, 0.18, 0.18)),
    "colour": (slice(0, 24), slice(32, 64), (0.30, 0.12, 0.05)),
    "bright": (slice(24, 48), slice(32, 64), (0.60, 0.60, 0.60)),
}
_XYZ_D65_TO_SRGB = np.linalg.inv(REC2020_TO_XYZ_D65 @ SRGB_TO_REC2020)


def _srational(values: np.ndarray) -> list[tuple[int, int]]:
    return [(round(float(v) * 10000), 10000) for v in values.ravel()]


def make_dng(
    directory: Path,
    name: str = "tiny.dng",
    *,
    orientation: int = 1,
    neutral: tuple[float, float, float] = DNG_NEUTRAL,
    height: int = 48,
    width: int = 64,
) -> Path:
    """Write an uncompressed RGGB 16-bit CFA DNG of :data:`DNG_PATCHES` (scaled to ``height`` x ``width``).

    Tags: DNGVersion 1.4, Make/Model/UniqueCameraModel, CFA 2x2 RGGB, BlackLevel 256, WhiteLevel 16383,
    ColorMatrix1 = XYZ -> linear sRGB with CalibrationIlluminant1 = D65, AsShotNeutral, Orientation and
    TIFF/EP-style EXIF in IFD0 (ISO 200, 1/125 s, f/4, 50 mm, +0.3 EV).

    Args:
        directory: target folder.
        name: file name.
        orientation: EXIF orientation written to the Orientation tag.
        neutral: AsShotNeutral (camera RGB of a white object).
        height: rows (even).
        width: columns (even).

    Returns:
        The path written.
    """
    wb = np.zeros((height, width, 3))
    for rows, cols, rgb in DNG_PATCHES.values():
        r = slice(rows.start * height // 48, rows.stop * height // 48)
        c = slice(cols.start * width // 64, cols.stop * width // 64)
        wb[r, c] = rgb
    camera = wb * np.asarray(neutral)
    cfa = np.empty((height, width))
    cfa[0::2, 0::2] = camera[0::2, 0::2, 0]
    cfa[0::2, 1::2] = camera[0::2, 1::2, 1]
    cfa[1::2, 0::2] = camera[1::2, 0::2, 1]
    cfa[1::2, 1::2] = camera[1::2, 1::2, 2]
    raw = np.round(DNG_BLACK + np.clip(cfa, 0, 1) * (DNG_WHITE - DNG_BLACK)).astype(np.uint16)
    extratags = [
        (271, "s", 0, "Autoretouch", True),
        (272, "s", 0, "Synthetic DNG", True),
        (274, "H", 1, orientation, True),
        (33421, "H", 2, (2, 2), True),
        (33422, "B", 4, (0, 1, 1, 2), True),
        (33434, "2I", 1, (1, 125), True),
        (33437, "2I", 1, (4, 1), True),
        (34855, "H", 1, 200, True),
        (36867, "s", 0, "2024:05:17 10:11:12", True),
        (37380, "2i", 1, (3, 10), True),
        (37386, "2I", 1, (50, 1), True),
        (50706, "B", 4, (1, 4, 0, 0), True),
        (50707, "B", 4, (1, 1, 0, 0), True),
        (50708, "s", 0, "Autoretouch Synthetic DNG", True),
        (50713, "H", 2, (1, 1), True),
        (50714, "I", 1, DNG_BLACK, True),
        (50717, "I", 1, DNG_WHITE, True),
        (50721, "2i", 9, tuple(v for pair in _srational(_XYZ_D65_TO_SRGB) for v in pair), True),
        (50728, "2I", 3, tuple(v for x in neutral for v in (round(x * 10000), 10000)), True),
        (50778, "H", 1, 21, True),
    ]
    path = Path(directory) / name
    tifffile.imwrite(
        path,
        raw,
        photometric=32803,
        subfiletype=0,
        software="autoretouch testing.fixtures",
        metadata=None,
        extratags=extratags,
    )
    return path


# ---------------------------------------------------------------------------------------------------
# Damaged files


def make_zero_byte(directory: Path, name: str = "empty.jpg") -> Path:
    """An empty file."""
    path = Path(directory) / name
    path.write_bytes(b"")
    return path


def make_text_file(directory: Path, name: str = "notes.jpg") -> Path:
    """A text file (with a photo extension)."""
    path = Path(directory) / name
    path.write_text("These are not the pixels you are looking for.\n" * 20)
    return path


def make_truncated(source: Path, directory: Path, fraction: float = 0.6, name: str | None = None) -> Path:
    """Copy the first ``fraction`` of ``source`` into ``directory`` (same name unless ``name`` is given)."""
    data = Path(source).read_bytes()
    path = Path(directory) / (name or ("truncated_" + Path(source).name))
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def make_png_bomb(directory: Path, name: str = "bomb.png", width: int = 20000, height: int = 20000) -> Path:
    """A PNG whose IHDR claims ``width`` x ``height`` RGB pixels but that carries almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def make_tiff_bomb(directory: Path, name: str = "bomb.tif", width: int = 20000, height: int = 20000) -> Path:
    """A TIFF whose IFD0 claims ``width`` x ``height`` 8-bit RGB pixels in one 16-byte strip."""
    entries: list[tuple[int, int, object]] = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, [8, 8, 8]),
        (259, 3, 1),
        (262, 3, 2),
        (273, 4, 0),  # patched below
        (277, 3, 3),
        (278, 4, height),
        (279, 4, 16),
        (284, 3, 1),
    ]
    head = b"II*\0" + struct.pack("<I", 8) + _ifd(entries, 8)
    entries[5] = (273, 4, len(head))
    head = b"II*\0" + struct.pack("<I", 8) + _ifd(entries, 8)
    path = Path(directory) / name
    path.write_bytes(head + b"\0" * 16)
    return path


def copy_as(source: Path, directory: Path, name: str) -> Path:
    """Copy ``source`` to ``directory/name`` (e.g. to give a file a misleading extension)."""
    path = Path(directory) / name
    shutil.copyfile(source, path)
    return path


def grey_ramp() -> np.ndarray:
    """A 48 x 32 grey ramp: ``(32, 48, 3)`` uint8, each row 0 (left) to 255 (right), the same in every channel."""
    return np.tile(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], (32, 1, 3))


def gradient_jpeg_named(path: Path) -> Path:
    """Write :func:`grey_ramp` as a JPEG at ``path``, whatever its name holds (a line break, an escape sequence).

    OpenCV may not take every name, so the file is written beside it as ``tmp.jpg`` and renamed.

    Args:
        path: where the JPEG goes (its folder must exist).

    Returns:
        ``path``.
    """
    image = grey_ramp()
    written = path.with_name("tmp.jpg")
    assert cv2.imwrite(str(written), image), written
    written.rename(path)
    return path
