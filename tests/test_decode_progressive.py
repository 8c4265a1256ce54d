"""The 1/8-scale preview of a progressive JPEG skips the AC scans of its full-resolution components and
still gives exactly the pixels of the whole file (backend/decode/progressive.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.decode import decode_preview
from backend.decode import raster as raster_module
from backend.decode.progressive import dc_scans_only
from backend.errors import CorruptImageError

_SAMPLING = {
    "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    "411": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411,
}


def _photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A textured BGR test picture (smooth gradients plus noise, so every AC band carries data)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 255], axis=-1)
    return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)


def _encode(pixels: np.ndarray, *extra: int, progressive: bool = True) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive), *extra]
    ok, encoded = cv2.imencode(".jpg", pixels, params)
    assert ok
    return encoded.tobytes()


def _reduced(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_8)


@pytest.mark.parametrize("sampling", sorted(_SAMPLING))
def test_dc_only_copy_decodes_to_the_same_pixels(sampling: str) -> None:
    data = _encode(_photo(333, 517), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING[sampling])
    short = dc_scans_only(data)
    assert short is not None and len(short) < len(data) / 2
    np.testing.assert_array_equal(_reduced(short), _reduced(data))


def test_grey_and_long_runs() -> None:
    # 2048 x 1040: 33,280 blocks per component, more than one end-of-band run (at most 32,767 blocks) each.
    for pixels in (_photo(2048, 1040, 1), cv2.cvtColor(_photo(2048, 1040, 2), cv2.COLOR_BGR2GRAY)):
        extra = (cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING["444"]) if pixels.ndim == 3 else ()
        data = _encode(pixels, *extra)
        short = dc_scans_only(data)
        assert short is not None and len(short) < len(data) / 2
        np.testing.assert_array_equal(_reduced(short), _reduced(data))


def test_left_alone_when_it_does_not_apply() -> None:
    pixels = _photo(200, 120)
    assert dc_scans_only(_encode(pixels, progressive=False)) is None  # baseline: nothing to skip
    restart = _encode(pixels, cv2.IMWRITE_JPEG_RST_INTERVAL, 4)
    assert dc_scans_only(restart) is None  # end-of-band runs may not cross restart intervals
    assert dc_scans_only(b"") is None
    assert dc_scans_only(b"\xff\xd8\xff\xc2\x00") is None
    assert dc_scans_only(b"not a jpeg at all") is None
    data = _encode(pixels)
    assert dc_scans_only(data[: len(data) // 3]) is None  # the scan never ends: left to the decoder


def test_decode_preview_uses_it_and_matches_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(_encode(_photo(1600, 1064, 3)))
    calls: list[int] = []
    real = raster_module.dc_scans_only

    def counting(data: bytes) -> bytes | None:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(raster_module, "dc_scans_only", counting)
    fast = decode_preview(path, long_side=128).image
    assert calls, "the 1/8 preview of a progressive JPEG goes through dc_scans_only"
    monkeypatch.setattr(raster_module, "dc_scans_only", lambda data: None)
    whole = decode_preview(path, long_side=128).image
    assert fast.shape == whole.shape == (1, 3, 85, 128)
    assert float((fast - whole).abs().max()) == 0.0


def test_damaged_progressive_file_is_still_a_typed_error(tmp_path: Path) -> None:
    data = _encode(_photo(1600, 1064, 4))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError, match=r"cut\.jpg"):
        decode_preview(path, long_side=128)
