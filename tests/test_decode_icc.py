"""ICC profile reading/writing, container parsing, the EXIF colour space and the as-shot Temperature/Tint conversion."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch

from backend.decode import decode_image, decode_preview
from backend.decode.containers import jpeg_info, png_info
from backend.decode.icc import KNOWN_SPACES, IccError, build_icc_profile, parse_icc, srgb_icc_profile
from backend.decode.tiffdir import read_directories
from backend.decode.whitebalance import DngColour, as_shot_white_balance, dng_colour, xy_to_temperature_tint
from backend.render.color import PROPHOTO_TO_REC2020, REC2020_TO_XYZ_D50, REC2020_TO_XYZ_D65, SRGB_TO_REC2020
from testing.fixtures import make_dng, make_jpeg, pattern_rgb, prophoto_icc_profile


def test_prophoto_profile_round_trip() -> None:
    profile = parse_icc(prophoto_icc_profile())
    assert profile.known_space == "ProPhoto RGB"
    assert profile.description == "ProPhoto RGB"
    np.testing.assert_array_equal(profile.to_rec2020, PROPHOTO_TO_REC2020)
    assert all(t.kind == "gamma" and t.gamma == 461 / 256 for t in profile.trcs)


def test_srgb_profile_is_recognised_with_exact_curve() -> None:
    profile = parse_icc(srgb_icc_profile())
    assert profile.known_space == "sRGB"
    np.testing.assert_array_equal(profile.to_rec2020, SRGB_TO_REC2020)
    assert all(t.kind == "srgb" for t in profile.trcs)
    assert profile.trcs[0].evaluate(np.array([0.5]))[0] == pytest.approx(0.21404114, abs=1e-7)


def _v4_profile(colorants: np.ndarray, description: str) -> bytes:
    """A v4-style profile with an 'mluc' description and 'para' (sRGB, function type 3) curves."""

    def s15(values: tuple[float, ...]) -> bytes:
        return struct.pack(f">{len(values)}i", *(round(v * 65536) for v in values))

    text = description.encode("utf-16-be")
    mluc = b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(text), 28) + text
    para = b"para" + bytes(4) + struct.pack(">HH", 3, 0) + s15((2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    tags = [(b"desc", mluc)] + [(s, b"XYZ " + bytes(4) + s15(tuple(colorants[:, i]))) for i, s in
                                enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))]  # fmt: skip
    tags += [(s, para) for s in (b"rTRC", b"gTRC", b"bTRC")]
    offset = 128 + 4 + 12 * len(tags)
    table, blob = b"", b""
    for sig, body in tags:
        table += struct.pack(">4sII", sig, offset + len(blob), len(body))
        blob += body + bytes(-len(body) % 4)
    header = struct.pack(">I4sI4s4s4s", offset + len(blob), bytes(4), 0x04300000, b"mntr", b"RGB ", b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(128 - 40)
    return header + struct.pack(">I", len(tags)) + table + blob


def test_v4_parametric_profile() -> None:
    colorants = REC2020_TO_XYZ_D50 @ SRGB_TO_REC2020
    profile = parse_icc(_v4_profile(colorants, "sRGB v4 test"))
    assert profile.description == "sRGB v4 test"
    assert profile.known_space == "sRGB"
    assert all(t.kind == "srgb" for t in profile.trcs)


def test_general_matrix_profile_and_table_curve() -> None:
    colorants = np.array([[0.5, 0.3, 0.15], [0.25, 0.7, 0.05], [0.02, 0.1, 0.7]])
    table = np.linspace(0, 1, 256) ** 2.0
    profile = parse_icc(build_icc_profile("Custom", colorants, (0.9642, 1.0, 0.8249), table))
    assert profile.known_space is None
    assert profile.label() == "Custom"
    np.testing.assert_allclose(profile.to_rec2020, np.linalg.inv(REC2020_TO_XYZ_D50) @ colorants, atol=2e-5)
    assert profile.trcs[0].kind == "table"
    np.testing.assert_allclose(profile.trcs[0].evaluate(np.array([0.5])), [0.25], atol=1e-4)


def test_unusable_profiles_raise() -> None:
    with pytest.raises(IccError):
        parse_icc(b"not a profile" * 20)
    lut_only = bytearray(prophoto_icc_profile())
    lut_only[lut_only.find(b"rXYZ")] = ord("z")  # rename rXYZ: no matrix any more
    with pytest.raises(IccError, match="not a matrix/TRC"):
        parse_icc(bytes(lut_only))
    cmyk = bytearray(prophoto_icc_profile())
    cmyk[16:20] = b"CMYK"
    with pytest.raises(IccError, match="CMYK"):
        parse_icc(bytes(cmyk))


def test_container_parsing(tmp_path: Path) -> None:
    data = make_jpeg(tmp_path, height=30, width=50).read_bytes()
    info = jpeg_info(data)
    assert (info.width, info.height, info.problem) == (50, 30, None)
    icc = srgb_icc_profile()
    body = b"ICC_PROFILE\0\x01\x01" + icc
    with_icc = data[:2] + b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body + data[2:]
    assert jpeg_info(with_icc).icc == icc
    assert jpeg_info(data[:-2]).problem is not None  # EOI cut off
    png_sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 7, 5, 8, 2, 0, 0, 0)

    def chunk(t: bytes, b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))

    png = png_sig + chunk(b"IHDR", ihdr) + chunk(b"iCCP", b"x\0\0" + zlib.compress(icc)) + chunk(b"IEND", b"")
    pinfo = png_info(png)
    assert (pinfo.width, pinfo.height, pinfo.icc, pinfo.problem) == (7, 5, icc, None)
    assert png_info(png[:-12]).problem is not None


# --------------------------------------------------------------------------------------------- EXIF colour space

_ADOBE = "Adobe RGB (1998)"
_UNCALIBRATED = 0xFFFF


def _adobe_rgb_icc() -> bytes:
    x, y = 0.3127, 0.3290  # D65
    white = (x / y, 1.0, (1 - x - y) / y)
    return build_icc_profile(_ADOBE, REC2020_TO_XYZ_D50 @ KNOWN_SPACES[_ADOBE], white, 563 / 256)


def _exif_colour_ifds(start: int, colour_space: int, interop_index: str | None) -> bytes:
    """Little-endian Exif IFD placed at ``start`` (ColorSpace, and an Interop IFD pointer), then the Interop IFD."""
    count = 2 if interop_index else 1
    exif = struct.pack("<H", count) + struct.pack("<HHIHH", 0xA001, 3, 1, colour_space, 0)
    interop = b""
    if interop_index:
        exif += struct.pack("<HHII", 0xA005, 4, 1, start + 2 + 12 * count + 4)
        index = struct.pack("<HHI4s", 0x0001, 2, 4, interop_index.encode("ascii").ljust(4, b"\0"))
        interop = struct.pack("<H", 2) + index + struct.pack("<HHI4s", 0x0002, 7, 4, b"0100") + b"\0" * 4
    return exif + b"\0" * 4 + interop


def _jpeg_app(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _exif_app1(colour_space: int, interop_index: str | None) -> bytes:
    """EXIF APP1 whose IFD0 holds only the Exif IFD pointer (IFD0 at 8, 18 bytes: the Exif IFD at 26)."""
    ifd0 = struct.pack("<HHHII", 1, 0x8769, 4, 1, 26) + b"\0" * 4
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd0 + _exif_colour_ifds(26, colour_space, interop_index)
    return _jpeg_app(0xE1, b"Exif\0\0" + tiff)


def _jpegs(tmp_path: Path) -> dict[str, Path]:
    """One encoded image of :func:`pattern_rgb` codes, with several colour declarations; name -> path."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(pattern_rgb(), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    jpeg = buf.tobytes()
    icc_app2 = _jpeg_app(0xE2, b"ICC_PROFILE\0\x01\x01" + _adobe_rgb_icc())
    srgb_app2 = _jpeg_app(0xE2, b"ICC_PROFILE\0\x01\x01" + srgb_icc_profile())
    headers = {
        "exif_adobe": _exif_app1(_UNCALIBRATED, "R03"),
        "icc_adobe": icc_app2,
        "exif_srgb": _exif_app1(1, "R98"),
        "exif_uncalibrated": _exif_app1(_UNCALIBRATED, "R98"),
        "exif_adobe_icc_srgb": _exif_app1(_UNCALIBRATED, "R03") + srgb_app2,
        "plain": b"",
    }
    paths = {}
    for name, header in headers.items():
        paths[name] = tmp_path / f"{name}.jpg"
        paths[name].write_bytes(jpeg[:2] + header + jpeg[2:])
    return paths


def test_jpeg_with_dcf_adobe_rgb_exif_is_read_as_adobe_rgb(tmp_path: Path) -> None:
    """No profile, EXIF ColorSpace Uncalibrated + interoperability index R03: Adobe RGB, as an embedded profile."""
    paths = _jpegs(tmp_path)
    exif_adobe, icc_adobe, plain = (decode_image(paths[n]) for n in ("exif_adobe", "icc_adobe", "plain"))
    torch.testing.assert_close(exif_adobe.image, icc_adobe.image)
    assert icc_adobe.colour_note == f"{_ADOBE} (embedded ICC)"
    assert exif_adobe.colour_note.startswith(_ADOBE) and "EXIF" in exif_adobe.colour_note
    assert exif_adobe.exif.colour_space == _ADOBE
    assert float((exif_adobe.image - plain.image).abs().max()) > 0.05  # not read as sRGB
    preview = decode_preview(paths["exif_adobe"], long_side=32)
    assert preview.colour_note == exif_adobe.colour_note
    torch.testing.assert_close(preview.image, decode_preview(paths["icc_adobe"], long_side=32).image)


@pytest.mark.parametrize(("name", "space"), [("exif_srgb", "sRGB"), ("exif_uncalibrated", "uncalibrated")])
def test_jpeg_with_other_exif_colour_spaces_stays_srgb(tmp_path: Path, name: str, space: str) -> None:
    paths = _jpegs(tmp_path)
    decoded, plain = decode_image(paths[name]), decode_image(paths["plain"])
    assert decoded.exif.colour_space == space and plain.exif.colour_space is None
    assert decoded.colour_note == plain.colour_note == "sRGB (assumed, no profile)"
    assert torch.equal(decoded.image, plain.image)


def test_embedded_profile_wins_over_the_exif_colour_space(tmp_path: Path) -> None:
    decoded = decode_image(_jpegs(tmp_path)["exif_adobe_icc_srgb"])
    assert decoded.colour_note == "sRGB (embedded ICC)"
    assert torch.equal(decoded.image, decode_image(_jpegs(tmp_path)["plain"]).image)


def test_png_with_dcf_adobe_rgb_exif_is_read_as_adobe_rgb_unless_it_has_an_srgb_chunk(tmp_path: Path) -> None:
    from PIL import Image

    tiff = _exif_app1(_UNCALIBRATED, "R03")[4 + len(b"Exif\0\0") :]  # the eXIf chunk holds the bare TIFF structure
    image = Image.fromarray(pattern_rgb())
    image.save(tmp_path / "exif.png", exif=tiff)
    image.save(tmp_path / "icc.png", icc_profile=_adobe_rgb_icc())
    decoded = decode_image(tmp_path / "exif.png")
    torch.testing.assert_close(decoded.image, decode_image(tmp_path / "icc.png").image)
    assert decoded.colour_note.startswith(_ADOBE)
    data = (tmp_path / "exif.png").read_bytes()
    srgb_chunk = struct.pack(">I", 1) + b"sRGB\0" + struct.pack(">I", zlib.crc32(b"sRGB\0"))
    (tmp_path / "srgb.png").write_bytes(data[:33] + srgb_chunk + data[33:])  # after the signature and IHDR
    assert decode_image(tmp_path / "srgb.png").colour_note == "sRGB (PNG sRGB chunk)"


def _tiff_with_exif(path: Path, codes: np.ndarray, colour_space: int, interop_index: str | None) -> Path:
    """An uncompressed 8-bit RGB TIFF whose IFD0 points to an Exif IFD (tifffile will not write one)."""
    height, width, _ = codes.shape
    ifd0_size = 2 + 12 * 10 + 4
    exif_at = 8 + ifd0_size
    exif = _exif_colour_ifds(exif_at, colour_space, interop_index)
    bits_at = exif_at + len(exif)
    pixels_at = bits_at + 6

    def entry(tag: int, ftype: int, value: int, count: int = 1) -> bytes:
        field = struct.pack("<I", value) if ftype == 4 or count > 1 else struct.pack("<HH", value, 0)
        return struct.pack("<HHI", tag, ftype, count) + field

    entries = [
        entry(256, 4, width), entry(257, 4, height), entry(258, 3, bits_at, count=3), entry(259, 3, 1),
        entry(262, 3, 2), entry(273, 4, pixels_at), entry(277, 3, 3), entry(278, 4, height),
        entry(279, 4, codes.nbytes), entry(34665, 4, exif_at),
    ]  # fmt: skip
    ifd0 = struct.pack("<H", len(entries)) + b"".join(entries)
    header = b"II*\0" + struct.pack("<I", 8) + ifd0 + b"\0" * 4 + exif + struct.pack("<3H", 8, 8, 8)
    path.write_bytes(header + codes.tobytes())
    return path


def test_tiff_with_dcf_adobe_rgb_exif_is_read_as_adobe_rgb(tmp_path: Path) -> None:
    codes = pattern_rgb()
    with_icc = tmp_path / "icc.tif"
    tifffile.imwrite(with_icc, codes, photometric="rgb", iccprofile=_adobe_rgb_icc(), metadata=None)
    decoded = decode_image(_tiff_with_exif(tmp_path / "exif.tif", codes, _UNCALIBRATED, "R03"))
    torch.testing.assert_close(decoded.image, decode_image(with_icc).image)
    assert decoded.exif.colour_space == _ADOBE and decoded.colour_note.startswith(_ADOBE)
    srgb = decode_image(_tiff_with_exif(tmp_path / "srgb.tif", codes, 1, "R98"))
    assert srgb.exif.colour_space == "sRGB" and srgb.colour_note == "sRGB (assumed, no profile)"


@pytest.mark.parametrize(
    ("xy", "kelvin", "tint", "tol_k", "tol_t"),
    [
        ((0.3127, 0.3290), 6504, 9.8, 3, 0.15),  # D65 (lightroom.md §12.3)
        ((0.3457, 0.3585), 5001, 9.6, 5, 0.2),  # D50
        ((0.4476, 0.4074), 2855, -0.06, 5, 0.3),  # illuminant A
    ],
)
def test_temperature_tint_reference_values(
    xy: tuple[float, float], kelvin: float, tint: float, tol_k: float, tol_t: float
) -> None:
    result = xy_to_temperature_tint(np.asarray(xy))
    assert result is not None
    assert result[0] == pytest.approx(kelvin, abs=tol_k)
    assert result[1] == pytest.approx(tint, abs=tol_t)


def test_as_shot_single_matrix_and_dng_interpolation() -> None:
    xyz_to_srgb = np.linalg.inv(REC2020_TO_XYZ_D65 @ SRGB_TO_REC2020)
    single = as_shot_white_balance(np.array([1.0, 1.0, 1.0]), xyz_to_srgb, None)
    assert single.kelvin == pytest.approx(6504, abs=3)
    # two identical calibration matrices: the DNG interpolation must give the same answer
    dng = DngColour((xyz_to_srgb, xyz_to_srgb), (2850.0, 6500.0), (np.eye(3), np.eye(3)), np.ones(3))
    both = as_shot_white_balance(np.array([1.0, 1.0, 1.0]), None, dng)
    assert both.kelvin == pytest.approx(single.kelvin, abs=0.5)
    # beyond T2 only ColorMatrix2 counts, however different ColorMatrix1 is
    other = xyz_to_srgb * np.array([[1.4], [1.0], [0.6]])
    dng2 = DngColour((other, xyz_to_srgb), (2850.0, 6500.0), (np.eye(3), np.eye(3)), np.ones(3))
    assert as_shot_white_balance(np.array([1.0, 1.0, 1.0]), None, dng2).kelvin == pytest.approx(6504, abs=3)
    # a warmer neutral (more red in the camera) gives a lower temperature
    warm = as_shot_white_balance(np.array([1 / 1.3, 1.0, 1 / 0.7]), xyz_to_srgb, None)
    assert warm.kelvin is not None and single.kelvin is not None and warm.kelvin < single.kelvin - 1000
    assert warm.neutral == pytest.approx((1.3, 1.0, 0.7))


def test_dng_colour_tags_are_read(tmp_path: Path) -> None:
    dirs = read_directories(make_dng(tmp_path).read_bytes())
    colour = dng_colour(dirs)
    assert colour is not None
    assert colour.temperatures == (6500.0,)
    expected = np.linalg.inv(REC2020_TO_XYZ_D65 @ SRGB_TO_REC2020)
    np.testing.assert_allclose(colour.matrices[0], expected, atol=1e-4)
    assert dng_colour(read_directories(b"II*\0" + bytes(4))) is None
