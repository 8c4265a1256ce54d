"""The JPEG preview path decodes the JPEG's own pixels, never its embedded EXIF thumbnail or MPF preview.

Editors that rewrite a photo's pixels often keep the camera's EXIF, thumbnail included; a preview (and with
it ``suggest``) taken from that thumbnail would judge the photo as shot, not as it is now.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from backend.decode import decode_image, decode_preview
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


@pytest.mark.parametrize("long_side", [64, 128, 256, 400])
def test_preview_never_uses_the_thumbnail_or_mpf_preview(tmp_path: Path, main_rgb: np.ndarray, long_side: int) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED), preview_rgb=solid(200, 300, BLUE))
    decoded = decode_preview(path, long_side=long_side)
    assert dominant(decoded.image) == "main"
    assert decoded.image.shape == (1, 3, round(400 * long_side / 600), long_side)
    assert (decoded.full_width, decoded.full_height) == (600, 400)
    assert decoded.exif.camera_model == JPEG_EXIF["camera_model"]


def test_preview_of_an_edited_photo_ignores_its_stale_thumbnail(tmp_path: Path, main_rgb: np.ndarray) -> None:
    """A photo brightened in an editor that kept the camera's dark thumbnail previews like the same pixels alone."""
    dark_thumbnail = cv2.resize(main_rgb, (160, 107), interpolation=cv2.INTER_AREA) // 3
    edited = make_camera_jpeg(tmp_path, main_rgb, dark_thumbnail)
    ok, plain = cv2.imencode(".jpg", cv2.cvtColor(main_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    (tmp_path / "plain.jpg").write_bytes(plain.tobytes())  # the same entropy-coded image, no EXIF
    for long_side in (96, 128, 300):
        with_exif = decode_preview(edited, long_side=long_side).image
        torch.testing.assert_close(with_exif, decode_preview(tmp_path / "plain.jpg", long_side=long_side).image)


def test_preview_orientation_applies_to_the_main_image(tmp_path: Path, main_rgb: np.ndarray) -> None:
    path = make_camera_jpeg(tmp_path, main_rgb, solid(107, 160, RED), orientation=6)
    decoded = decode_preview(path, long_side=128)
    assert dominant(decoded.image) == "main"
    assert decoded.image.shape == (1, 3, 128, 85)
    assert (decoded.full_width, decoded.full_height) == (400, 600)
    full = decode_image(path).image
    shrunk = torch.nn.functional.interpolate(full, size=(128, 85), mode="area")
    assert float((decoded.image - shrunk).abs().mean()) < 0.02
