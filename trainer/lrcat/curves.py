"""Lightroom point curves (0..255, display-encoded) -> our curve sliders (linear outputs at CURVE_KNOTS).

A Lightroom point curve is a list of control points ``(x, y)`` in 0..255 on display-encoded values,
stored flat (``{ 0, 0, 64, 56, 255, 255 }``). Between the points it is interpolated by a cubic spline
that is C2-continuous with zero second derivative at both ends (a *natural* cubic spline; the DNG SDK
interpolates its tone curves this way, ``dng_spline_solver``; that Lightroom's point curve uses exactly
this spline is an assumption, not verified), and held flat outside the first and last point.

Our curve sliders hold linear-light outputs at the knots :data:`~backend.sliders.catalog.CURVE_KNOTS`,
which are sRGB-decoded positions ``i / 6``. The conversion evaluates the point curve at the encoded
knot ``x_e = srgb_encode(knot)`` and decodes the result: ``value = srgb_decode(curve(x_e))``. This is the
exact inverse of :func:`backend.translate.lightroom.curve_points` at the knots (up to its rounding to
integers). An optional ``pre`` function (the legacy Brightness gamma) is applied to ``x_e`` first. The
result is clamped to [0, 1] and made non-decreasing (running maximum), as the slider requires; that only
smooths the spline's overshoot between rising points. A curve whose points go down (an inversion such as
``{ 0, 255, 255, 0 }``, used to develop film negatives) cannot be represented at all: the running maximum
would turn it into a flat white curve. :func:`decreasing_step` finds such a curve so that callers can
leave it out (:func:`trainer.lrcat.pv2003.map_settings` does, with a note).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from backend.sliders.catalog import CURVE_KNOTS

__all__ = [
    "IDENTITY_POINTS",
    "MEDIUM_CONTRAST_POINTS",
    "curve_to_knots",
    "decreasing_step",
    "natural_spline_slopes",
    "parse_point_curve",
    "spline_eval",
]

#: The linear point curve, ``Linear`` (lightroom.md §9.3).
IDENTITY_POINTS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (255.0, 255.0))
#: Lightroom's ``Medium Contrast`` point curve, the legacy default (lightroom.md §9.6).
MEDIUM_CONTRAST_POINTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (32.0, 22.0),
    (64.0, 56.0),
    (128.0, 128.0),
    (192.0, 196.0),
    (255.0, 255.0),
)
_IDENTITY_TOL = 1e-9


def _srgb_encode(linear: float) -> float:
    return linear * 12.92 if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055


def _srgb_decode(encoded: float) -> float:
    return encoded / 12.92 if encoded <= 0.04045 else ((encoded + 0.055) / 1.055) ** 2.4


def parse_point_curve(value: object) -> list[tuple[float, float]] | None:
    """A flat ``[x1, y1, x2, y2, ...]`` settings value -> points, or ``None`` when it is not a valid curve.

    Valid: an even number (>= 4) of finite numbers in 0..255 with strictly increasing x.
    """
    if not isinstance(value, list) or len(value) < 4 or len(value) % 2:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return None
    points = [(float(value[i]), float(value[i + 1])) for i in range(0, len(value), 2)]
    if any(not (0.0 <= c <= 255.0) for p in points for c in p):
        return None
    if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
        return None
    return points


def decreasing_step(points: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The first two neighbouring points whose output goes down, or ``None`` for a non-decreasing curve.

    Our curve sliders are non-decreasing, so a curve with such a step (e.g. the inversion ``(0, 255), (255, 0)``)
    has no slider value: :func:`curve_to_knots` would flatten it.
    """
    return next(((a, b) for a, b in itertools.pairwise(points) if b[1] < a[1]), None)


def natural_spline_slopes(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    """Slopes at the points of the natural cubic spline through ``(xs, ys)`` (xs strictly increasing).

    Solves the tridiagonal system of C2 continuity with zero second derivative at the ends (Thomas
    algorithm). Two points give the straight line.
    """
    n = len(xs)
    h = [xs[i + 1] - xs[i] for i in range(n - 1)]
    d = [(ys[i + 1] - ys[i]) / h[i] for i in range(n - 1)]
    if n == 2:
        return [d[0], d[0]]
    # Rows: sub[i] * s[i-1] + diag[i] * s[i] + sup[i] * s[i+1] = rhs[i]
    sub = [0.0] + [h[i] for i in range(1, n - 1)] + [1.0]
    diag = [2.0] + [2.0 * (h[i - 1] + h[i]) for i in range(1, n - 1)] + [2.0]
    sup = [1.0] + [h[i - 1] for i in range(1, n - 1)] + [0.0]
    rhs = [3.0 * d[0]] + [3.0 * (h[i] * d[i - 1] + h[i - 1] * d[i]) for i in range(1, n - 1)] + [3.0 * d[-1]]
    for i in range(1, n):
        w = sub[i] / diag[i - 1]
        diag[i] -= w * sup[i - 1]
        rhs[i] -= w * rhs[i - 1]
    s = [0.0] * n
    s[-1] = rhs[-1] / diag[-1]
    for i in range(n - 2, -1, -1):
        s[i] = (rhs[i] - sup[i] * s[i + 1]) / diag[i]
    return s


def spline_eval(xs: Sequence[float], ys: Sequence[float], slopes: Sequence[float], x: float) -> float:
    """Evaluate the cubic Hermite spline (points ``xs, ys``, ``slopes``) at ``x``; flat outside the points."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    j = next(i for i in range(1, len(xs)) if x <= xs[i])
    h = xs[j] - xs[j - 1]
    t = (x - xs[j - 1]) / h
    t2, t3 = t * t, t * t * t
    return (
        (2 * t3 - 3 * t2 + 1) * ys[j - 1]
        + (t3 - 2 * t2 + t) * h * slopes[j - 1]
        + (-2 * t3 + 3 * t2) * ys[j]
        + (t3 - t2) * h * slopes[j]
    )


def curve_to_knots(
    points: Sequence[tuple[float, float]], *, pre: Callable[[float], float] | None = None
) -> tuple[float, ...]:
    """A Lightroom point curve (0..255, encoded) -> our curve slider value (linear outputs at CURVE_KNOTS).

    Args:
        points: control points, x strictly increasing, 0..255, y non-decreasing (check with
            :func:`decreasing_step`: the running maximum below would flatten a decreasing step).
        pre: optional function on encoded [0, 1] applied before the curve (legacy Brightness).

    Returns:
        ``len(CURVE_KNOTS)`` linear values in [0, 1], non-decreasing; exactly ``CURVE_KNOTS`` when the
        result equals the identity within 1e-9.
    """
    xs = [p[0] / 255.0 for p in points]
    ys = [p[1] / 255.0 for p in points]
    slopes = natural_spline_slopes(xs, ys)
    out: list[float] = []
    for knot in CURVE_KNOTS:
        x = round(_srgb_encode(knot), 12)  # the ends land exactly on 0 and 1
        if pre is not None:
            x = pre(x)
        y = min(max(spline_eval(xs, ys, slopes, x), 0.0), 1.0)
        value = _srgb_decode(y)
        out.append(max(value, out[-1]) if out else value)
    if all(abs(a - b) <= _IDENTITY_TOL for a, b in zip(out, CURVE_KNOTS, strict=True)):
        return tuple(CURVE_KNOTS)
    return tuple(out)
