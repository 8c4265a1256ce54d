"""Full-reference image metrics for paired evaluation: PSNR, SSIM, CIEDE2000 (and CIE76).

Every metric compares what a viewer sees: **sRGB-encoded values in [0, 1]**, quantised to 8 bits by default
(what an 8-bit export holds, the convention of the published FiveK tables). Inputs come in two forms, told apart
by type:

* a ``torch.Tensor`` of shape ``(N, 3, H, W)`` (or ``(3, H, W)``) in **linear Rec.2020** (the renderer's working
  space): converted to linear sRGB, hard-clipped to [0, 1] per channel (no gamut mapping, as
  :mod:`backend.encode` writes files) and encoded with the sRGB transfer function;
* a ``numpy.ndarray`` of shape ``(N, H, W, 3)`` (or ``(H, W, 3)``) of **sRGB-encoded** values: ``uint8``
  (/255), ``uint16`` (/65535) or floats already in [0, 1] (clipped);
* a :class:`Prepared` (either of the above, converted once for several comparisons).

Definitions (per image; callers average over images, as the papers do):

* ``psnr``: ``10 log10(1 / MSE)`` over all pixels and the three channels (peak 1, i.e. 255 at 8 bits); identical
  images give ``inf``.
* ``ssim``: Wang et al. (2004) SSIM computed **per R, G, B channel and averaged** (scikit-image's
  ``structural_similarity`` with ``channel_axis``), Gaussian window sigma 1.5 (11 x 11), K1 0.01, K2 0.03,
  population covariance, data range 1. Images smaller than 11 px use the largest odd window that fits (>= 3).
* ``delta_e00``: mean per-pixel CIEDE2000 (colour-science) between CIELAB values computed from sRGB
  (IEC 61966-2-1, D65) with the D65 reference white.
* ``delta_e76``: mean per-pixel Euclidean distance in the same CIELAB (CIE76), the ΔE most FiveK tables report.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from backend.render.color import REC2020_TO_SRGB, apply_matrix, srgb_encode

__all__ = [
    "METRICS",
    "METRIC_NOTES",
    "MIN_SIDE",
    "PSNR_CAP",
    "Prepared",
    "as_srgb",
    "delta_e00",
    "delta_e76",
    "image_metrics",
    "mean_metric",
    "pooled_psnr",
    "psnr",
    "ssim",
]

#: Metric names in report order.
METRICS: tuple[str, ...] = ("psnr", "ssim", "delta_e00", "delta_e76")

#: Highest PSNR (dB) a summary reports: pooled over identical images, and in JSON for one identical pair.
PSNR_CAP = 100.0

#: Fewest pixels a side that the metrics compare (SSIM's smallest window is 3x3).
MIN_SIDE = 3

#: One-line description of each metric (for reports and JSON).
METRIC_NOTES: dict[str, str] = {
    "psnr": (
        "PSNR in dB on sRGB-encoded values in [0, 1] (8-bit quantised), all pixels and channels; a summary pools "
        "the photos (PSNR of their mean squared error), at most 100 dB, the value written for identical images"
    ),
    "ssim": "SSIM per R, G, B channel of sRGB (8-bit quantised) and averaged; Gaussian 11x11, sigma 1.5",
    "delta_e00": "mean CIEDE2000 in CIELAB (D65) from sRGB",
    "delta_e76": "mean CIE76 (Euclidean Lab) in CIELAB (D65) from sRGB",
}


class Prepared:
    """Images converted once for repeated comparisons (e.g. one reference against several methods).

    Args:
        image: either accepted layout (see the module docstring).
        quantize: round to 8 bits.

    Attributes:
        srgb: ``(N, H, W, 3)`` float64 sRGB-encoded values in [0, 1].
        quantize: whether ``srgb`` was quantised.
    """

    def __init__(self, image: Tensor | np.ndarray, *, quantize: bool = True) -> None:
        self.srgb = as_srgb(image, quantize=quantize)
        self.quantize = quantize
        self._lab: np.ndarray | None = None

    @property
    def lab(self) -> np.ndarray:
        """``(N, H, W, 3)`` CIELAB (D65) of :attr:`srgb`, computed on first use."""
        if self._lab is None:
            self._lab = _lab(self.srgb)
        return self._lab


ImageLike = Tensor | np.ndarray | Prepared


def as_srgb(image: Tensor | np.ndarray, *, quantize: bool = True) -> np.ndarray:
    """Bring an image batch to sRGB-encoded float64 values in [0, 1].

    Args:
        image: ``(N, 3, H, W)`` / ``(3, H, W)`` linear Rec.2020 tensor, or ``(N, H, W, 3)`` / ``(H, W, 3)``
            sRGB-encoded array (uint8, uint16 or float in [0, 1]).
        quantize: round to 8 bits (``round(255 v) / 255``), as an 8-bit export would.

    Returns:
        ``(N, H, W, 3)`` float64 array in [0, 1].

    Raises:
        ValueError: a shape that is neither layout.
    """
    if isinstance(image, Tensor):
        x = image.detach().to("cpu", torch.float64)
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"tensor images must be (N, 3, H, W) linear Rec.2020, got {tuple(x.shape)}")
        linear = apply_matrix(x, REC2020_TO_SRGB).nan_to_num(0.0).clamp(0.0, 1.0)
        out = srgb_encode(linear).clamp(0.0, 1.0).permute(0, 2, 3, 1).numpy()
    else:
        arr = np.asarray(image)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"array images must be (N, H, W, 3) sRGB, got {arr.shape}")
        if arr.dtype == np.uint8:
            out = arr.astype(np.float64) / 255.0
        elif arr.dtype == np.uint16:
            out = arr.astype(np.float64) / 65535.0
        else:
            out = np.clip(np.nan_to_num(arr.astype(np.float64)), 0.0, 1.0)
    if quantize:
        out = np.round(out * 255.0) / 255.0
    return np.ascontiguousarray(out)


def _prepare(image: ImageLike, quantize: bool) -> Prepared:
    if isinstance(image, Prepared):
        if image.quantize != quantize:
            raise ValueError(f"prepared images have quantize={image.quantize}, asked for {quantize}")
        return image
    return Prepared(image, quantize=quantize)


def _pair(a: ImageLike, b: ImageLike, quantize: bool) -> tuple[Prepared, Prepared]:
    x, y = _prepare(a, quantize), _prepare(b, quantize)
    if x.srgb.shape != y.srgb.shape:
        raise ValueError(f"images differ in shape: {x.srgb.shape} vs {y.srgb.shape}")
    return x, y


def _psnr(a: Prepared, b: Prepared) -> np.ndarray:
    x, y = a.srgb, b.srgb
    mse = ((x - y) ** 2).reshape(x.shape[0], -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, 10.0 * np.log10(1.0 / np.maximum(mse, 1e-300)), np.inf)


def _ssim(a: Prepared, b: Prepared) -> np.ndarray:
    from skimage.metrics import structural_similarity

    x, y = a.srgb, b.srgb
    side = min(x.shape[1], x.shape[2])
    win = 11 if side >= 11 else max(MIN_SIDE, side if side % 2 else side - 1)
    if side < MIN_SIDE:
        raise ValueError(f"SSIM needs images of at least 3x3 pixels, got {x.shape[1]}x{x.shape[2]}")
    return np.array(
        [
            structural_similarity(
                x[i],
                y[i],
                data_range=1.0,
                channel_axis=-1,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                win_size=win,
            )
            for i in range(x.shape[0])
        ],
        dtype=np.float64,
    )


def _lab(x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # colour-science warns at import when matplotlib is missing
        warnings.simplefilter("ignore")
        import colour

        return np.asarray(colour.XYZ_to_Lab(colour.sRGB_to_XYZ(x)))


def _delta_e00(a: Prepared, b: Prepared) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import colour

        de = np.asarray(colour.delta_E(a.lab, b.lab, method="CIE 2000"))
    return de.reshape(de.shape[0], -1).mean(axis=1)


def _delta_e76(a: Prepared, b: Prepared) -> np.ndarray:
    de = np.sqrt(((a.lab - b.lab) ** 2).sum(axis=-1))
    return de.reshape(de.shape[0], -1).mean(axis=1)


_FUNCS: dict[str, Callable[[Prepared, Prepared], np.ndarray]] = {
    "psnr": _psnr,
    "ssim": _ssim,
    "delta_e00": _delta_e00,
    "delta_e76": _delta_e76,
}


def psnr(a: ImageLike, b: ImageLike, *, quantize: bool = True) -> np.ndarray:
    """Per-image PSNR in dB (peak 1 on sRGB-encoded values; ``inf`` for identical images).

    Args:
        a: images (see the module docstring for the two accepted layouts).
        b: reference images of the same shape.
        quantize: compare 8-bit quantised values.

    Returns:
        ``(N,)`` float64.

    Examples:
        >>> import numpy as np
        >>> float(psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1), quantize=False)[0])
        20.0
    """
    return _psnr(*_pair(a, b, quantize))


def ssim(a: ImageLike, b: ImageLike, *, quantize: bool = True) -> np.ndarray:
    """Per-image SSIM (per sRGB channel, averaged; 1 for identical images).

    Returns:
        ``(N,)`` float64 in [-1, 1].
    """
    return _ssim(*_pair(a, b, quantize))


def delta_e00(a: ImageLike, b: ImageLike, *, quantize: bool = True) -> np.ndarray:
    """Per-image mean CIEDE2000 (CIELAB D65 from sRGB; 0 for identical images).

    Returns:
        ``(N,)`` float64, >= 0.
    """
    return _delta_e00(*_pair(a, b, quantize))


def delta_e76(a: ImageLike, b: ImageLike, *, quantize: bool = True) -> np.ndarray:
    """Per-image mean CIE76 ΔE (Euclidean distance in CIELAB D65 from sRGB).

    Returns:
        ``(N,)`` float64, >= 0.
    """
    return _delta_e76(*_pair(a, b, quantize))


def image_metrics(
    a: ImageLike, b: ImageLike, *, quantize: bool = True, metrics: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """Several per-image metrics at once (the sRGB and Lab conversions are done once).

    Args:
        a: images.
        b: references of the same shape; pass a :class:`Prepared` to reuse them across calls.
        quantize: compare 8-bit quantised values.
        metrics: names from :data:`METRICS`.

    Returns:
        Metric name -> ``(N,)`` float64 per-image values.

    Raises:
        ValueError: an unknown metric name or mismatched shapes.
    """
    unknown = [m for m in metrics if m not in _FUNCS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    x, y = _pair(a, b, quantize)
    return {m: _FUNCS[m](x, y) for m in metrics}


def mean_metric(values: np.ndarray | list[float]) -> float:
    """Mean of per-image values; ``inf`` when any value is ``inf`` (identical images), ``nan`` when empty."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return math.nan
    return float(arr.mean())


def pooled_psnr(values_db: np.ndarray | list[float], cap: float = PSNR_CAP) -> float:
    """The PSNR (dB) of several photos taken together: of their mean squared error, from per-photo PSNRs.

    Unlike the mean of the per-photo values, one photo scored near-perfectly (a pair whose "edit" changed
    nothing: ``inf`` or a capped 100 dB) does not outweigh the others; the photos with the largest errors count
    most, as they do for the eye.

    Args:
        values_db: per-photo PSNR in dB (``inf`` allowed: a squared error of 0).
        cap: the highest value returned (all photos identical gives infinity otherwise).

    Returns:
        ``-10 log10(mean(10 ** (-v / 10)))``, at most ``cap``; ``nan`` when empty or any value is ``nan``.

    Examples:
        >>> round(pooled_psnr([100.0, 20.0, 20.0, 20.0]), 2)
        21.25
    """
    arr = np.asarray(values_db, dtype=np.float64)
    if arr.size == 0:
        return math.nan
    mse = float(np.mean(np.power(10.0, -arr / 10.0)))
    if math.isnan(mse):  # a photo without a score: no score for all of them either
        return math.nan
    return cap if mse <= 10.0 ** (-cap / 10.0) else min(cap, -10.0 * math.log10(mse))
