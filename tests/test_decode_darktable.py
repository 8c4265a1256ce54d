"""Our decoders agree with darktable 4.2's own import of the same files (real darktable-cli renders).

darktable renders each fixture with only its mandatory modules (input profile, orientation, white balance
and demosaic for the raw) to a linear Rec.2020 float TIFF, which is what :func:`decode_image` promises.
Skipped when darktable-cli is missing, a failure under ``CI=true``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.decode import decode_image
from testing.darktable_cli import DarktableCli, DarktableResult, darktable_cli_path
from testing.dt_sidecar import one_entry_sidecar
from testing.fixtures import DNG_PATCHES, make_dng, make_jpeg, make_tiff
from testing.needs import missing

pytestmark = pytest.mark.host

# A 0 EV exposure entry with auto_presets_applied=1: darktable adds only its mandatory raw modules
# (rawprepare, demosaic, colorin, temperature = as shot, highlights, flip), no filmic and no +0.7 EV.
_NEUTRAL_RAW_XMP = one_entry_sidecar(
    "exposure", 6, bytes.fromhex("00000000000000000000000000004842000080c000000000"), iop_order_version=2
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], DarktableResult]:
    if darktable_cli_path() is None:
        missing("darktable-cli is not installed (apt-get install darktable)")
    d = tmp_path_factory.mktemp("decode_inputs")
    inputs = {
        "dng": make_dng(d, "plain.dng"),
        "dng_rot": make_dng(d, "rot.dng", orientation=6),
        "tiff_prophoto": make_tiff(d, "pp.tif", bit_depth=16, icc="prophoto"),
        "jpeg_rot": make_jpeg(d, "rot.jpg", orientation=6, quality=100),
    }
    items = {name: (path, _NEUTRAL_RAW_XMP if path.suffix == ".dng" else None) for name, path in inputs.items()}
    return inputs, DarktableCli(tmp_path_factory.mktemp("darktable")).render_batch(items)


def _ours(path: Path) -> np.ndarray:
    return decode_image(path).image[0].permute(1, 2, 0).numpy().astype(np.float64)


def test_tiff_icc_decode_matches_darktable(rendered: tuple[dict[str, Path], DarktableResult]) -> None:
    inputs, result = rendered
    theirs = result.images["tiff_prophoto"].astype(np.float64)
    ours = _ours(inputs["tiff_prophoto"])
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) < 3e-4  # measured 4e-5 (lcms vs our ICC reading)


def test_jpeg_orientation_matches_darktable(rendered: tuple[dict[str, Path], DarktableResult]) -> None:
    inputs, result = rendered
    theirs = result.images["jpeg_rot"].astype(np.float64)
    ours = _ours(inputs["jpeg_rot"])
    assert ours.shape == theirs.shape == (64, 48, 3)
    # darktable resamples while it rotates (edges move by about half a pixel), so compare typical pixels;
    # the wrong turn (orientation 8) or a transpose would differ by 0.06..0.16 here
    assert np.median(np.abs(ours - theirs)) < 0.01


@pytest.mark.parametrize("name", ["dng", "dng_rot"])
def test_raw_decode_matches_darktable(rendered: tuple[dict[str, Path], DarktableResult], name: str) -> None:
    inputs, result = rendered
    theirs = result.images[name].astype(np.float64)
    ours = _ours(inputs[name])
    assert ours.shape == theirs.shape
    if name == "dng_rot":  # compare in the stored frame
        ours, theirs = np.rot90(ours, k=1), np.rot90(theirs, k=1)
    for rows, cols, _ in DNG_PATCHES.values():
        r = slice(rows.start + 3, rows.stop - 3)
        c = slice(cols.start + 3, cols.stop - 3)
        np.testing.assert_allclose(ours[r, c].mean(axis=(0, 1)), theirs[r, c].mean(axis=(0, 1)), atol=1e-3)
