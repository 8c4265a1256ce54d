"""Camera raws through rawpy/LibRaw.

Full decode: ``postprocess`` with PPG demosaicing (2-3x faster than LibRaw's default AHD at 24 MP, the
quality darktable also offers), the camera's as-shot white balance (``use_camera_wb``), no auto
brightening, linear output (gamma 1, 1), 16 bits, output colour space **Rec.2020**, highlights clipped,
and a fixed white level (``adjust_maximum_thr=0``: the declared white maps to 1.0 whatever the content).
LibRaw converts camera RGB -> linear sRGB (D65) with the camera matrix and then applies its ``rec2020_rgb``
matrix, which is the same D65 -> D65 conversion as :data:`backend.render.color.SRGB_TO_REC2020` (equal to
5e-5). Its ProPhoto output is Bradford-adapted to D50 (it matches ``inv(PROPHOTO_TO_REC2020) @
SRGB_TO_REC2020`` to 2e-4) and its XYZ output is XYZ D50, so either would need our D50 -> D65 matrix
afterwards; Rec.2020 needs none and clips nothing inside the Rec.2020 gamut. LibRaw applies the
raw's orientation (``sizes.flip``) itself.

Preview: the embedded JPEG (or bitmap) thumbnail when it is at least 90 % of the requested long side
(camera-rendered sRGB, *not* scene-linear: the note says so), else a ``half_size`` LibRaw decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import rawpy

from backend.decode.convert import apply_orientation, preview_size, resize_to
from backend.decode.tiffdir import TiffDirectory, data_end, read_directories
from backend.decode.types import AsShotWhiteBalance, ExifInfo
from backend.decode.whitebalance import as_shot_white_balance, dng_colour
from backend.errors import CorruptImageError, ImageTooLargeError, UnsupportedFormatError

__all__ = ["RawResult", "decode_raw", "flip_to_orientation"]

# LibRaw ``flip`` (bit 0 mirror left-right, bit 1 mirror top-bottom, bit 2 transpose) -> EXIF orientation
_FLIP_TO_EXIF = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}


def flip_to_orientation(flip: int) -> int:
    """EXIF orientation (1..8) equivalent to LibRaw's ``sizes.flip``."""
    return _FLIP_TO_EXIF.get(int(flip) & 7, 1)


@dataclass(frozen=True)
class RawResult:
    """Pixels and metadata of a decoded raw.

    Attributes:
        pixels: ``(H, W, 3)`` RGB, upright: uint16 linear Rec.2020 (``linear``) or uint8 sRGB-encoded
            (embedded preview).
        linear: whether ``pixels`` are LibRaw's linear Rec.2020 output.
        full_width: full-resolution width after orientation.
        full_height: full-resolution height after orientation.
        orientation: EXIF-equivalent orientation LibRaw applied.
        as_shot: as-shot white balance.
        exif: metadata LibRaw knows (fallback for exifread).
        colour_note: how the colours were obtained.
    """

    pixels: np.ndarray
    linear: bool
    full_width: int
    full_height: int
    orientation: int
    as_shot: AsShotWhiteBalance
    exif: ExifInfo
    colour_note: str


def _open(data: bytes, where: Path | None) -> rawpy.RawPy:
    try:
        return rawpy.imread(io.BytesIO(data))
    except rawpy.LibRawFileUnsupportedError as exc:
        raise UnsupportedFormatError(where, "not a camera raw format LibRaw can read") from exc
    except rawpy.LibRawTooBigError as exc:
        raise ImageTooLargeError(where, "raw image too large for LibRaw") from exc
    except (rawpy.LibRawError, ValueError, OSError) as exc:
        raise CorruptImageError(where, f"damaged raw file ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or type(exc).__name__


def _white_balance(raw: rawpy.RawPy, dirs: list[TiffDirectory]) -> tuple[AsShotWhiteBalance, str]:
    cam = np.asarray(raw.camera_whitebalance, dtype=np.float64)
    note = "as-shot WB"
    if not (cam[:3] > 0).all():
        cam = np.asarray(raw.daylight_whitebalance, dtype=np.float64)
        note = "camera WB missing: LibRaw daylight WB used"
        if not (cam[:3] > 0).all():
            cam = np.ones(4)
            note = "camera and daylight WB missing: unit multipliers"
    xyz_to_cam = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)[:3]
    return as_shot_white_balance(cam, xyz_to_cam if np.any(xyz_to_cam) else None, dng_colour(dirs)), note


def _libraw_exif(raw: rawpy.RawPy) -> ExifInfo:
    other = raw.other
    lens = raw.lens
    stamp = other.timestamp
    return ExifInfo(
        lens=(lens.model or None) if lens is not None else None,
        iso=float(other.iso_speed) if other.iso_speed > 0 else None,
        shutter_s=float(other.shutter_speed) if other.shutter_speed > 0 else None,
        aperture=float(other.aperture) if other.aperture > 0 else None,
        focal_length_mm=float(other.focal_length) if other.focal_length > 0 else None,
        datetime_original=stamp.strftime("%Y:%m:%d %H:%M:%S") if stamp is not None and stamp.year > 1970 else None,
    )


def _thumbnail(raw: rawpy.RawPy, flip: int, long_side: int) -> np.ndarray | None:
    """The embedded preview as upright RGB uint8, or ``None`` when absent, unreadable or too small."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, ValueError):
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        buf = np.frombuffer(thumb.data, dtype=np.uint8)
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if bgr is None:
            return None
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    elif thumb.format == rawpy.ThumbFormat.BITMAP:
        data = thumb.data  # an array for a bitmap (bytes only for JPEG; the isinstance says so to mypy)
        if not (isinstance(data, np.ndarray) and data.ndim == 3 and data.shape[2] == 3):
            return None
        rgb = np.asarray(data, dtype=np.uint8)
    else:
        return None
    if max(rgb.shape[:2]) < 0.9 * long_side:
        return None
    sizes = raw.sizes
    raw_landscape = sizes.width >= sizes.height
    thumb_landscape = rgb.shape[1] >= rgb.shape[0]
    # Embedded previews are normally stored like the sensor data; some cameras store them upright.
    if raw_landscape == thumb_landscape or sizes.width == sizes.height:
        rgb = apply_orientation(rgb, flip_to_orientation(flip))
    return rgb


def decode_raw(data: bytes, where: Path | None, *, preview: bool, long_side: int, max_pixels: int) -> RawResult:
    """Decode a camera raw held in memory.

    Args:
        data: the whole file.
        where: its path, for error messages (``None`` for bytes).
        preview: take the fast preview path (embedded thumbnail or half-size decode, resized so its long
            side is ``long_side``).
        long_side: preview long side in pixels.
        max_pixels: refuse raws whose sensor frame has more pixels (checked before unpacking).

    Returns:
        The :class:`RawResult`.

    Raises:
        UnsupportedFormatError: LibRaw does not know the format.
        CorruptImageError: truncated or damaged raw.
        ImageTooLargeError: more than ``max_pixels`` pixels.
    """
    dirs = read_directories(data) if data[:2] in (b"II", b"MM") else []
    for ifd in (d for top in dirs for d in top.walk()):
        if data_end(ifd) > len(data):
            raise CorruptImageError(where, "truncated: raw image data ends beyond the end of the file")
    with _open(data, where) as raw:
        sizes = raw.sizes
        if max(sizes.raw_width * sizes.raw_height, sizes.width * sizes.height) > max_pixels:
            raise ImageTooLargeError(
                where, f"{sizes.width}x{sizes.height} pixels exceed the limit of {max_pixels:,} pixels"
            )
        if sizes.width == 0 or sizes.height == 0:
            raise CorruptImageError(where, "raw file without image dimensions")
        flip = int(sizes.flip)
        orientation = flip_to_orientation(flip)
        full_w, full_h = (sizes.height, sizes.width) if flip & 4 else (sizes.width, sizes.height)
        as_shot, wb_note = _white_balance(raw, dirs)
        exif = _libraw_exif(raw)
        if preview:
            thumb = _thumbnail(raw, flip, long_side)
            if thumb is not None:
                pixels = resize_to(thumb, preview_size(thumb.shape[1], thumb.shape[0], long_side))
                note = "embedded camera JPEG preview (sRGB, camera-rendered, not scene-linear)"
                return RawResult(pixels, False, full_w, full_h, orientation, as_shot, exif, note)
        try:
            rgb = raw.postprocess(
                demosaic_algorithm=rawpy.DemosaicAlgorithm.PPG,
                use_camera_wb=True,
                use_auto_wb=False,
                no_auto_bright=True,
                gamma=(1.0, 1.0),
                output_bps=16,
                output_color=rawpy.ColorSpace.Rec2020,
                highlight_mode=rawpy.HighlightMode.Clip,
                adjust_maximum_thr=0.0,
                half_size=preview,
                user_flip=None,
            )
        except rawpy.LibRawTooBigError as exc:
            raise ImageTooLargeError(where, "raw image too large for LibRaw") from exc
        except (rawpy.LibRawError, ValueError, MemoryError) as exc:
            raise CorruptImageError(where, f"damaged raw data ({_reason(exc)})") from exc
    if preview:
        rgb = resize_to(rgb, preview_size(rgb.shape[1], rgb.shape[0], long_side))
    note = f"camera matrix via LibRaw (Rec.2020 output, {wb_note})"
    return RawResult(rgb, True, full_w, full_h, orientation, as_shot, exif, note)
