"""Decoding every supported format into upright linear Rec.2020, on generated fixtures."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from backend.decode import (
    RAW_EXTENSIONS,
    DecodedImage,
    decode_bytes,
    decode_image,
    decode_preview,
    read_exif,
    sniff_kind,
)
from backend.decode.icc import build_icc_profile
from backend.errors import UnsupportedFormatError
from backend.render.color import PROPHOTO_TO_REC2020, REC2020_TO_XYZ_D50, SRGB_TO_REC2020
from testing.fixtures import (
    DNG_NEUTRAL,
    DNG_PATCHES,
    JPEG_EXIF,
    copy_as,
    make_dng,
    make_jpeg,
    make_png,
    make_text_file,
    make_tiff,
    pattern_rgb,
)


def _hwc(decoded: DecodedImage) -> np.ndarray:
    assert decoded.image.dtype == torch.float32
    assert decoded.image.ndim == 4 and decoded.image.shape[:2] == (1, 3)
    return decoded.image[0].permute(1, 2, 0).numpy().astype(np.float64)


def _srgb_to_linear(codes: np.ndarray, top: int) -> np.ndarray:
    v = codes.astype(np.float64) / top
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _to_rec2020(rgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return rgb @ np.asarray(matrix).T


def _mean(img: np.ndarray, rows: slice, cols: slice, margin: int = 3) -> np.ndarray:
    r = slice(rows.start + margin, rows.stop - margin)
    c = slice(cols.start + margin, cols.stop - margin)
    return img[r, c].reshape(-1, 3).mean(axis=0)


# --------------------------------------------------------------------------------------------- raw (DNG)


def test_dng_decodes_to_linear_rec2020(tmp_path: Path) -> None:
    decoded = decode_image(make_dng(tmp_path))
    img = _hwc(decoded)
    assert (decoded.kind, decoded.is_raw) == ("raw", True)
    assert img.shape == (48, 64, 3)
    assert (decoded.full_width, decoded.full_height) == (64, 48)
    assert "LibRaw" in decoded.colour_note
    for rows, cols, wb_rgb in DNG_PATCHES.values():
        expected = _to_rec2020(np.asarray(wb_rgb), SRGB_TO_REC2020)
        np.testing.assert_allclose(_mean(img, rows, cols), expected, atol=2e-3)


def test_dng_as_shot_white_balance(tmp_path: Path) -> None:
    as_shot = decode_image(make_dng(tmp_path)).as_shot
    assert as_shot is not None
    np.testing.assert_allclose(as_shot.neutral, DNG_NEUTRAL, rtol=1e-3)
    np.testing.assert_allclose(as_shot.multipliers, 1.0 / np.asarray(DNG_NEUTRAL), rtol=1e-3)
    assert as_shot.kelvin is not None and as_shot.tint is not None
    # neutral (0.5, 1, 0.8) through an sRGB camera is a cold, green light
    assert as_shot.kelvin > 6504 and as_shot.tint > 9.8


def test_dng_white_neutral_is_d65(tmp_path: Path) -> None:
    # ColorMatrix1 maps XYZ to sRGB, so a camera neutral of (1, 1, 1) is D65: 6504 K, tint +9.8
    as_shot = decode_image(make_dng(tmp_path, neutral=(1.0, 1.0, 1.0))).as_shot
    assert as_shot is not None and as_shot.kelvin is not None and as_shot.tint is not None
    assert as_shot.kelvin == pytest.approx(6504, abs=5)
    assert as_shot.tint == pytest.approx(9.8, abs=0.3)


def test_dng_orientation_6_is_turned_upright(tmp_path: Path) -> None:
    decoded = decode_image(make_dng(tmp_path, orientation=6))
    img = _hwc(decoded)
    assert img.shape == (64, 48, 3)
    assert (decoded.full_width, decoded.full_height) == (48, 64)
    assert decoded.exif.orientation == 6
    # stored left half (grey) -> top; stored top-right (colour) -> bottom-right; bottom-right (bright) -> bottom-left
    np.testing.assert_allclose(_mean(img, slice(0, 32), slice(0, 48)), [0.18] * 3, atol=2e-3)
    colour = _to_rec2020(np.asarray(DNG_PATCHES["colour"][2]), SRGB_TO_REC2020)
    np.testing.assert_allclose(_mean(img, slice(32, 64), slice(24, 48)), colour, atol=2e-3)
    np.testing.assert_allclose(_mean(img, slice(32, 64), slice(0, 24)), [0.6] * 3, atol=2e-3)


def test_dng_exif(tmp_path: Path) -> None:
    exif = decode_image(make_dng(tmp_path)).exif
    assert (exif.camera_make, exif.camera_model) == ("Autoretouch", "Synthetic DNG")
    assert exif.iso == 200
    assert exif.shutter_s == pytest.approx(1 / 125)
    assert exif.aperture == pytest.approx(4.0)
    assert exif.focal_length_mm == pytest.approx(50.0)
    assert exif.exposure_bias_ev == pytest.approx(0.3)
    assert exif.datetime_original == "2024:05:17 10:11:12"


def test_dng_preview_is_half_size_and_resized(tmp_path: Path) -> None:
    decoded = decode_preview(make_dng(tmp_path, height=96, width=128), long_side=40)
    img = _hwc(decoded)
    assert img.shape == (30, 40, 3)
    assert (decoded.full_width, decoded.full_height) == (128, 96)
    assert decoded.as_shot is not None
    np.testing.assert_allclose(img[5:25, 3:15].reshape(-1, 3).mean(axis=0), [0.18] * 3, atol=5e-3)


def test_raw_preview_prefers_a_large_embedded_jpeg(tmp_path: Path) -> None:
    import rawpy

    import backend.decode.raw as raw_module

    jpeg = make_jpeg(tmp_path, orientation=None, height=96, width=128).read_bytes()
    fake = SimpleNamespace(
        extract_thumb=lambda: SimpleNamespace(format=rawpy.ThumbFormat.JPEG, data=jpeg),
        sizes=SimpleNamespace(width=1280, height=960),
    )
    thumb = raw_module._thumbnail(fake, 6, 100)  # type: ignore[arg-type]  # flip 6 = EXIF 6
    assert thumb is not None and thumb.shape == (128, 96, 3)
    assert thumb[2:6, 90:94, 0].mean() > 200 and thumb[2:6, 90:94, 1].mean() < 40  # red block top-right
    assert raw_module._thumbnail(fake, 0, 512) is None  # too small for a 512 px preview


# --------------------------------------------------------------------------------------------- JPEG


def test_jpeg_exif_fields(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path, orientation=1)
    for exif in (decode_image(path).exif, read_exif(path)):
        assert exif.camera_make == JPEG_EXIF["camera_make"]
        assert exif.camera_model == JPEG_EXIF["camera_model"]
        assert exif.lens == JPEG_EXIF["lens"]
        assert exif.iso == JPEG_EXIF["iso"]
        assert exif.shutter_s == pytest.approx(JPEG_EXIF["shutter_s"])
        assert exif.aperture == pytest.approx(JPEG_EXIF["aperture"])
        assert exif.focal_length_mm == pytest.approx(JPEG_EXIF["focal_length_mm"])
        assert exif.exposure_bias_ev == pytest.approx(JPEG_EXIF["exposure_bias_ev"])
        assert exif.datetime_original == JPEG_EXIF["datetime_original"]
        assert exif.orientation == 1


def test_jpeg_is_srgb_linearised(tmp_path: Path) -> None:
    decoded = decode_image(make_jpeg(tmp_path, orientation=None, quality=100))
    img = _hwc(decoded)
    expected = _to_rec2020(_srgb_to_linear(pattern_rgb(), 255), SRGB_TO_REC2020)
    assert decoded.kind == "jpeg" and decoded.as_shot is None
    assert decoded.colour_note == "sRGB (assumed, no profile)"
    assert np.mean(np.abs(img - expected)) < 0.01


def test_jpeg_orientation_6_gives_transposed_upright_image(tmp_path: Path) -> None:
    decoded = decode_image(make_jpeg(tmp_path, orientation=6))
    img = _hwc(decoded)
    assert img.shape == (64, 48, 3)
    assert (decoded.full_width, decoded.full_height) == (48, 64)
    # the red block, stored top-left, must be top-right once the image is turned 90° clockwise
    top_right = img[1:7, 41:47].reshape(-1, 3).mean(axis=0)
    top_left = img[1:7, 1:7].reshape(-1, 3).mean(axis=0)
    assert top_right[0] > 0.5 and top_right[1] < 0.1
    assert top_left[0] < 0.5


_EXPECTED_ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, k=1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(tmp_path: Path, orientation: int) -> None:
    upright = _hwc(decode_image(make_jpeg(tmp_path, "o1.jpg", orientation=1)))
    decoded = decode_image(make_jpeg(tmp_path, f"o{orientation}.jpg", orientation=orientation))
    assert decoded.exif.orientation == orientation
    np.testing.assert_array_equal(_hwc(decoded), _EXPECTED_ORIENT[orientation](upright))


def test_jpeg_preview_uses_reduced_decode_and_exact_size(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path, orientation=6, height=480, width=640)
    preview = decode_preview(path, long_side=64)
    full = decode_image(path)
    assert preview.image.shape == (1, 3, 64, 48)
    assert (preview.full_width, preview.full_height) == (480, 640)
    shrunk = torch.nn.functional.interpolate(full.image, size=(64, 48), mode="area")
    assert float((preview.image - shrunk).abs().mean()) < 0.02


def test_preview_never_enlarges(tmp_path: Path) -> None:
    decoded = decode_preview(make_png(tmp_path), long_side=512)
    assert decoded.image.shape == (1, 3, 48, 64)


# --------------------------------------------------------------------------------------------- PNG


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_png_rgb(tmp_path: Path, bit_depth: int) -> None:
    decoded = decode_image(make_png(tmp_path, bit_depth=bit_depth))
    top = 255 if bit_depth == 8 else 65535
    codes = pattern_rgb(dtype=np.uint8 if bit_depth == 8 else np.uint16)
    expected = _to_rec2020(_srgb_to_linear(codes, top), SRGB_TO_REC2020)
    assert decoded.kind == "png"
    np.testing.assert_allclose(_hwc(decoded), expected, atol=2e-6)


def test_png_exif_orientation(tmp_path: Path) -> None:
    upright = _hwc(decode_image(make_png(tmp_path, "up.png", bit_depth=16)))
    decoded = decode_image(make_png(tmp_path, "rot.png", bit_depth=16, orientation=6))
    assert decoded.exif.orientation == 6 and decoded.exif.camera_model == JPEG_EXIF["camera_model"]
    np.testing.assert_array_equal(_hwc(decoded), np.rot90(upright, k=-1))


def test_png_grey_and_alpha(tmp_path: Path) -> None:
    grey = _hwc(decode_image(make_png(tmp_path, "g.png", mode="grey")))
    expected = _srgb_to_linear(pattern_rgb()[:, :, 1], 255)
    for c in range(3):
        np.testing.assert_allclose(grey[:, :, c], expected, atol=2e-6)
    rgba = decode_image(make_png(tmp_path, "a.png", mode="rgba", bit_depth=16))
    rgb = decode_image(make_png(tmp_path, "b.png", bit_depth=16))
    torch.testing.assert_close(rgba.image, rgb.image)


# --------------------------------------------------------------------------------------------- TIFF


def test_tiff_16bit_prophoto_icc(tmp_path: Path) -> None:
    decoded = decode_image(make_tiff(tmp_path, bit_depth=16, icc="prophoto"))
    gamma = 461 / 256  # ICC 'curv' stores gamma 1.8 as u8Fixed8
    expected = _to_rec2020((pattern_rgb(dtype=np.uint16) / 65535.0) ** gamma, PROPHOTO_TO_REC2020)
    assert decoded.kind == "tiff"
    assert decoded.colour_note == "ProPhoto RGB (embedded ICC)"
    np.testing.assert_allclose(_hwc(decoded), expected, atol=1e-5)


def test_tiff_8bit_without_profile_is_assumed_srgb(tmp_path: Path) -> None:
    decoded = decode_image(make_tiff(tmp_path, bit_depth=8, icc=None))
    expected = _to_rec2020(_srgb_to_linear(pattern_rgb(), 255), SRGB_TO_REC2020)
    assert decoded.colour_note == "sRGB (assumed, no profile)"
    np.testing.assert_allclose(_hwc(decoded), expected, atol=2e-6)


def test_tiff_float_without_profile_is_linear_srgb(tmp_path: Path) -> None:
    decoded = decode_image(make_tiff(tmp_path, bit_depth=32, icc=None))
    expected = _to_rec2020(pattern_rgb(dtype=np.float32).astype(np.float64), SRGB_TO_REC2020)
    assert "linear sRGB" in decoded.colour_note
    np.testing.assert_allclose(_hwc(decoded), expected, atol=2e-6)


def test_tiff_lzw_falls_back_to_opencv(tmp_path: Path) -> None:
    plain = decode_image(make_tiff(tmp_path, "plain.tif", bit_depth=16, icc=None))
    lzw = decode_image(make_tiff(tmp_path, "lzw.tif", bit_depth=16, lzw=True))
    torch.testing.assert_close(lzw.image, plain.image)


def test_tiff_general_matrix_trc_profile(tmp_path: Path) -> None:
    import tifffile

    colorants = np.array([[0.50, 0.30, 0.15], [0.25, 0.70, 0.05], [0.02, 0.10, 0.70]])
    profile = build_icc_profile("Odd Scanner RGB", colorants, (0.9642, 1.0, 0.8249), 2.2)
    codes = pattern_rgb(dtype=np.uint16)
    path = tmp_path / "odd.tif"
    tifffile.imwrite(path, codes, photometric="rgb", iccprofile=profile, metadata=None)
    decoded = decode_image(path)
    gamma = round(2.2 * 256) / 256
    expected = _to_rec2020((codes / 65535.0) ** gamma, np.linalg.inv(REC2020_TO_XYZ_D50) @ colorants)
    assert "Odd Scanner RGB" in decoded.colour_note
    np.testing.assert_allclose(_hwc(decoded), expected, atol=5e-5)


def test_tiff_orientation_tag(tmp_path: Path) -> None:
    import tifffile

    codes = pattern_rgb(dtype=np.uint16)
    path = tmp_path / "rot.tif"
    tifffile.imwrite(path, codes, photometric="rgb", metadata=None, extratags=[(274, "H", 1, 8, True)])
    decoded = decode_image(path)
    upright = _hwc(decode_image(make_tiff(tmp_path, "up.tif", icc=None)))
    assert decoded.exif.orientation == 8
    np.testing.assert_allclose(_hwc(decoded), np.rot90(upright, k=1), atol=0)


#: TIFFs that tifffile cannot decode alone (no imagecodecs): OpenCV reads them. ``(PIL mode, PIL compression)``.
_OPENCV_TIFFS = {"lzw": ("RGB", "tiff_lzw"), "jpeg": ("RGB", "jpeg"), "cmyk": ("CMYK", "raw")}


def _pil_tiff(path: Path, kind: str, orientation: int) -> Path:
    """:func:`pattern_rgb` as a TIFF of ``kind`` (a key of :data:`_OPENCV_TIFFS`) with an Orientation tag."""
    from PIL import Image

    mode, compression = _OPENCV_TIFFS[kind]
    exif = Image.Exif()
    exif[274] = orientation
    Image.fromarray(pattern_rgb()).convert(mode).save(path, compression=compression, exif=exif)
    return path


@pytest.mark.parametrize("kind", sorted(_OPENCV_TIFFS))
@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_read_by_opencv_is_turned_upright_once(tmp_path: Path, kind: str, orientation: int) -> None:
    """OpenCV orients a TIFF itself; the decoder must not apply the Orientation tag a second time."""
    stored = _pil_tiff(tmp_path / "o1.tif", kind, 1)
    path = _pil_tiff(tmp_path / f"o{orientation}.tif", kind, orientation)
    upright = _hwc(decode_image(stored))
    assert upright[1:7, 1:7, 0].mean() > 0.5 and upright[1:7, 1:7, 1].mean() < 0.1  # red block top-left
    decoded = decode_image(path)
    assert decoded.exif.orientation == orientation
    assert (decoded.full_width, decoded.full_height) == ((48, 64) if orientation >= 5 else (64, 48))
    np.testing.assert_array_equal(_hwc(decoded), _EXPECTED_ORIENT[orientation](upright))
    preview = decode_preview(path, long_side=32)
    np.testing.assert_array_equal(
        _hwc(preview), _EXPECTED_ORIENT[orientation](_hwc(decode_preview(stored, long_side=32)))
    )


def _tiff_pages(path: Path, pages: list[tuple[np.ndarray, dict[str, object]]]) -> Path:
    """A TIFF of several pages, each ``(samples, tifffile write options)``."""
    import tifffile

    with tifffile.TiffWriter(path) as writer:
        for samples, options in pages:
            writer.write(samples, metadata=None, **options)
    return path


def test_tiff_reduced_resolution_first_page_is_passed_over(tmp_path: Path) -> None:
    """A preview written before the photo (NewSubfileType = 1) is never the full decode, nor the preview's source."""
    photo = pattern_rgb(dtype=np.uint16)
    thumbnail = np.full((6, 8, 3), 40000, np.uint16)
    path = _tiff_pages(tmp_path / "scan.tif", [(thumbnail, {"subfiletype": 1}), (photo, {"photometric": "rgb"})])
    expected = decode_image(make_tiff(tmp_path, "plain.tif", bit_depth=16, icc=None))
    decoded = decode_image(path)
    assert (decoded.full_width, decoded.full_height) == (64, 48)
    torch.testing.assert_close(decoded.image, expected.image)
    preview = decode_preview(path, long_side=32)
    assert preview.image.shape == (1, 3, 24, 32) and (preview.full_width, preview.full_height) == (64, 48)
    torch.testing.assert_close(
        preview.image, decode_preview(make_tiff(tmp_path, "p.tif", icc=None), long_side=32).image
    )


def test_tiff_reduced_first_page_before_a_photo_read_by_opencv(tmp_path: Path) -> None:
    """The page OpenCV decodes (here CMYK, turned by its Orientation tag) is the photo's, not IFD0."""
    cmyk = np.concatenate([255 - pattern_rgb(), np.zeros((48, 64, 1), np.uint8)], axis=2)
    thumbnail = np.full((6, 8, 3), 200, np.uint8)
    orientation_6 = {"photometric": "separated", "extratags": [(274, "H", 1, 6, True)]}
    path = _tiff_pages(tmp_path / "scan.tif", [(thumbnail, {"subfiletype": 1}), (cmyk, orientation_6)])
    alone = _tiff_pages(tmp_path / "alone.tif", [(cmyk, {"photometric": "separated"})])
    decoded = decode_image(path)
    assert decoded.image.shape == (1, 3, 64, 48)
    np.testing.assert_array_equal(_hwc(decoded), np.rot90(_hwc(decode_image(alone)), k=-1))


def test_tiff_of_reduced_resolution_pages_only_decodes_the_largest(tmp_path: Path) -> None:
    small, large = np.full((6, 8, 3), 10, np.uint8), pattern_rgb()
    path = _tiff_pages(tmp_path / "previews.tif", [(small, {"subfiletype": 1}), (large, {"subfiletype": 1})])
    assert decode_image(path).image.shape == (1, 3, 48, 64)


# --------------------------------------------------------------------------------------------- sniffing, bytes


def test_sniff_kind_by_content_not_extension(tmp_path: Path) -> None:
    dng, tif = make_dng(tmp_path), make_tiff(tmp_path)
    jpg, png = make_jpeg(tmp_path), make_png(tmp_path)
    assert [sniff_kind(p) for p in (dng, tif, jpg, png)] == ["raw", "tiff", "jpeg", "png"]
    assert sniff_kind(copy_as(jpg, tmp_path, "liar.png")) == "jpeg"
    assert sniff_kind(copy_as(dng, tmp_path, "liar.tif")) == "raw"
    assert sniff_kind(copy_as(tif, tmp_path, "liar.nef")) == "raw"  # inconclusive TIFF: extension decides
    assert sniff_kind(dng.read_bytes()) == "raw"
    assert sniff_kind(tif.read_bytes()) == "tiff"
    with pytest.raises(UnsupportedFormatError):
        sniff_kind(make_text_file(tmp_path))
    assert {"cr2", "cr3", "nef", "arw", "dng", "raf", "orf", "rw2"} <= RAW_EXTENSIONS


def test_decode_bytes_matches_decode_image(tmp_path: Path) -> None:
    for path in (make_jpeg(tmp_path), make_dng(tmp_path), make_tiff(tmp_path)):
        from_file = decode_image(path)
        from_bytes = decode_bytes(path.read_bytes(), name=path.name)
        assert from_bytes.path is None and from_file.path == path
        torch.testing.assert_close(from_bytes.image, from_file.image)
        assert from_bytes.exif == from_file.exif
        preview = decode_bytes(path.read_bytes(), name=path.name, preview=True, long_side=32)
        assert max(preview.image.shape[-2:]) == 32
