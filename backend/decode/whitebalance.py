"""As-shot white balance of raws: multipliers -> camera neutral -> xy -> Adobe-style Temperature/Tint.

* Camera neutral -> XYZ: for DNGs with ``ColorMatrix1/2`` the DNG specification's method (interpolate the
  XYZ->camera matrices by inverse CCT between the two calibration illuminants, iterate until xy settles,
  with ``CameraCalibration`` and ``AnalogBalance`` applied); otherwise LibRaw's single ``rgb_xyz_matrix``
  (Adobe's D65 matrix of the camera): ``XYZ = solve(M, neutral)``.
* xy -> CCT and Duv: Robertson (1968) through colour-science (``uv_to_CCT_Robertson1968``, CIE 1960 uv).
* Tint: Adobe writes ``tint = -3000 * d`` with its own signed distance ``d`` from the Planckian locus,
  which is ``-Duv`` in the CIE convention colour-science uses; so ``tint = +3000 * Duv``. Check: D65
  gives 6504 K, tint +9.8 (lightroom.md §12.3), illuminant A 2856 K, tint ~0.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from backend.decode.tiffdir import TiffDirectory
from backend.decode.types import AsShotWhiteBalance

__all__ = ["DngColour", "as_shot_white_balance", "dng_colour", "xy_to_temperature_tint"]

_TINT_SCALE = 3000.0
_colour_lock = threading.Lock()
_colour_module: ModuleType | None = None

#: EXIF LightSource code -> correlated colour temperature (K), as the DNG SDK maps calibration illuminants.
_ILLUMINANT_K: dict[int, float] = {
    1: 5500.0, 2: 4150.0, 3: 2850.0, 4: 5500.0, 9: 5500.0, 10: 6500.0, 11: 7500.0, 12: 6400.0,
    13: 5050.0, 14: 4150.0, 15: 3525.0, 16: 2925.0, 17: 2850.0, 18: 5500.0, 19: 6500.0, 20: 5500.0,
    21: 6500.0, 22: 7500.0, 23: 5000.0, 24: 3200.0,
}  # fmt: skip


def _colour() -> ModuleType:
    """Import colour-science once (it is slow to import and warns about matplotlib being absent)."""
    global _colour_module
    with _colour_lock:
        if _colour_module is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import colour

            _colour_module = colour
    return _colour_module


def xy_to_temperature_tint(xy: np.ndarray) -> tuple[float, float] | None:
    """Adobe-style Temperature (K) and Tint of a chromaticity.

    Args:
        xy: CIE 1931 ``(x, y)``.

    Returns:
        ``(kelvin, tint)``, or ``None`` outside the range Robertson's table covers (1667 K .. 100000 K).
    """
    colour = _colour()
    uv = colour.xy_to_UCS_uv(np.asarray(xy, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cct, duv = colour.temperature.uv_to_CCT_Robertson1968(uv)
    if not (np.isfinite(cct) and np.isfinite(duv)) or not 1667.0 <= cct <= 100000.0:
        return None
    return float(cct), float(_TINT_SCALE * duv)


@dataclass(frozen=True)
class DngColour:
    """DNG colour calibration tags (XYZ -> camera matrices are ``(3, 3)``).

    Attributes:
        matrices: ``ColorMatrix1`` and, when present, ``ColorMatrix2``.
        temperatures: calibration illuminant temperatures (K), one per matrix.
        calibrations: ``CameraCalibration1/2`` (identity when absent).
        analog_balance: ``AnalogBalance`` diagonal (ones when absent).
    """

    matrices: tuple[np.ndarray, ...]
    temperatures: tuple[float, ...]
    calibrations: tuple[np.ndarray, ...]
    analog_balance: np.ndarray


def _matrix(ifd: TiffDirectory, code: int) -> np.ndarray | None:
    values = ifd.tags.get(code)
    if not values or len(values) < 9:
        return None
    try:
        return np.asarray(values[:9], dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError):
        return None


def dng_colour(directories: list[TiffDirectory]) -> DngColour | None:
    """Read ``ColorMatrix1/2`` and companions from the IFD carrying ``DNGVersion`` (IFD0), if any."""
    if not directories or directories[0].first(50706) is None:
        return None
    ifd = directories[0]
    matrices, temps, calibs = [], [], []
    for cm_tag, cc_tag, ill_tag in ((50721, 50723, 50778), (50722, 50724, 50779)):
        m = _matrix(ifd, cm_tag)
        if m is None:
            continue
        matrices.append(m)
        code = ifd.first(ill_tag)
        temps.append(_ILLUMINANT_K.get(int(code) if isinstance(code, int | float) else 21, 6500.0))
        cc = _matrix(ifd, cc_tag)
        calibs.append(np.eye(3) if cc is None else cc)
    if not matrices:
        return None
    ab_values = ifd.tags.get(50727)
    ab = np.asarray(ab_values[:3], dtype=np.float64) if ab_values and len(ab_values) >= 3 else np.ones(3)
    return DngColour(tuple(matrices), tuple(temps), tuple(calibs), ab)


def _xyz_to_xy(xyz: np.ndarray) -> np.ndarray | None:
    total = float(np.sum(xyz))
    if not np.isfinite(total) or total <= 0:
        return None
    return np.asarray(xyz[:2] / total, dtype=np.float64)


def _dng_neutral_to_xy(neutral: np.ndarray, dng: DngColour) -> np.ndarray | None:
    def xyz_to_camera(weight: float) -> np.ndarray:
        if len(dng.matrices) == 1:
            cm, cc = dng.matrices[0], dng.calibrations[0]
        else:
            cm = weight * dng.matrices[0] + (1.0 - weight) * dng.matrices[1]
            cc = weight * dng.calibrations[0] + (1.0 - weight) * dng.calibrations[1]
        return np.diag(dng.analog_balance) @ cc @ cm

    def weight_for(xy: np.ndarray) -> float:
        if len(dng.matrices) == 1:
            return 1.0
        tt = xy_to_temperature_tint(xy)
        t = tt[0] if tt else 5000.0
        t1, t2 = dng.temperatures
        if t1 == t2:
            return 1.0
        w = (1.0 / t - 1.0 / t2) / (1.0 / t1 - 1.0 / t2)
        return float(np.clip(w, 0.0, 1.0))

    xy: np.ndarray | None = np.array([0.3457, 0.3585])  # start at D50
    for _ in range(30):
        assert xy is not None
        new = _xyz_to_xy(np.linalg.solve(xyz_to_camera(weight_for(xy)), neutral))
        if new is None:
            return None
        if np.max(np.abs(new - xy)) < 1e-7:
            return new
        xy = new
    return xy


def as_shot_white_balance(
    multipliers: np.ndarray, xyz_to_camera: np.ndarray | None, dng: DngColour | None
) -> AsShotWhiteBalance:
    """Build the :class:`AsShotWhiteBalance` of a raw.

    Args:
        multipliers: camera R, G, B multipliers (any positive scale).
        xyz_to_camera: ``(3, 3)`` XYZ -> camera matrix (LibRaw ``rgb_xyz_matrix[:3]``), or ``None``.
        dng: DNG colour tags, preferred over ``xyz_to_camera`` when given.

    Returns:
        Multipliers and neutral normalised to G = 1; Temperature/Tint when a matrix is available and the
        neutral maps to a chromaticity within Robertson's range.
    """
    mult = np.asarray(multipliers, dtype=np.float64)[:3] / float(multipliers[1])
    neutral = 1.0 / mult
    xy: np.ndarray | None = None
    try:
        if dng is not None:
            xy = _dng_neutral_to_xy(neutral, dng)
        elif xyz_to_camera is not None and np.any(xyz_to_camera):
            xy = _xyz_to_xy(np.linalg.solve(xyz_to_camera, neutral))
    except np.linalg.LinAlgError:
        xy = None
    tt = xy_to_temperature_tint(xy) if xy is not None else None
    return AsShotWhiteBalance(
        multipliers=(float(mult[0]), float(mult[1]), float(mult[2])),
        neutral=(float(neutral[0]), float(neutral[1]), float(neutral[2])),
        kelvin=None if tt is None else tt[0],
        tint=None if tt is None else tt[1],
    )
