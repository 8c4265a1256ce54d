"""Real darktable-cli (4.2) renders of our sidecars: accepted without complaints, each module acts, fidelity.

darktable-cli reads the sidecar next to each input, so every group of renders is one darktable-cli start
(see ``testing/darktable_cli.py``). Skipped when darktable-cli is missing, a failure under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.render.color import REC2020_LUMINANCE, rec2020_to_lab
from backend.sidecar.darktable_xmp import append_history, history_to_dtstyle, new_darktable_xmp, xmp_to_string
from backend.sliders.catalog import CATALOG, CURVE_KNOTS, HSL_COLOURS
from backend.translate.darktable import HistoryEntry, encode_params, module_layout, pack_params, recipe_to_history
from testing.darktable_cli import (
    DarktableCli,
    DarktableResult,
    darktable_cli_path,
    delta_e_2000,
    fidelity_cases,
    fidelity_group,
    load_srgb_as_rec2020,
    make_test_chart,
    rec2020_to_display_srgb,
    render_ours,
)
from testing.fixtures import make_dng, make_jpeg, make_tiff
from testing.needs import missing

pytestmark = pytest.mark.host

LIFT = [0.01, 0.04, 0.12, 0.27, 0.46, 0.69, 1.0]
KNOTS = list(CURVE_KNOTS)
#: Mean CIEDE2000 (our render vs darktable's) above which a global slider fails.
MAX_MEAN_DE = 2.0


@pytest.fixture(scope="module")
def dtcli(tmp_path_factory: pytest.TempPathFactory) -> DarktableCli:
    if darktable_cli_path() is None:
        missing("darktable-cli is not installed (apt-get install darktable)")
    return DarktableCli(tmp_path_factory.mktemp("darktable"))


def _xmp(settings: dict[str, object], *, is_raw: bool, long_side_px: int) -> str:
    entries = recipe_to_history(settings, is_raw=is_raw, long_side_px=long_side_px)
    assert entries, f"{settings} wrote no history"
    return xmp_to_string(new_darktable_xmp(entries, is_raw=is_raw))


def _neutral_xmp(*, is_raw: bool) -> str:
    """A stack with one 0 EV exposure entry: 'exactly our stack' with no edit (raw baseline without presets)."""
    entry = HistoryEntry("exposure", module_layout("exposure").modversion, encode_params(pack_params("exposure", {})))
    return xmp_to_string(new_darktable_xmp([entry], is_raw=is_raw))


# -- one batch: every module on a PNG, the other formats, a merged user sidecar -------------------------------------

HSL_RED_DESATURATED = [[0.0, -90.0, 0.0] if c == "Red" else [0.0, 0.0, 0.0] for c in HSL_COLOURS]

#: name -> (settings, long_side_px written into the entries)
PNG_STACKS: dict[str, tuple[dict[str, object], int]] = {
    "exposure": ({"exposure": 1.0}, 192),
    "blacks_up": ({"blacks": 60.0}, 192),
    "blacks_down": ({"blacks": -60.0}, 192),
    "contrast": ({"contrast": 60.0}, 192),
    "highlights": ({"highlights": 70.0}, 192),
    "shadows": ({"shadows": 70.0}, 192),
    "whites": ({"whites": 60.0}, 192),
    "saturation": ({"saturation": 60.0}, 192),
    "vibrance": ({"vibrance": 70.0}, 192),
    "black_and_white": ({"black_and_white": 100.0}, 192),
    "temperature": ({"temperature": 60.0}, 192),
    "tint": ({"tint": 60.0}, 192),
    "tone_curve": ({"tone_curve": LIFT}, 192),
    "rgb_curves": ({"rgb_curves": [LIFT, KNOTS, KNOTS]}, 192),
    "hsl": ({"hsl": HSL_RED_DESATURATED}, 192),
    "clarity": ({"clarity": 90.0}, 192),
    "sharpen": ({"sharpen": 100.0}, 8000),  # radius 0.0005 x 8000 = 4 px on this small chart
    "vignette": ({"vignette": -80.0}, 192),
}

FORMAT_STACK: dict[str, object] = {"exposure": 1.0, "temperature": 40.0, "contrast": 15.0}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    return {
        "png": make_test_chart(d / "chart.png", 192, 128),
        "jpeg": make_jpeg(d, "photo.jpg", orientation=None, height=64, width=96),
        "tiff": make_tiff(d, "photo.tif", bit_depth=16, icc="prophoto", height=64, width=96),
        "dng": make_dng(d, "tiny.dng", height=64, width=96),
    }


def _merged_user_sidecar() -> str:
    """A user history (+1 EV active, full desaturation undone) with our warm-up appended."""
    user = [
        HistoryEntry("exposure", 6, encode_params(pack_params("exposure", {"exposure": 1.0}))),
        HistoryEntry("colorbalancergb", 5, encode_params(pack_params("colorbalancergb", {"chroma_global": -1.0}))),
    ]
    root = new_darktable_xmp(user, is_raw=False)
    desc = root[0][0]
    desc.set("{http://darktable.sf.net/}history_end", "1")
    ours = recipe_to_history({"temperature": 40.0}, is_raw=False, long_side_px=96)
    result = append_history(desc, ours, is_raw=False)
    assert result.shifted == 1 and result.history_end_after == 2
    return xmp_to_string(root)


@pytest.fixture(scope="module")
def batch(dtcli: DarktableCli, inputs: dict[str, Path]) -> DarktableResult:
    png = inputs["png"]
    items: dict[str, tuple[Path, str | None]] = {"png_base": (png, None)}
    for name, (settings, long_side) in PNG_STACKS.items():
        items[f"png_{name}"] = (png, _xmp(settings, is_raw=False, long_side_px=long_side))
    for fmt in ("jpeg", "tiff", "dng"):
        is_raw = fmt == "dng"
        items[f"{fmt}_base"] = (inputs[fmt], _neutral_xmp(is_raw=True) if is_raw else None)
        items[f"{fmt}_stack"] = (inputs[fmt], _xmp(FORMAT_STACK, is_raw=is_raw, long_side_px=96))
        with_curves = {**FORMAT_STACK, "rgb_curves": [LIFT, KNOTS, KNOTS]}
        items[f"{fmt}_stack_rgb"] = (inputs[fmt], _xmp(with_curves, is_raw=is_raw, long_side_px=96))
    items["dng_exposure"] = (inputs["dng"], _xmp({"exposure": 1.0}, is_raw=True, long_side_px=96))
    items["merged"] = (inputs["jpeg"], _merged_user_sidecar())
    items["merged_ref"] = (inputs["jpeg"], _xmp({"exposure": 1.0, "temperature": 40.0}, is_raw=False, long_side_px=96))
    return dtcli.render_batch(items, jobs=2)


def test_darktable_accepts_every_stack(batch: DarktableResult) -> None:
    assert batch.problems == [], "darktable complained:\n" + "\n".join(batch.problems)
    assert "version mismatch" not in batch.stderr and "missing tags" not in batch.stderr


# measures on (H, W, 3) linear Rec.2020


def _lum(img: np.ndarray) -> np.ndarray:
    return img @ REC2020_LUMINANCE


def _lab(img: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1).astype(np.float64)))
    return rec2020_to_lab(t).permute(1, 2, 0).numpy()


def _chroma(img: np.ndarray) -> np.ndarray:
    lab = _lab(img)
    return np.hypot(lab[..., 1], lab[..., 2])


def _highpass_energy(img: np.ndarray) -> float:
    y = _lum(np.clip(img, 0, None)) ** (1 / 2.2)
    return float(np.mean(np.abs(np.diff(y, axis=0))) + np.mean(np.abs(np.diff(y, axis=1))))


def _local_contrast(img: np.ndarray) -> float:
    import cv2

    y = _lum(np.clip(img, 0, None)) ** (1 / 2.2)
    blur = cv2.GaussianBlur(y.astype(np.float64), (0, 0), 6)
    return float(np.mean(np.abs(y - blur)))


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean())


Check = Callable[[np.ndarray, np.ndarray], None]


def _brighter_by_two(out: np.ndarray, base: np.ndarray) -> None:
    ok = (base > 0.01) & (base < 0.4)
    assert np.median(out[ok] / base[ok]) == pytest.approx(2.0, rel=0.02)


def _darkest_up(out: np.ndarray, base: np.ndarray) -> None:
    dark = _lum(base) < np.percentile(_lum(base), 10)
    assert _masked_mean(_lum(out), dark) > _masked_mean(_lum(base), dark) + 1e-3


def _darkest_down(out: np.ndarray, base: np.ndarray) -> None:
    dark = (_lum(base) < np.percentile(_lum(base), 30)) & (_lum(base) > 0.005)
    assert _masked_mean(_lum(out), dark) < _masked_mean(_lum(base), dark) - 1e-3


def _more_contrast(out: np.ndarray, base: np.ndarray) -> None:
    lb, lo = _lum(base), _lum(out)
    ok = lb > 0.005
    assert np.std(np.log(lo[ok].clip(1e-6))) > 1.1 * np.std(np.log(lb[ok]))


def _brights_up(out: np.ndarray, base: np.ndarray) -> None:
    bright = _lum(base) > np.percentile(_lum(base), 80)
    assert _masked_mean(_lum(out), bright) > 1.03 * _masked_mean(_lum(base), bright)


def _darks_up(out: np.ndarray, base: np.ndarray) -> None:
    lb = _lum(base)
    dark = (lb < np.percentile(lb, 30)) & (lb > 0.002)
    assert _masked_mean(_lum(out), dark) > 1.05 * _masked_mean(lb, dark)


def _more_chroma(out: np.ndarray, base: np.ndarray) -> None:
    assert _chroma(out).mean() > 1.1 * _chroma(base).mean()


def _no_chroma(out: np.ndarray, base: np.ndarray) -> None:
    assert _chroma(out).mean() < 0.05 * _chroma(base).mean()


def _grey_rows(img: np.ndarray) -> np.ndarray:
    """The neutral ramp of the test chart (below the patch rows)."""
    h = img.shape[0]
    return img[h // 2 + 2 : h // 2 + h // 10]


def _warmer(out: np.ndarray, base: np.ndarray) -> None:
    lab_o, lab_b = _lab(out), _lab(base)
    assert lab_o[..., 2].mean() > lab_b[..., 2].mean() + 2.0  # b* up: towards yellow
    assert (out[..., 0] / out[..., 2].clip(1e-6)).mean() > (base[..., 0] / base[..., 2].clip(1e-6)).mean()


def _magenta(out: np.ndarray, base: np.ndarray) -> None:
    assert _lab(out)[..., 1].mean() > _lab(base)[..., 1].mean() + 2.0  # a* up: towards magenta


def _lifted(out: np.ndarray, base: np.ndarray) -> None:
    assert _lum(out).mean() > 1.05 * _lum(base).mean()


def _red_lifted(out: np.ndarray, base: np.ndarray) -> None:
    assert out[..., 0].mean() > 1.05 * base[..., 0].mean()
    np.testing.assert_allclose(out[..., 1], base[..., 1], atol=2e-3)  # G untouched


def _reds_desaturated(out: np.ndarray, base: np.ndarray) -> None:
    lab = _lab(base)
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    red = (chroma > 30) & ((hue < 40) | (hue > 340))
    blue = (chroma > 30) & (hue > 250) & (hue < 320)
    assert red.sum() > 20 and blue.sum() > 20
    ratio_red = _chroma(out)[red].mean() / chroma[red].mean()
    ratio_blue = _chroma(out)[blue].mean() / chroma[blue].mean()
    assert ratio_red < 0.75 and ratio_blue > 0.9


def _more_local_contrast(out: np.ndarray, base: np.ndarray) -> None:
    assert _local_contrast(out) > 1.05 * _local_contrast(base)


def _sharper(out: np.ndarray, base: np.ndarray) -> None:
    assert _highpass_energy(out) > 1.03 * _highpass_energy(base)


def _darker_corners(out: np.ndarray, base: np.ndarray) -> None:
    h, w = base.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / (w / 2), (xx - w / 2) / (w / 2))
    corner, centre = r > 0.95, r < 0.3
    gain = _lum(out) / _lum(base).clip(1e-4)
    ok = _lum(base) > 0.01
    assert np.median(gain[corner & ok]) < 0.9 * np.median(gain[centre & ok])


CHECKS: dict[str, Check] = {
    "exposure": _brighter_by_two,
    "blacks_up": _darkest_up,
    "blacks_down": _darkest_down,
    "contrast": _more_contrast,
    "highlights": _brights_up,
    "shadows": _darks_up,
    "whites": _brights_up,
    "saturation": _more_chroma,
    "vibrance": _more_chroma,
    "black_and_white": _no_chroma,
    "temperature": _warmer,
    "tint": _magenta,
    "tone_curve": _lifted,
    "rgb_curves": _red_lifted,
    "hsl": _reds_desaturated,
    "clarity": _more_local_contrast,
    "sharpen": _sharper,
    "vignette": _darker_corners,
}


def test_checks_cover_every_stack() -> None:
    assert set(CHECKS) == set(PNG_STACKS)


@pytest.mark.parametrize("name", sorted(PNG_STACKS))
def test_module_acts_on_png(batch: DarktableResult, name: str) -> None:
    base, out = batch.images["png_base"], batch.images[f"png_{name}"]
    assert not np.allclose(out, base, atol=1e-4), f"{name}: darktable's output equals the unedited render"
    CHECKS[name](out, base)


@pytest.mark.parametrize("fmt", ["jpeg", "tiff", "dng"])
def test_stack_acts_on_other_formats(batch: DarktableResult, fmt: str) -> None:
    base, stack, stack_rgb = (batch.images[f"{fmt}_{k}"] for k in ("base", "stack", "stack_rgb"))
    assert stack.shape == base.shape
    lum_b, lum_s = _lum(base), _lum(stack)
    ok = (lum_b > 0.02) & (lum_b < 0.3)
    assert np.median(lum_s[ok] / lum_b[ok]) > 1.6  # +1 EV, slightly reshaped by contrast/white balance
    assert _lab(stack)[..., 2].mean() > _lab(base)[..., 2].mean() + 1.0  # warmer
    # rgbcurve instance 1 (needs the iop_order_list) lifts red only (the curve's 0..1 range)
    ok = (stack.max(axis=-1) < 0.9) & (stack[..., 0] > 0.02)
    assert ok.sum() > 100
    assert np.median(stack_rgb[..., 0][ok] / stack[..., 0][ok]) > 1.05
    np.testing.assert_allclose(stack_rgb[..., 1][ok], stack[..., 1][ok], atol=2e-3)


def test_raw_gets_exactly_our_stack(batch: DarktableResult) -> None:
    # auto_presets_applied=1: no filmic and no +0.7 EV preset underneath, so +1 EV doubles linear light
    # (with darktable's raw workflow presets the ratio would be about 1.75)
    base, out = batch.images["dng_base"], batch.images["dng_exposure"]
    ok = (base > 0.01) & (base < 0.4)
    assert ok.sum() > 100
    assert np.median(out[ok] / base[ok]) == pytest.approx(2.0, rel=0.01)


def test_merged_user_sidecar_renders_user_state_plus_ours(batch: DarktableResult) -> None:
    # the user's undone desaturation stays inactive; their +1 EV and our warm-up both apply
    np.testing.assert_allclose(batch.images["merged"], batch.images["merged_ref"], atol=1e-5)


# -- .dtstyle: import with Lua, apply with --style -----------------------------------------------------------------


def test_dtstyle_imports_and_applies(dtcli: DarktableCli, inputs: dict[str, Path], tmp_path: Path) -> None:
    settings = {"exposure": 0.5, "temperature": 30.0, "tone_curve": LIFT, "rgb_curves": [LIFT, KNOTS, KNOTS]}
    entries = recipe_to_history(settings, is_raw=False, long_side_px=192)
    style_path = tmp_path / "ar_style_test.dtstyle"
    style_path.write_text(history_to_dtstyle(entries, "ar_style_test", "autoretouch test"), encoding="utf-8")
    png = inputs["png"]
    lua = f'require("darktable").styles.import("{style_path}")'
    dtcli.render(png, None, tmp_path / "import.tif", luacmd=lua)
    styled = dtcli.render(png, None, tmp_path / "styled.tif", style="ar_style_test")
    assert styled.problems == []
    # darktable-cli applies a style on the image's default order, V30 (2) also for PNG: the same pixels as our
    # sidecar written with order 2 (and both rgbcurve instances applied)
    ref = dtcli.render_batch({"ref": (png, xmp_to_string(new_darktable_xmp(entries, is_raw=True)))})
    np.testing.assert_allclose(styled.images["styled"], ref.images["ref"], atol=1e-4)


# -- fidelity: our renderer vs darktable on a generated chart ------------------------------------------------------


@pytest.fixture(scope="module")
def fidelity(dtcli: DarktableCli, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, float, float]]:
    chart = make_test_chart(tmp_path_factory.mktemp("fidelity") / "chart.png", 96, 64)
    cases = fidelity_cases()
    items = {name: (chart, _xmp(s, is_raw=False, long_side_px=96)) for name, s in cases.items()}
    result = dtcli.render_batch(items, jobs=2)
    assert result.problems == []
    linear = load_srgb_as_rec2020(chart)
    table = {}
    for name, settings in cases.items():
        ours = rec2020_to_display_srgb(render_ours(linear, settings))
        theirs = rec2020_to_display_srgb(result.images[name])
        de = delta_e_2000(ours, theirs)
        table[name] = (fidelity_group(settings), float(de.mean()), float(np.percentile(de, 95)))
    return table


def test_fidelity_covers_every_global_scalar_at_three_values(fidelity: dict[str, tuple[str, float, float]]) -> None:
    groups = [g for g, _, _ in fidelity.values()]
    global_scalars = [spec.name for spec in CATALOG if spec.shape == () and spec.is_global]
    assert len(global_scalars) == 11, global_scalars  # exposure ... black_and_white
    for slider in global_scalars:
        assert groups.count(slider) >= 3, slider
    assert "tone_curve" in groups and groups.count("combined") == 3


def test_fidelity_mean_delta_e_below_two(fidelity: dict[str, tuple[str, float, float]]) -> None:
    report = "\n".join(f"{n:26s} {g:16s} mean {m:6.3f}  p95 {p:6.3f}" for n, (g, m, p) in fidelity.items())
    bad = {n: m for n, (_, m, _) in fidelity.items() if m > MAX_MEAN_DE}
    assert not bad, f"mean CIEDE2000 above {MAX_MEAN_DE}: {bad}\n{report}"
