"""Result types and limits of the decoders.

Every decoder returns a :class:`DecodedImage` whose ``image`` is a ``(1, 3, H, W)`` float32 tensor in
**linear Rec.2020 (D65)**, upright (EXIF/raw orientation applied). 1.0 is the encoding's white (255,
65535, 1.0 float) or, for raws, the sensor's white level after white balance (LibRaw clips there, so raw
values lie in [0, 1]); float TIFFs and colours outside Rec.2020 may leave [0, 1] (nothing is clamped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "RAW_EXTENSIONS",
    "AsShotWhiteBalance",
    "DecodedImage",
    "ExifInfo",
]

#: Largest image (width x height of the full-resolution image, in pixels) the decoders accept.
#: 160 MP covers every current camera (Phase One IQ4 150 MP = 151 MP, Fujifilm GFX100 = 102 MP) and
#: keeps a float32 working copy below 2 GB; anything larger (a 200-MP decompression bomb, a giant
#: panorama) is refused from its header, before any pixel buffer is allocated.
DEFAULT_MAX_PIXELS: int = 160_000_000

#: Lower-case file extensions (no dot) of camera raw formats. Used for naming decisions (sidecars) and as
#: a tie-breaker when a TIFF-structured file carries no raw marker; :func:`sniff_kind` decides by content.
RAW_EXTENSIONS: frozenset[str] = frozenset(
    {
        "3fr", "ari", "arw", "bay", "cap", "cr2", "cr3", "crw", "dcr", "dcs", "dng", "drf", "eip", "erf",
        "fff", "gpr", "iiq", "k25", "kdc", "mdc", "mef", "mos", "mrw", "nef", "nrw", "orf", "ori", "pef",
        "ptx", "pxn", "raf", "raw", "rw2", "rwl", "rwz", "sr2", "srf", "srw", "sti", "x3f",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ExifInfo:
    """Shooting metadata (all fields optional except ``orientation``).

    Attributes:
        camera_make: manufacturer as written by the camera (e.g. ``"Canon"``).
        camera_model: model name.
        lens: lens model, when recorded.
        iso: ISO speed.
        shutter_s: exposure time in seconds.
        aperture: f-number.
        focal_length_mm: focal length in millimetres (actual, not 35-mm equivalent).
        orientation: EXIF orientation 1..8 (1 = upright; 1 when absent). The decoders apply it.
        exposure_bias_ev: exposure compensation in EV.
        datetime_original: ``"YYYY:MM:DD HH:MM:SS"`` as recorded.
        colour_space: the colour space the EXIF declares (DCF / Exif 2.3 convention): ``"sRGB"`` (ColorSpace
            1), ``"Adobe RGB (1998)"`` (ColorSpace 0xFFFF "Uncalibrated" with interoperability index ``"R03"``,
            the DCF option file), ``"uncalibrated"`` (0xFFFF otherwise), ``None`` when not recorded. An
            embedded ICC profile overrides it.
    """

    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    iso: float | None = None
    shutter_s: float | None = None
    aperture: float | None = None
    focal_length_mm: float | None = None
    orientation: int = 1
    exposure_bias_ev: float | None = None
    datetime_original: str | None = None
    colour_space: str | None = None


@dataclass(frozen=True)
class AsShotWhiteBalance:
    """The camera's as-shot white balance of a raw.

    Attributes:
        multipliers: camera-RGB multipliers (R, G, B), normalised to G = 1.
        neutral: camera neutral, ``1 / multipliers`` (G = 1), as DNG's ``AsShotNeutral``.
        kelvin: Adobe-style Temperature in K of the as-shot illuminant, when a camera matrix is known.
        tint: Adobe-style Tint (positive = magenta; D65 gives about +9.8), when ``kelvin`` is known.
    """

    multipliers: tuple[float, float, float]
    neutral: tuple[float, float, float]
    kelvin: float | None = None
    tint: float | None = None


@dataclass(frozen=True)
class DecodedImage:
    """A decoded photo.

    Attributes:
        path: the source file, ``None`` for in-memory bytes.
        image: ``(1, 3, H, W)`` float32 tensor, linear Rec.2020 (D65), orientation applied, not clamped.
        kind: ``"raw"``, ``"tiff"``, ``"jpeg"`` or ``"png"``.
        is_raw: ``kind == "raw"``.
        full_width: width of the full-resolution image after orientation (also for previews).
        full_height: height of the full-resolution image after orientation.
        exif: shooting metadata.
        as_shot: as-shot white balance (raws only, else ``None``).
        colour_note: how the colours were interpreted, e.g. ``"sRGB (assumed, no profile)"``.
    """

    path: Path | None
    image: torch.Tensor
    kind: str
    is_raw: bool
    full_width: int
    full_height: int
    exif: ExifInfo
    as_shot: AsShotWhiteBalance | None
    colour_note: str
