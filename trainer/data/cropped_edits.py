"""Edits that show a part of their original (cropped, straightened, shifted), and the original cut to that part.

A photographer crops most photos. An export cropped with the original's aspect ratio (10 % off every side, a
straightening crop of a degree or two, a crop off one corner) is resized onto the original's frame by
:func:`trainer.data.pairs.load_paired_views`; compared pixel by pixel with the original, the scene no longer lies
where it does, the recipe fit stays poor and the photographer's tone edit of that photo is all but lost.
:func:`cut_to_edit` finds how the edit's frame lies in the original's (:func:`trainer.data.framing.frame_offset`:
ORB matches on the stretched log-luminance, a similarity fitted with RANSAC) and, where the edit shows only a part
of the original, resamples the original onto the edit's frame, so that both show the same pixels in the same
places before the recipe is fitted and the agent's views are cut.

The frames are compared at :data:`DETECT_SIDE` pixels on the long side: measured (2026-12, one core) on the 24
FiveK pairs of ``shared/data/fivek_pairs`` decoded as training decodes them (256 px), some 15-25 ms a pair (24 on
average in the last run), no FiveK expert retouch taken for a crop (scale within 0.1 % of 1, rotation within
0.06°), and 10 % crops of them found within 0.01 of scale 1.25, 0.2° and 0.1 % of shift; 8 of them cropped 5-15 %
a side (some off-centre) were all found and fitted at 36.8 dB on average instead of 17.2 (39.4 dB for the same
edits uncropped). A sub-pixel refinement of the placement (``cv2.findTransformECC`` on the log-luminance) was
tried and dropped: +0.4 dB on those 8 on average, +0.26 dB over 34 such crops, but 3-5 dB lost on 5 of the 34
(retouches with local edits pull the correlation off). A pair is left as it is where the offset cannot be
estimated (too little structure in common: a tiny or featureless photo), where the edit's scale is under 1 (it
would show more than the original: a crop never does; a blur was once taken for a 0.987 zoom), where it is within
the tolerances of :attr:`~trainer.data.framing.FrameOffset.misaligned`, where the edit is turned by more than
:data:`MAX_STRAIGHTEN_DEG` (a quarter turn is :mod:`trainer.data.rotation`'s), and where the edit shows area
outside the original (a shift or a rotation without a crop, or the edit of another frame).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor
from torch.nn import functional

from trainer.data.framing import FrameOffset, frame_offset

__all__ = ["DETECT_SIDE", "MAX_STRAIGHTEN_DEG", "OUTSIDE_SLACK", "cut_to_edit", "edit_corners"]

#: Long side, in pixels, the original and its edit are compared at (smaller frames keep their size).
DETECT_SIDE = 256
#: An edit turned by more than this many degrees against its original is not taken for a straightening crop.
MAX_STRAIGHTEN_DEG = 20.0
#: How far (a fraction of the frame's width or height, 1 %) a corner of the edit may lie outside the original
#: and still be taken as inside it: the estimate's error, filled by the original's nearest edge pixels.
OUTSIDE_SLACK = 0.01


def _reduced(image: Tensor, side: int) -> Tensor:
    """``image`` ``(1, 3, H, W)`` brought to ``side`` pixels on its long side (area-like, antialiased); smaller: as is."""
    h, w = int(image.shape[-2]), int(image.shape[-1])
    factor = side / max(h, w)
    if factor >= 1.0:
        return image
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    return functional.interpolate(image.float(), size=size, mode="bilinear", align_corners=False, antialias=True)


def _edit_to_original(offset: FrameOffset, h: int, w: int) -> Tensor:
    """The ``2 x 3`` affine map from the edit's pixel positions to the original's, both of frame ``h`` x ``w``.

    Positions are continuous pixel coordinates (the frame spans ``0..w`` and ``0..h``). The edit's centre lies at
    the offset's shift from the original's centre; the edit shows the scene ``scale`` times larger and turned by
    ``rotation_deg`` (clockwise on screen), so a step in the edit is one ``1 / scale`` as long, turned back, in the
    original.
    """
    angle = math.radians(offset.rotation_deg)
    cos, sin = math.cos(angle) / offset.scale, math.sin(angle) / offset.scale
    cx, cy = (0.5 + offset.shift_x) * w, (0.5 + offset.shift_y) * h
    # inverse of q = s R (p - c_in) + c_edit: p = R^T (q - c_edit) / s + c_in
    return torch.tensor(
        [
            [cos, sin, cx - (cos * w / 2 + sin * h / 2)],
            [-sin, cos, cy - (-sin * w / 2 + cos * h / 2)],
        ],
        dtype=torch.float64,
    )


def edit_corners(offset: FrameOffset, h: int, w: int) -> Tensor:
    """Where the edit's four corners lie in the original, as fractions of its width and height (``(4, 2)``, x, y).

    ``h`` and ``w``: the frame both photos share (pixels; only its aspect ratio matters). A corner inside the
    original lies within ``0..1`` on both axes.
    """
    return _corners(_edit_to_original(offset, h, w), h, w)


def cut_to_edit(original: Tensor, edit: Tensor) -> tuple[Tensor, FrameOffset] | None:
    """The original resampled onto the frame of an edit that shows only a part of it, or ``None`` (module docstring).

    Args:
        original: ``(1, 3, H, W)`` linear Rec.2020, the original as decoded.
        edit: ``(1, 3, H, W)`` its edit, already brought onto the original's frame (resized, same aspect ratio).

    Returns:
        ``(cut, offset)``: ``cut`` is ``(1, 3, H, W)`` float32, the part of the original the edit shows, resampled
        (bilinear) so that each pixel shows what the edit's pixel there shows; ``offset`` how the edit's frame lies
        in the original's (:class:`~trainer.data.framing.FrameOffset`). ``None`` where the pair is to be left as it
        is: no offset could be estimated, it is within the tolerances, the edit is turned by more than
        :data:`MAX_STRAIGHTEN_DEG`, its scale is under 1, or it shows area outside the original (a corner more than
        :data:`OUTSIDE_SLACK` out).

    Raises:
        ValueError: the two images' shapes differ or are not ``(1, 3, H, W)``.
    """
    if original.shape != edit.shape or original.ndim != 4 or original.shape[:2] != (1, 3):
        raise ValueError(
            f"two (1, 3, H, W) images of one shape expected, got {tuple(original.shape)} and {tuple(edit.shape)}"
        )
    with torch.no_grad():
        small, small_edit = _reduced(original, DETECT_SIDE), _reduced(edit, DETECT_SIDE)
        offset = frame_offset(small, small_edit)
    if offset is None or not offset.misaligned or offset.scale < 1.0 or abs(offset.rotation_deg) > MAX_STRAIGHTEN_DEG:
        return None
    (h, w), (hs, ws) = original.shape[-2:], small.shape[-2:]
    to_small = _edit_to_original(offset, hs, ws)
    scale = torch.tensor([[w / ws, 0.0], [0.0, h / hs]], dtype=torch.float64)  # the small frame's pixels -> H x W's
    to_original = torch.cat((scale @ to_small[:, :2] @ torch.linalg.inv(scale), scale @ to_small[:, 2:]), dim=1)
    corners = _corners(to_original, h, w)
    if bool(((corners < -OUTSIDE_SLACK) | (corners > 1.0 + OUTSIDE_SLACK)).any()):
        return None
    return _resampled(original, to_original), _offset_of(to_original, h, w, offset)


def _corners(to_original: Tensor, h: int, w: int) -> Tensor:
    """The edit's four corners mapped by ``to_original``, as fractions of the frame's width and height (``(4, 2)``)."""
    corners = torch.tensor([[0.0, 0.0, 1.0], [w, 0.0, 1.0], [0.0, h, 1.0], [w, h, 1.0]], dtype=torch.float64)
    return (corners @ to_original.T) / torch.tensor([w, h], dtype=torch.float64)


def _offset_of(to_original: Tensor, h: int, w: int, matched: FrameOffset) -> FrameOffset:
    """``matched`` with the scale, rotation and shift of ``to_original`` (the edit's pixels -> the original's).

    The scale and rotation are those of the map from the original onto the edit (its similarity part); the shift,
    where the edit's centre lies in the original. The counts of matches stay ``matched``'s.
    """
    forward = torch.linalg.inv(to_original[:, :2])
    a, b = float(forward[0, 0] + forward[1, 1]) / 2, float(forward[1, 0] - forward[0, 1]) / 2
    centre = to_original[:, :2] @ torch.tensor([w / 2, h / 2], dtype=torch.float64) + to_original[:, 2]
    return dataclasses.replace(
        matched,
        scale=math.sqrt(abs(float(torch.linalg.det(forward)))),
        rotation_deg=math.degrees(math.atan2(b, a)),
        shift_x=float(centre[0]) / w - 0.5,
        shift_y=float(centre[1]) / h - 0.5,
    )


def _resampled(original: Tensor, to_original: Tensor) -> Tensor:
    """``original`` ``(1, 3, H, W)`` sampled at ``to_original`` of each pixel centre of its own frame (bilinear)."""
    h, w = int(original.shape[-2]), int(original.shape[-1])
    ys = torch.arange(h, dtype=torch.float64) + 0.5
    xs = torch.arange(w, dtype=torch.float64) + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    at = torch.stack((gx, gy, torch.ones_like(gx)), dim=-1) @ to_original.T  # (H, W, 2) pixels of the original
    grid = at / torch.tensor([w, h], dtype=torch.float64) * 2.0 - 1.0  # align_corners=False: -1..1 spans the frame
    with torch.no_grad():
        cut = functional.grid_sample(
            original.float(), grid[None].float(), mode="bilinear", padding_mode="border", align_corners=False
        )
    return cut.contiguous()
