"""The JPEG preview path uses an embedded camera thumbnail / MPF preview when it is large enough and the same shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.decode import decode_image, decode_preview, read_exif
from backend.decode.containers import jpeg_info
from backend.decode.embedded import embedded_jpegs
from testing.fixtures import JPEG_EXIF, make_camera_jpeg, pattern_rgb

RED = (220, 30, 30)
BLUE = (30, 30, 220)


def solid(height: int, width: int, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (height, width, 3)).copy()


def dominant(image: torch.Tensor) -> str:
    """Which of red / blue / neither dominates a ``(1, 3, H, W)`` linear image."""
    r, g, b = (float(c) for c in image[0].mean(dim=(1, 2)))
    if r > 3 * max(g, b):
        return "red"
    if b > 3 * max(r, g):
        return "blue"
    return "main"


@pytest.fixture
def main_rgb() -> np.ndarray:
    return pattern_rgb(400, 600)


def test_finds_thumbnail_and_mpf_preview(tmp_path: Path, main_rgb: np.ndarray) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED), preview_rgb=solid(200, 300, BLUE))
    data = path.read_bytes()
    found = embedded_jpegs(data, jpeg_info(data).tiff_headers)
    assert [e.source for e in found] == ["exif", "mpf"]
    sizes = [(jpeg_info(data[e.start : e.end]).width, jpeg_info(data[e.start : e.end]).height) for e in found]
    assert sizes == [(160, 107), (300, 200)]


def test_small_preview_uses_the_exif_thumbnail(tmp_path: Path, main_rgb: np.ndarray) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED))
    decoded = decode_preview(path, long_side=128)
    assert dominant(decoded.image) == "red"
    assert decoded.image.shape == (1, 3, 85, 128)
    assert (decoded.full_width, decoded.full_height) == (600, 400)
    assert decoded.exif.camera_model == JPEG_EXIF["camera_model"]


def test_larger_preview_takes_the_mpf_preview_then_the_main_image(tmp_path: Path, main_rgb: np.ndarray) -> None:
    with_mpf = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED), preview_rgb=solid(200, 300, BLUE))
    assert dominant(decode_preview(with_mpf, long_side=256).image) == "blue"
    assert dominant(decode_preview(with_mpf, long_side=128).image) == "red"  # the smallest that is large enough
    assert dominant(decode_preview(with_mpf, long_side=400).image) == "main"
    assert dominant(decode_image(with_mpf).image) == "main"


def test_thumbnail_of_another_shape_is_ignored(tmp_path: Path, main_rgb: np.ndarray) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(120, 160, RED))  # 4:3 with bars inside a 3:2 photo
    assert dominant(decode_preview(path, long_side=128).image) == "main"


def test_orientation_applies_to_the_thumbnail(tmp_path: Path, main_rgb: np.ndarray) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED), orientation=6)
    decoded = decode_preview(path, long_side=128)
    assert dominant(decoded.image) == "red"
    assert decoded.image.shape == (1, 3, 128, 85)
    assert (decoded.full_width, decoded.full_height) == (400, 600)


def test_broken_thumbnail_pointer_falls_back_to_the_main_image(tmp_path: Path, main_rgb: np.ndarray) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED))
    data = bytearray(path.read_bytes())
    thumb_at = data.find(b"\xff\xd8\xff", 4)
    data[thumb_at : thumb_at + 400] = b"\0" * 400  # the thumbnail is gone, its pointer remains
    path.write_bytes(bytes(data))
    assert embedded_jpegs(bytes(data), jpeg_info(bytes(data)).tiff_headers) == []
    decoded = decode_preview(path, long_side=128)
    assert dominant(decoded.image) == "main"
    assert read_exif(path).camera_model == JPEG_EXIF["camera_model"]


def test_thumbnail_preview_matches_main_image_when_they_agree(tmp_path: Path, main_rgb: np.ndarray) -> None:
    """A genuine thumbnail (the same picture, smaller) gives nearly the same preview as the main image."""
    import cv2

    thumb = cv2.resize(main_rgb, (160, 107), interpolation=cv2.INTER_AREA)
    path = make_camera_jpeg(tmp_path, main_rgb, thumb)
    fast = decode_preview(path, long_side=96).image
    slow = decode_preview(path, long_side=300).image
    slow_small = torch.nn.functional.adaptive_avg_pool2d(slow, fast.shape[-2:])
    assert float((fast - slow_small).abs().mean()) < 0.03
