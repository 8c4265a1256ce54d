"""Whether a reference edit shows its input's frame: a crop, a shift or a small rotation, found by matching structure.

A reference cropped by the photographer with the input's aspect ratio (10 % off every side, or a small
straightening crop) passes :func:`trainer.data.pairs.load_pair`, is resized onto the input's frame, and is then
compared pixel by pixel with a scene that no longer lies where it does in the input: every method's scores on that
pair measure the misalignment more than the edit. :func:`frame_offset` estimates how the reference's frame lies in
the input's, as a similarity (scale, rotation, shift), so that ``eval`` can name such a pair.

Both photos are compared on what a tone edit leaves in place. Each is reduced to its luminance (linear Rec.2020),
brought to :data:`WORK_SIDE` pixels on the long side (area average), taken as ``log(Y + 0.01)`` and stretched
between its 0.5th and 99.5th percentiles to 8 bits: an exposure change shifts the log-luminance and a global
contrast change scales it, and the stretch undoes both. Corners are found and described on those images with ORB
(binary comparisons of pixel pairs, which no monotone tone curve changes), matched with Lowe's ratio test (each of
the reference's corners keeping only its closest match), and a similarity (uniform scale, rotation, shift) is fitted
to the matches with RANSAC (``cv2.estimateAffinePartial2D``). A black-and-white conversion, a strong saturation
change or a colour cast reweights the channels in the luminance, which moves few corners. Measured (2026-12): on the
24 FiveK expert retouches of ``shared/data/fivek_pairs``, 12 pairs of its ``experts_ABCDE`` and 12 Kodak photos with
±2 EV, black and white, a strong S-curve, saturation ×2.5, a strong colour cast or a half-size export (also at
−2 EV), the fit stayed within 0.06 % of scale, 0.04° and 0.03 % of shift of the identity, far inside the tolerances;
10 % crops (also under +2 EV or black and white), 3 % off two sides, 1° straightening and 2 % zooms were all found,
a crop of 1 % a side (scale 1.02) on all 8 photos tried, one of 0.4 % a side (1.008, inside the tolerance) on none;
11 pairs of different photos gave no fit.

A fit is trusted (:func:`frame_offset` returns it) only when at least :data:`MIN_INLIERS` matches, and at least
:data:`MIN_AGREEING` (half) of all matches, agree with it, and its scale lies within :data:`MIN_SCALE` ..
:data:`MAX_SCALE`. On a repetitive pattern (a checkerboard) or a mirrored reference most matches disagree, and a fit
to a few of them is no estimate: before these rules a +1 EV edit of a checkerboard, its corners all matched to one,
was reported as ``scale 0.00, shift (-50 %, -50 %)``, and 2 of 156 checkerboard tone and blur edits were false
alarms (now none; 10 % crops of a checkerboard give no fit). Real pairs keep 0.7 and more of their matches
(re-measured on the Kodak and FiveK crops and the FiveK retouches: all found, none flagged), a mirrored photo 0.5
and less. A frame whose short side is under :data:`MIN_SIDE` pixels at the working size (a thin panorama strip) gets
no fit, and nothing OpenCV raises on odd images escapes. The fit calls the pair misaligned
(:attr:`FrameOffset.misaligned`) only beyond a tolerance and when more matches agree with it than with the frame
left as it is. A photo with little structure (fog, a clear sky, a tiny frame) gives too few matches and is left
alone: the check names the misaligned pairs it can see, it is not a proof that the others are aligned. Cost, in CPU
time of one core: some 50–70 ms a pair at the default evaluation size (512 px; ``eval`` spends about 0.9 s on such a
pair with its baselines alone), some 190 ms for a 12-MP frame (``--size 4272``; its two JPEGs take 1.1 s to decode).
The work is done at :data:`WORK_SIDE` whatever the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

__all__ = [
    "MAX_ROTATION_DEG",
    "MAX_SCALE",
    "MAX_SCALE_OFF",
    "MAX_SHIFT",
    "MIN_AGREEING",
    "MIN_INLIERS",
    "MIN_SCALE",
    "MIN_SIDE",
    "WORK_SIDE",
    "FrameOffset",
    "frame_offset",
]

#: Long side, in pixels, of the luminance images the frames are compared at (smaller frames keep their size).
WORK_SIDE = 512
#: Matches that must agree with the fitted similarity before it is trusted.
MIN_INLIERS = 20
#: ... and the share of all matches that must (real edits and crops: 0.7 and more; a mirrored photo: 0.5 and less).
MIN_AGREEING = 0.5
#: A fitted scale outside ``MIN_SCALE``..``MAX_SCALE`` is taken for a degenerate fit, not a crop (or a zoom out).
MIN_SCALE = 0.5
#: See :data:`MIN_SCALE`. A reference cropped to a third of its input's width (a 33 % crop a side, scale 3) is still a
#: crop; the checkerboard's degenerate fits have scales near 0.
MAX_SCALE = 4.0
#: Short side, in pixels at the working size, under which no offset is estimated: ORB finds no corner within 31
#: pixels of an edge, so a thinner frame (a 3000 x 5 panorama strip) has none to match.
MIN_SIDE = 64
#: A reference whose scale differs from its input's by more than this fraction (1 %) is reported.
MAX_SCALE_OFF = 0.01
#: ... or whose frame is turned by more than this many degrees against it.
MAX_ROTATION_DEG = 0.5
#: ... or whose centre lies more than this fraction of the frame's width or height (1 %) from the input's centre.
MAX_SHIFT = 0.01
#: Rec. 2020 luminance weights.
_LUMA = np.array([0.2627, 0.6780, 0.0593], dtype=np.float32)
#: Distance, in working pixels, within which a match agrees with a fit (RANSAC's reprojection threshold).
_AGREE_PX = 3.0
#: Lowe's ratio: a match is kept when its best descriptor distance is under this share of the second best.
_RATIO = 0.8
#: Corners ORB keeps per photo.
_FEATURES = 1000


@dataclass(frozen=True)
class FrameOffset:
    """How a reference's frame lies in its input's: the similarity that maps the input's pixels onto the reference's.

    Attributes:
        scale: how much larger the reference shows the scene (1.25: it shows 80 % of the input's width, as a crop
            of 10 % off every side resized back does; 1 for the same frame).
        rotation_deg: how far the scene is turned in the reference, in degrees, clockwise as seen on screen.
        shift_x: where the reference's centre lies in the input's frame, from the input's centre, as a fraction of
            the input's width (+ right).
        shift_y: likewise, as a fraction of the input's height (+ down).
        inliers: matches that agree with the fit.
        unmoved: matches that agree with the frame left as it is (the identity).
    """

    scale: float
    rotation_deg: float
    shift_x: float
    shift_y: float
    inliers: int
    unmoved: int

    @property
    def misaligned(self) -> bool:
        """Whether the offset exceeds a tolerance (:data:`MAX_SCALE_OFF`, :data:`MAX_ROTATION_DEG`, :data:`MAX_SHIFT`).

        Only where more matches agree with the fit than with the frame left as it is (``inliers > unmoved``).
        """
        return self.inliers > self.unmoved and (
            abs(self.scale - 1.0) > MAX_SCALE_OFF
            or abs(self.rotation_deg) > MAX_ROTATION_DEG
            or max(abs(self.shift_x), abs(self.shift_y)) > MAX_SHIFT
        )

    def describe(self) -> str:
        """The offset in words: ``"scale 1.25, rotated -1.0°, shift (+3.2 %, -0.4 %)"``.

        The rotation is left out where it rounds to 0.0°; a value that rounds to zero is written without a sign.
        """
        text = f"scale {self.scale:.2f}"
        if round(self.rotation_deg, 1) != 0.0:
            text += f", rotated {self.rotation_deg:+.1f}°"
        return text + f", shift ({_percent(self.shift_x)}, {_percent(self.shift_y)})"

    def to_dict(self) -> dict[str, float | int | bool]:
        """JSON-ready: ``scale``, ``rotation_deg``, ``shift_x``, ``shift_y`` (rounded), ``inliers``, ``misaligned``."""
        return {
            "scale": round(self.scale, 4),
            "rotation_deg": round(self.rotation_deg, 3) + 0.0,  # + 0.0: no "-0.0"
            "shift_x": round(self.shift_x, 4) + 0.0,
            "shift_y": round(self.shift_y, 4) + 0.0,
            "inliers": self.inliers,
            "misaligned": self.misaligned,
        }


def _percent(fraction: float) -> str:
    """``fraction`` as a signed percentage with one decimal (``"+3.2 %"``), ``"0.0 %"`` where it rounds to zero."""
    value = round(fraction * 100, 1)
    return "0.0 %" if value == 0.0 else f"{value:+.1f} %"


def _structure(image: Tensor, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` 8-bit stretched log-luminance of a ``(1, 3, h, w)`` linear Rec.2020 image at ``size`` ``(H, W)``.

    A large frame is first averaged over whole ``k x k`` blocks (``k`` the integer part of the reduction; the last
    ``k - 1`` rows and columns at most are left out, the same in both photos of a pair), then brought to ``size``
    by area averaging: a 12-MP frame costs some 30 ms instead of 230.
    """
    with torch.no_grad():
        small = image.detach().float()
        k = min(int(small.shape[-2]) // size[0], int(small.shape[-1]) // size[1])
        if k > 1:
            small = functional.avg_pool2d(small, k)
    rgb = small[0].cpu().numpy()
    luma: np.ndarray = np.tensordot(_LUMA, rgb, axes=1).astype(np.float32)
    luma = np.nan_to_num(luma, nan=0.0, posinf=0.0, neginf=0.0).clip(0.0, None)  # a broken pixel counts as black
    if luma.shape != size:
        luma = np.asarray(cv2.resize(luma, (size[1], size[0]), interpolation=cv2.INTER_AREA))
    log = np.log(luma + 0.01)
    lo, hi = np.percentile(log, (0.5, 99.5))
    if hi - lo < 1e-6:
        return np.zeros(size, np.uint8)
    return np.round((log - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)


def frame_offset(image: Tensor, reference: Tensor) -> FrameOffset | None:
    """Estimate how ``reference``'s frame lies in ``image``'s (module docstring).

    Never raises on the images' content: a frame too thin for ORB, a flat or broken image (NaN) or any failure
    inside OpenCV (``cv2.error``) gives ``None``, so that one odd photo does not end a batch.

    Args:
        image: ``(1, 3, H, W)`` the input, linear Rec.2020.
        reference: ``(1, 3, H, W)`` its reference edit at the same frame (as :func:`trainer.data.pairs.load_pair`
            returns them).

    Returns:
        The fitted :class:`FrameOffset` (whether it exceeds the tolerances: :attr:`FrameOffset.misaligned`), or
        ``None`` when the photos have too little structure in common to tell: a short side under
        :data:`MIN_SIDE` pixels at the working size, fewer than :data:`MIN_INLIERS` agreeing matches, fewer than
        :data:`MIN_AGREEING` of the matches agreeing, or a scale outside :data:`MIN_SCALE`..:data:`MAX_SCALE`.

    Raises:
        ValueError: the two images' shapes differ or are not ``(1, 3, H, W)``.
    """
    if image.shape != reference.shape or image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(
            f"two (1, 3, H, W) images of one shape expected, got {tuple(image.shape)} and {tuple(reference.shape)}"
        )
    h, w = int(image.shape[-2]), int(image.shape[-1])
    factor = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    if min(size) < MIN_SIDE:
        return None
    try:
        fitted = _fit(_structure(image, size), _structure(reference, size))
    except cv2.error:  # OpenCV refused these images: no fit
        return None
    if fitted is None:
        return None
    fit, inliers, unmoved = fitted
    scale = math.hypot(float(fit[0, 0]), float(fit[1, 0]))
    if not MIN_SCALE <= scale <= MAX_SCALE:  # a degenerate fit (matches crowding onto a few corners)
        return None
    rotation = math.degrees(math.atan2(float(fit[1, 0]), float(fit[0, 0])))
    centre = cv2.invertAffineTransform(fit) @ np.array([size[1] / 2, size[0] / 2, 1.0])
    return FrameOffset(
        scale=scale,
        rotation_deg=rotation,
        shift_x=float(centre[0] / size[1] - 0.5),
        shift_y=float(centre[1] / size[0] - 0.5),
        inliers=inliers,
        unmoved=unmoved,
    )


def _fit(structure_a: np.ndarray, structure_b: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """The similarity mapping ``structure_a``'s corners onto ``structure_b``'s, with its support, or ``None``.

    Corners are matched with Lowe's ratio test, and each of ``structure_b``'s corners keeps only its closest match:
    on a repetitive pattern (a checkerboard) many corners of one image match one corner of the other, and RANSAC
    then fits a similarity that maps them all onto it (scale 0), which those many matches all "agree" with.

    Returns:
        ``(fit, inliers, unmoved)``: the ``2 x 3`` similarity (pixels of ``a`` -> pixels of ``b``), the matches that
        agree with it and those that agree with the identity; ``None`` where fewer than :data:`MIN_INLIERS` or
        fewer than :data:`MIN_AGREEING` of the matches agree.

    Raises:
        cv2.error: OpenCV refused the images.
    """
    orb = cv2.ORB.create(nfeatures=_FEATURES)
    key_a, desc_a = orb.detectAndCompute(structure_a, None)
    key_b, desc_b = orb.detectAndCompute(structure_b, None)
    if desc_a is None or desc_b is None or len(key_a) < MIN_INLIERS or len(key_b) < MIN_INLIERS:
        return None
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc_a, desc_b, k=2)
    best: dict[int, cv2.DMatch] = {}
    for pair in knn:
        if len(pair) == 2 and pair[0].distance < _RATIO * pair[1].distance:
            kept = best.get(pair[0].trainIdx)
            if kept is None or pair[0].distance < kept.distance:
                best[pair[0].trainIdx] = pair[0]
    good = list(best.values())
    if len(good) < MIN_INLIERS:
        return None
    pts_a = np.array([key_a[m.queryIdx].pt for m in good], dtype=np.float32)
    pts_b = np.array([key_b[m.trainIdx].pt for m in good], dtype=np.float32)
    fit, agree = cv2.estimateAffinePartial2D(
        pts_a, pts_b, method=cv2.RANSAC, ransacReprojThreshold=_AGREE_PX, maxIters=2000, confidence=0.999
    )
    inliers = 0 if agree is None else int(agree.sum())
    if fit is None or inliers < MIN_INLIERS or inliers < MIN_AGREEING * len(good):
        return None
    unmoved = int((np.linalg.norm(pts_a - pts_b, axis=1) < _AGREE_PX).sum())
    return np.asarray(fit, dtype=np.float64), inliers, unmoved
