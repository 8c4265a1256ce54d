"""``darktable-cli`` (darktable 4.2) in tests and benchmarks: the runner and the fidelity helpers.

The runner (:class:`DarktableCli`, :class:`DarktableResult`, :func:`darktable_cli_path` ...) lives in
:mod:`trainer.darktable_cli`, because ``train --darktable`` uses it too (isolation, batching and output format are
described there); it is re-exported here. The fidelity helpers below compare our renderer with darktable-cli.

Typical use::

    dt = DarktableCli(Path("/tmp/me/dt"))
    result = dt.render_batch({"plus1ev": (png, xmp_text), "plain": (png, None)})
    result.images["plus1ev"]          # (H, W, 3) float32 linear Rec.2020
    result.problems                   # stderr lines that signal rejected history entries
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from trainer import darktable_cli as _runner
from trainer.darktable_cli import *  # noqa: F403  (the runner, as _runner.__all__ lists it)

__all__ = [
    "FIDELITY_SCALARS",
    "delta_e_2000",
    "fidelity_cases",
    "fidelity_group",
    "load_srgb_as_rec2020",
    "make_test_chart",
    "rec2020_to_display_srgb",
    "render_ours",
]
__all__ += _runner.__all__

# -- fidelity: our renderer vs darktable-cli, compared in sRGB with CIEDE2000 ---------------------------------


def make_test_chart(path: Path, width: int = 96, height: int = 64) -> Path:
    """Write an 8-bit sRGB PNG test chart: colour patches (many hues, chromas, lightnesses) and ramps.

    Layout: the top half holds 4 rows of 12 patches (hue around the circle, two saturations, two values);
    below them a neutral ramp, and R, G, B and skin-tone ramps, each a full-width gradient from black.

    Args:
        path: output ``.png`` path.
        width: image width in pixels (a multiple of 12 keeps patches equal).
        height: image height in pixels.

    Returns:
        ``path``.
    """
    import cv2

    img = np.zeros((height, width, 3), dtype=np.float64)
    top = height // 2
    rows = 4
    ph = top // rows
    cols = 12
    pw = width // cols
    for r in range(rows):
        sat = (0.85, 0.45, 0.85, 0.3)[r]
        val = (0.9, 0.75, 0.45, 0.35)[r]
        for c in range(cols):
            h = c / cols * 6.0
            x = 1 - abs(h % 2 - 1)
            rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)][int(h) % 6]
            colour = val * (1 - sat + sat * np.array(rgb, dtype=np.float64))
            img[r * ph : (r + 1) * ph, c * pw : (c + 1) * pw] = colour
    img[rows * ph : top, :] = 0.5
    ramps = [(1, 1, 1), (1, 0.15, 0.1), (0.15, 1, 0.2), (0.1, 0.2, 1), (1, 0.72, 0.58)]
    rh = max(1, (height - top) // len(ramps))
    t = np.linspace(0.0, 1.0, width)
    for i, tint in enumerate(ramps):
        y0 = top + i * rh
        y1 = height if i == len(ramps) - 1 else y0 + rh
        img[y0:y1] = t[None, :, None] * np.array(tint)[None, None, :]
    u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), u8[..., ::-1]):
        raise OSError(f"cannot write {path}")
    return path


def load_srgb_as_rec2020(path: Path) -> np.ndarray:
    """Read an 8/16-bit sRGB PNG/JPEG/TIFF (no ICC handling) as ``(H, W, 3)`` float64 linear Rec.2020.

    This is what darktable's ``colorin`` does for a file without an embedded profile (sRGB assumed).
    """
    import cv2

    from backend.render.color import SRGB_TO_REC2020

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise OSError(f"cannot read {path}")
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0
    enc = raw[..., :3][..., ::-1].astype(np.float64) / scale
    lin = np.where(enc <= 0.04045, enc / 12.92, ((enc + 0.055) / 1.055) ** 2.4)
    return lin @ SRGB_TO_REC2020.T


def rec2020_to_display_srgb(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` linear Rec.2020 -> sRGB-encoded values clipped to [0, 1] (what a display export shows)."""
    from backend.render.color import REC2020_TO_SRGB

    lin = np.clip(np.asarray(image, dtype=np.float64) @ REC2020_TO_SRGB.T, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def delta_e_2000(srgb_a: np.ndarray, srgb_b: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 between two sRGB-encoded ``(H, W, 3)`` images (colour-science, Lab from sRGB)."""
    import warnings

    with warnings.catch_warnings():  # colour-science warns at import that matplotlib is missing
        warnings.simplefilter("ignore")
        import colour

    lab_a = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(srgb_a))
    lab_b = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(srgb_b))
    return np.asarray(colour.delta_E(lab_a, lab_b, method="CIE 2000"))


def render_ours(image_rec2020: np.ndarray, settings: Mapping[str, object], *, double: bool = True) -> np.ndarray:
    """Render slider settings with autoretouch's renderer.

    Args:
        image_rec2020: ``(H, W, 3)`` linear Rec.2020.
        settings: slider name -> value.
        double: render in float64 (default) or float32 (several times faster for the colour stages).

    Returns:
        ``(H, W, 3)`` float64 linear Rec.2020, unclamped.
    """
    import torch

    from backend.render.pipeline import render

    dtype = torch.float64 if double else torch.float32
    x = torch.from_numpy(np.ascontiguousarray(image_rec2020.transpose(2, 0, 1)))[None].to(dtype)
    with torch.no_grad():
        y = render(x, dict(settings))  # type: ignore[arg-type]
    return y[0].permute(1, 2, 0).to(torch.float64).numpy()


#: Scalar global sliders and the values the fidelity test and benchmark render (catalog units).
FIDELITY_SCALARS: dict[str, tuple[float, ...]] = {
    "exposure": (-1.0, 0.5, 1.5),
    "contrast": (-60.0, 30.0, 70.0),
    "highlights": (-80.0, -30.0, 40.0),
    "shadows": (-60.0, 30.0, 80.0),
    "whites": (-60.0, 30.0, 70.0),
    "blacks": (-70.0, -25.0, 40.0),
    "vibrance": (-70.0, 30.0, 80.0),
    "saturation": (-70.0, 30.0, 80.0),
    "temperature": (-70.0, 30.0, 80.0),
    "tint": (-70.0, 30.0, 80.0),
    "black_and_white": (30.0, 70.0, 100.0),
}

_S_CURVE = (0.0, 0.012, 0.07, 0.22, 0.45, 0.72, 1.0)
_LIFT = (0.01, 0.04, 0.12, 0.27, 0.46, 0.69, 1.0)
_FADE = (0.03, 0.05, 0.1, 0.2, 0.38, 0.62, 0.95)


def fidelity_cases() -> dict[str, dict[str, object]]:
    """Named slider settings for darktable fidelity checks: each scalar global slider at several values,
    the tone curve, RGB curves, HSL and three combined recipes.

    Returns:
        name (``[A-Za-z0-9_-]+``) -> settings (slider -> value), in a stable order.
    """
    from backend.sliders.catalog import CURVE_KNOTS, HSL_COLOURS

    cases: dict[str, dict[str, object]] = {}
    for slider, values in FIDELITY_SCALARS.items():
        for v in values:
            cases[f"{slider}_{v:+g}".replace("+", "p").replace("-", "m").replace(".", "_")] = {slider: v}
    knots = list(CURVE_KNOTS)
    cases["tone_curve_s"] = {"tone_curve": list(_S_CURVE)}
    cases["tone_curve_fade"] = {"tone_curve": list(_FADE)}
    cases["rgb_curves_warm"] = {"rgb_curves": [list(_LIFT), knots, list(_S_CURVE)]}
    hsl = [[0.0, 0.0, 0.0] for _ in HSL_COLOURS]
    hsl[0], hsl[2], hsl[5] = [15.0, -40.0, 10.0], [-10.0, 30.0, 0.0], [-25.0, 50.0, -30.0]
    cases["hsl_mixed"] = {"hsl": hsl}
    cases["combo_bright_warm"] = {
        "exposure": 0.4,
        "contrast": 25.0,
        "shadows": 30.0,
        "highlights": -40.0,
        "vibrance": 20.0,
        "temperature": 15.0,
    }
    cases["combo_matte_cool"] = {
        "exposure": -0.3,
        "whites": -30.0,
        "blacks": 20.0,
        "saturation": -20.0,
        "tint": 10.0,
        "temperature": -25.0,
        "tone_curve": list(_FADE),
    }
    cases["combo_mono_punch"] = {
        "black_and_white": 100.0,
        "contrast": 40.0,
        "exposure": 0.2,
        "whites": 25.0,
        "rgb_curves": [list(_LIFT), knots, list(_S_CURVE)],
    }
    return cases


def fidelity_group(settings: Mapping[str, object]) -> str:
    """The row a fidelity case reports under: its slider, or ``"combined"`` for several sliders."""
    return next(iter(settings)) if len(settings) == 1 else "combined"
