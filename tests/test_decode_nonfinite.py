"""Float TIFFs with NaN or infinite samples decode to finite pixels, and the colour note says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from backend.decode import decode_image, decode_preview
from backend.decode.raster import clean_float_samples
from backend.render.clarity import apply_clarity


def _float_tiff(tmp_path: Path, bad: float, dtype: type = np.float32, name: str = "one.tif") -> Path:
    rng = np.random.default_rng(0)
    f = rng.random((48, 64, 3)).astype(dtype) * 0.8
    f[0, 0, 0] = bad
    path = tmp_path / name
    tifffile.imwrite(path, f, photometric="rgb")
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_non_finite_sample_is_replaced(tmp_path: Path, bad: float) -> None:
    decoded = decode_image(_float_tiff(tmp_path, bad))
    assert bool(torch.isfinite(decoded.image).all())
    assert decoded.colour_note.startswith("linear sRGB")
    assert "1 non-finite sample replaced (NaN and -inf by 0, +inf by 1)" in decoded.colour_note
    preview = decode_preview(_float_tiff(tmp_path, bad), long_side=16)
    assert bool(torch.isfinite(preview.image).all())


def test_replacement_values() -> None:
    pixels = np.array([[np.nan, 0.5, np.inf, -np.inf, 2.5]], dtype=np.float32)
    cleaned, note = clean_float_samples(pixels)
    np.testing.assert_array_equal(cleaned, [[0.0, 0.5, 2.5, 0.0, 2.5]])  # +inf: the brightest, at least 1
    assert note == "3 non-finite samples replaced (NaN and -inf by 0, +inf by 2.5)"
    nothing_finite = np.full((2, 2), np.inf, dtype=np.float32)
    assert clean_float_samples(nothing_finite)[0].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    finite = np.array([0.25, 3.0], dtype=np.float32)
    assert clean_float_samples(finite) == (finite, "")


def test_float64_beyond_float32_range_is_finite(tmp_path: Path) -> None:
    decoded = decode_image(_float_tiff(tmp_path, 1e300, dtype=np.float64))
    assert bool(torch.isfinite(decoded.image).all())
    assert "1 non-finite sample replaced" in decoded.colour_note


def test_finite_float_tiff_note_unchanged(tmp_path: Path) -> None:
    decoded = decode_image(_float_tiff(tmp_path, 0.5))
    assert decoded.colour_note == "linear sRGB (assumed for float samples without profile)"


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clarity_is_not_blacked_out(tmp_path: Path, bad: float) -> None:
    image = decode_image(_float_tiff(tmp_path, bad)).image
    out = apply_clarity(image, 15.0)
    assert bool(torch.isfinite(out).all())
    assert float((out.amax(dim=1) <= 0).float().mean()) < 0.01
