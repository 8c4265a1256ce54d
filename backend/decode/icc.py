"""Minimal ICC profile support: read matrix/TRC (and grey TRC) profiles, write one.

Reading covers what photo files embed in practice: RGB display profiles with ``rXYZ/gXYZ/bXYZ``
colorants (relative to the D50 PCS, as ICC requires) and ``rTRC/gTRC/bTRC`` curves of type ``curv``
(identity, gamma or sampled table) or ``para`` (the five ICC v4 parametric functions), and grey profiles
with ``kTRC``. LUT-based profiles (``A2B0`` only), CMYK and Lab profiles are reported as unsupported.
Colorant sets of known spaces (sRGB, Adobe RGB (1998), ProPhoto RGB, Rec.2020, Display P3) are recognised
within 0.002 and replaced by their exact matrices.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from backend.render.color import (
    PROPHOTO_TO_REC2020,
    REC2020_TO_XYZ_D50,
    REC2020_TO_XYZ_D65,
    SRGB_TO_REC2020,
    rgb_to_xyz_matrix,
)

__all__ = [
    "SRGB_TRC",
    "IccError",
    "IccProfile",
    "Trc",
    "build_icc_profile",
    "parse_icc",
    "srgb_icc_profile",
]

_D65_XY = (0.3127, 0.3290)
_XYZ_D50_TO_REC2020 = np.linalg.inv(REC2020_TO_XYZ_D50)


def _d65_space_to_rec2020(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    return np.linalg.inv(REC2020_TO_XYZ_D65) @ rgb_to_xyz_matrix(primaries, _D65_XY)


#: name -> exact linear-RGB -> linear-Rec.2020 matrix of spaces recognised by their colorants.
KNOWN_SPACES: dict[str, np.ndarray] = {
    "sRGB": SRGB_TO_REC2020,
    "Adobe RGB (1998)": _d65_space_to_rec2020(((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))),
    "ProPhoto RGB": PROPHOTO_TO_REC2020,
    "Rec.2020": np.eye(3),
    "Display P3": _d65_space_to_rec2020(((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))),
}
_COLORANT_TOLERANCE = 0.002


class IccError(ValueError):
    """An embedded profile that is malformed or of a kind these decoders do not apply."""


@dataclass(frozen=True, eq=False)
class Trc:
    """A tone reproduction curve (encoded value -> linear), domain [0, 1]. Compared and hashed by identity.

    Attributes:
        kind: ``"srgb"`` (the exact IEC 61966-2-1 curve), ``"gamma"``, ``"table"`` or ``"para"``.
        gamma: the exponent (``"gamma"``, and ``g`` of ``"para"``).
        table: sampled curve values in [0, 1] (``"table"``), evenly spaced over [0, 1].
        params: parametric curve ``(type, g, a, b, c, d, e, f)`` (``"para"``; missing ones are 0).
    """

    kind: str
    gamma: float = 1.0
    table: np.ndarray | None = None
    params: tuple[float, ...] = ()

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Linearise encoded values.

        Args:
            x: encoded values, any shape; nominally [0, 1]. Gamma curves extend oddly outside, tables and
                parametric curves clamp to their end points.

        Returns:
            float64 linear values, same shape.
        """
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "srgb":
            return np.copysign(_srgb_decode(np.abs(x)), x)
        if self.kind == "gamma":
            return np.copysign(np.abs(x) ** self.gamma, x)
        if self.kind == "table":
            assert self.table is not None
            grid = np.linspace(0.0, 1.0, self.table.size)
            return np.interp(x, grid, self.table)
        return _parametric(np.clip(x, 0.0, 1.0), self.params)

    def is_identity(self) -> bool:
        """True when the curve is linear within 1e-4."""
        probe = np.linspace(0.0, 1.0, 257)
        return bool(np.max(np.abs(self.evaluate(probe) - probe)) < 1e-4)

    def is_srgb(self) -> bool:
        """True when the curve is the sRGB transfer function within 1e-3."""
        probe = np.linspace(0.0, 1.0, 1025)
        return bool(np.max(np.abs(self.evaluate(probe) - _srgb_decode(probe))) < 1e-3)


#: The exact sRGB curve.
SRGB_TRC = Trc("srgb")


def _srgb_decode(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4)


def _parametric(x: np.ndarray, p: tuple[float, ...]) -> np.ndarray:
    ftype, g, a, b, c, d, e, f = (p + (0.0,) * 8)[:8]
    base = np.maximum(a * x + b, 0.0)
    if ftype == 0:
        return x**g
    if ftype == 1:
        return np.where(x >= -b / a, base**g, 0.0)
    if ftype == 2:
        return np.where(x >= -b / a, base**g + c, c)
    if ftype == 3:
        return np.where(x >= d, base**g, c * x)
    return np.where(x >= d, base**g + e, c * x + f)


_PARA_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}


@dataclass(frozen=True)
class IccProfile:
    """The parts of an ICC profile the decoders use.

    Attributes:
        description: the profile's ``desc`` text (may be empty).
        colour_space: ``"RGB"`` or ``"GRAY"``.
        trcs: three curves (R, G, B) or one (grey).
        to_rec2020: ``(3, 3)`` matrix, linear profile RGB -> linear Rec.2020 (D65); identity for grey.
        known_space: name from :data:`KNOWN_SPACES` when the colorants match one, else ``None``.
    """

    description: str
    colour_space: str
    trcs: tuple[Trc, ...]
    to_rec2020: np.ndarray
    known_space: str | None

    def label(self) -> str:
        """Short human-readable name: the known space, else the description."""
        if self.colour_space == "GRAY":
            return "greyscale"
        return self.known_space or (self.description or "unnamed matrix/TRC profile")


def _s15(data: bytes, at: int, n: int) -> tuple[float, ...]:
    return tuple(v / 65536.0 for v in struct.unpack_from(f">{n}i", data, at))


def _read_text(tag: bytes) -> str:
    sig = tag[:4]
    if sig == b"desc" and len(tag) >= 12:
        (count,) = struct.unpack_from(">I", tag, 8)
        return tag[12 : 12 + count].split(b"\0", 1)[0].decode("latin-1", "replace").strip()
    if sig == b"mluc" and len(tag) >= 28:
        (nrec,) = struct.unpack_from(">I", tag, 8)
        if nrec:
            length, offset = struct.unpack_from(">II", tag, 20)
            return tag[offset : offset + length].decode("utf-16-be", "replace").strip("\0 ")
    if sig == b"text":
        return tag[8:].split(b"\0", 1)[0].decode("latin-1", "replace").strip()
    return ""


def _read_trc(tag: bytes) -> Trc:
    sig = tag[:4]
    if sig == b"curv" and len(tag) >= 12:
        (count,) = struct.unpack_from(">I", tag, 8)
        if count == 0:
            return Trc("gamma", 1.0)
        if len(tag) < 12 + 2 * count:
            raise IccError("curv tag shorter than its entry count")
        if count == 1:
            return Trc("gamma", struct.unpack_from(">H", tag, 12)[0] / 256.0)
        table = np.frombuffer(tag, dtype=">u2", count=count, offset=12).astype(np.float64) / 65535.0
        return Trc("table", table=table)
    if sig == b"para" and len(tag) >= 12:
        (ftype,) = struct.unpack_from(">H", tag, 8)
        if ftype not in _PARA_COUNTS or len(tag) < 12 + 4 * _PARA_COUNTS[ftype]:
            raise IccError(f"unsupported parametric curve type {ftype}")
        values = _s15(tag, 12, _PARA_COUNTS[ftype])
        if ftype >= 1 and values[1] == 0:
            raise IccError("parametric curve with a = 0")
        return Trc("para", gamma=values[0], params=(float(ftype), *values))
    raise IccError(f"unsupported TRC tag type {sig!r}")


def parse_icc(data: bytes) -> IccProfile:
    """Parse a matrix/TRC RGB or a TRC grey ICC profile.

    Args:
        data: the profile bytes (ICC v2 or v4).

    Returns:
        The parsed :class:`IccProfile`.

    Raises:
        IccError: malformed profile, or one that is not a matrix/TRC RGB or grey profile.
    """
    if len(data) < 132 or data[36:40] != b"acsp":
        raise IccError("not an ICC profile (no 'acsp' signature)")
    space = data[16:20]
    pcs = data[20:24]
    (count,) = struct.unpack_from(">I", data, 128)
    if count > 200 or 132 + 12 * count > len(data):
        raise IccError("ICC tag table runs past the end of the profile")
    tags: dict[bytes, bytes] = {}
    for i in range(count):
        sig, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        if offset + size <= len(data):
            tags[sig] = data[offset : offset + size]
    description = _read_text(tags.get(b"desc", b""))
    if pcs not in (b"XYZ ", b"Lab "):
        raise IccError(f"unsupported profile connection space {pcs!r}")
    if space == b"GRAY":
        if b"kTRC" not in tags:
            raise IccError("grey profile without kTRC")
        return IccProfile(description, "GRAY", (_read_trc(tags[b"kTRC"]),), np.eye(3), None)
    if space != b"RGB ":
        raise IccError(f"unsupported colour space {space.decode('latin-1')!r}")
    needed = (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")
    if not all(t in tags for t in needed):
        raise IccError(f"profile {description!r} is not a matrix/TRC profile (LUT-based profiles are not applied)")
    columns = []
    for sig in (b"rXYZ", b"gXYZ", b"bXYZ"):
        tag = tags[sig]
        if tag[:4] != b"XYZ " or len(tag) < 20:
            raise IccError(f"malformed {sig.decode()} tag")
        columns.append(_s15(tag, 8, 3))
    colorants = np.array(columns, dtype=np.float64).T
    trcs = tuple(_read_trc(tags[t]) for t in (b"rTRC", b"gTRC", b"bTRC"))
    trcs = tuple(SRGB_TRC if t.kind != "gamma" and t.is_srgb() else t for t in trcs)
    known = None
    to_rec2020 = _XYZ_D50_TO_REC2020 @ colorants
    for name, matrix in KNOWN_SPACES.items():
        if np.max(np.abs(REC2020_TO_XYZ_D50 @ matrix - colorants)) < _COLORANT_TOLERANCE:
            known, to_rec2020 = name, matrix
            break
    return IccProfile(description, "RGB", trcs, to_rec2020, known)


# ---------------------------------------------------------------------------------------------------
# Writing


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _s15_bytes(values: np.ndarray | tuple[float, ...]) -> bytes:
    return struct.pack(f">{len(values)}i", *(round(float(v) * 65536.0) for v in values))


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii", "replace") + b"\0"
    body = b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text
    return body + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67


def _curv_tag(trc: float | np.ndarray) -> bytes:
    if isinstance(trc, float | int):
        return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(float(trc) * 256.0))
    table = np.round(np.clip(np.asarray(trc, dtype=np.float64), 0.0, 1.0) * 65535.0).astype(">u2")
    return b"curv" + b"\0" * 4 + struct.pack(">I", table.size) + table.tobytes()


def build_icc_profile(
    description: str,
    colorants_d50: np.ndarray,
    white_xyz: np.ndarray | tuple[float, float, float],
    trc: float | np.ndarray,
    copyright_text: str = "No copyright, use freely",
) -> bytes:
    """Write an ICC v2.1 RGB display profile of the matrix/TRC kind.

    Args:
        description: ``desc`` text.
        colorants_d50: ``(3, 3)`` matrix whose columns are the XYZ (D50 PCS) of the R, G and B primaries.
        white_xyz: ``wtpt`` (the media white, Y = 1).
        trc: one curve for all three channels: a gamma exponent, or a sampled table over [0, 1].
        copyright_text: ``cprt`` text.

    Returns:
        The profile bytes.
    """
    colorants = np.asarray(colorants_d50, dtype=np.float64)
    xyz = [b"XYZ " + b"\0" * 4 + _s15_bytes(colorants[:, i]) for i in range(3)]
    curve = _curv_tag(trc)
    entries: list[tuple[bytes, bytes]] = [
        (b"desc", _desc_tag(description)),
        (b"cprt", b"text" + b"\0" * 4 + copyright_text.encode("ascii", "replace") + b"\0"),
        (b"wtpt", b"XYZ " + b"\0" * 4 + _s15_bytes(tuple(white_xyz))),
        (b"rXYZ", xyz[0]),
        (b"gXYZ", xyz[1]),
        (b"bXYZ", xyz[2]),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(entries)
    table = b""
    blob = b""
    placed: dict[bytes, int] = {}
    for sig, body in entries:
        if body not in placed:  # the three TRC tags share one curve
            placed[body] = offset + len(blob)
            blob += _pad4(body)
        table += struct.pack(">4sII", sig, placed[body], len(body))
    size = offset + len(blob)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\0\0\0\0", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + _s15_bytes((0.9642, 1.0, 0.8249))
        + b"\0" * 4  # creator
        + b"\0" * 16  # profile ID
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(entries)) + table + blob


def srgb_icc_profile() -> bytes:
    """An sRGB IEC61966-2.1 profile (Bradford-adapted colorants, 1024-point TRC, D65 media white)."""
    colorants = REC2020_TO_XYZ_D50 @ SRGB_TO_REC2020
    grid = np.linspace(0.0, 1.0, 1024)
    white = rgb_to_xyz_matrix(((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)), _D65_XY).sum(axis=1)
    return build_icc_profile("sRGB IEC61966-2.1 (autoretouch)", colorants, white, _srgb_decode(grid))
