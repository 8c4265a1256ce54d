"""Pseudo-labels: slider values fitted in image space so that ``render(input, recipe)`` matches an expert's rendition.

FiveK's expert settings are legacy process version 2003, and their mapping into our sliders
(:mod:`trainer.lrcat.pv2003`) is approximate. Where the expert's rendered photo exists, the recipe is fitted
through our differentiable renderer instead, and that fit is the label imitation learns from.

Parametrisation: the agent's own unbounded head outputs ``z`` per slider, mapped by
:func:`backend.agent.actions.bound_value` (so every value stays inside the catalog range, curves stay
monotone with fixed endpoints, and ``z = 0`` is the identity). One-sided sliders (identity = minimum, such
as ``black_and_white``) are projected back to ``z >= 0`` after each step, where their gradient lives.

Start: ``z = unbound_value(init)`` for the sliders of the starting recipe (the PV2003-mapped settings), and
``z = 0.01`` (next to the identity) for the other scalar and HSL sliders, ``z = 0`` for other curves: some
stages have a zero derivative exactly at the identity (vibrance, ``v (1 - c^|v|)``, is quadratic there),
so a fit started exactly there could never move them.

Loss: mean Charbonnier distance (``sqrt(d^2 + 1e-6) - 1e-3``) between display-encoded images, i.e. linear
Rec.2020 -> linear sRGB, clipped to [0, 1], sRGB transfer function (what a display export shows; the
PSNR of :func:`psnr` is measured in the same space). Both images are squeezed to ``size x size`` by
:func:`backend.agent.thumbnail.make_thumbnail` (area average in linear light): the agent's sliders are
per-pixel, so only the framing has to agree, not the aspect ratio.

Optimiser: Adam (betas 0.9, 0.999) for ``iters`` steps with the learning rate cosine-decayed from ``lr`` to
5 % of it; each photo keeps its best iterate (lowest loss). Photos are fitted in batches with per-photo
losses summed, and Adam acts element by element, so a photo's fit does not depend on its batch.

Deadline (``fit_recipes(..., deadline=...)``, a :func:`time.monotonic` time): after the first
:data:`_TIMED_ITERS` iterations the time per iteration is measured and, where ``iters`` would run past the
deadline, the planned iterations shrink to those that fit (the cosine schedule is then taken over the shrunk
count, so the learning rate still decays); the loop also stops at the deadline itself. Each photo keeps its
best iterate so far, and :attr:`FitResult.iters` says how many iterations it had. ``min_iters`` is a floor
under the shrinking: a fit always has at least ``min(iters, min_iters)`` iterations, even where they run past
the deadline (a fit of no iterations keeps the start, which tells nothing about the edit). Without a deadline
the fit is exactly as described above (deterministic).

Finding files (:class:`StemIndex`): a rendition belongs to a catalog photo when its file name without the
extension equals the photo's base name (``a0001-jmac_DSC1459.tif`` for ``a0001-jmac_DSC1459.dng``), looked up
in this order: exact stem; stem ignoring case; FiveK's id (the base name up to the first ``-``, e.g.
``a0001.tif``). Only files directly inside the folder with a photo extension count; when several files share
a stem, the extension order ``tif, tiff, png, jpg, jpeg``, then raws, then the name decides.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from backend.agent.actions import AGENT_SLIDERS, bound_value, head_shape
from backend.agent.thumbnail import make_thumbnail
from backend.batch.lrcat_paths import locate_catalog_file
from backend.errors import NotFoundError
from backend.recipe import SliderValue, freeze_value
from backend.render.color import REC2020_TO_SRGB, apply_matrix, srgb_encode
from backend.render.pipeline import render
from backend.sliders.catalog import CATALOG, STAGE_ORDER, get_slider

__all__ = [
    "FitResult",
    "StemIndex",
    "display_srgb",
    "find_photo",
    "fit_recipes",
    "load_squeezed",
    "pipeline_rank",
    "psnr",
    "resolve_photo",
    "unbound_value",
]

log = logging.getLogger(__name__)

_CHARBONNIER_EPS = 1e-3
_START_OFFSET = 0.01  # z of a fitted elementwise slider that starts at its identity (see the module docstring)
_MIN_LR_FRACTION = 0.05
_TIMED_ITERS = 2  # iterations timed before a fit with a deadline plans how many more fit before it
_EXTENSION_ORDER = ("tif", "tiff", "png", "jpg", "jpeg")
_CATALOG_INDEX = {spec.name: i for i, spec in enumerate(CATALOG)}


def pipeline_rank(name: str) -> tuple[int, int]:
    """Sort key of the renderer's pipeline order: stage index in ``STAGE_ORDER``, then catalog order."""
    return STAGE_ORDER.index(get_slider(name).stage), _CATALOG_INDEX[name]


# -- parametrisation ----------------------------------------------------------------------------------


def unbound_value(name: str, value: SliderValue | Tensor) -> Tensor:
    """Inverse of :func:`~backend.agent.actions.bound_value`: head outputs that give ``value``.

    Values at the range edges (where ``tanh`` never arrives) are pulled in by 1e-4 of the half-range; curve
    increments below 1e-4 of the knot spacing are raised to it (so a flat segment becomes nearly flat).

    Args:
        name: one of :data:`~backend.agent.actions.AGENT_SLIDERS`.
        value: the slider's value, shape ``spec.shape`` (catalog units).

    Returns:
        ``head_shape(name)`` float64 tensor ``z`` with ``bound_value(name, z[None])[0]`` close to ``value``
        (exactly 0 for the identity).
    """
    spec = get_slider(name)
    v = torch.as_tensor(value, dtype=torch.float64).reshape(spec.shape)
    ident = torch.as_tensor(spec.identity, dtype=torch.float64)
    if spec.monotone_curve:
        knots = ident
        dx = knots[..., 1:] - knots[..., :-1]
        dy = (v[..., 1:] - v[..., :-1]).clamp_min(0.0)
        span = (v[..., -1:] - v[..., :1]).clamp_min(1e-12)
        # bound_value normalises the increments: scale them to the knots' span so z = 0 is the identity
        ratio = dy / span * (knots[..., -1:] - knots[..., :1]) / dx
        return torch.log(ratio.clamp_min(1e-4)).reshape(head_shape(name))
    up = spec.maximum - ident
    down = ident - spec.minimum
    delta = v - ident
    r = torch.where(delta >= 0, delta / torch.where(up > 0, up, 1.0), delta / torch.where(down > 0, down, 1.0))
    z = torch.atanh(r.clamp(-1.0 + 1e-4, 1.0 - 1e-4))
    return torch.where(delta == 0, torch.zeros_like(z), z).reshape(head_shape(name))


def _one_sided(name: str) -> bool:
    spec = get_slider(name)
    return not spec.monotone_curve and spec.shape == () and float(spec.identity) == spec.minimum  # type: ignore[arg-type]


# -- image space --------------------------------------------------------------------------------------


def display_srgb(image: Tensor) -> Tensor:
    """Display encoding of linear Rec.2020: linear sRGB clipped to [0, 1], then the sRGB transfer function.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020.

    Returns:
        ``(N, 3, H, W)`` sRGB-encoded values in [0, 1].
    """
    return srgb_encode(apply_matrix(image, REC2020_TO_SRGB).clamp(0.0, 1.0))


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Per-image PSNR in dB (peak 1) between two display-encoded ``(N, 3, H, W)`` batches; ``(N,)``, capped at 100."""
    mse = (a - b).pow(2).flatten(1).mean(dim=1)
    return (-10.0 * torch.log10(mse.clamp_min(1e-10))).clamp_max(100.0)


def _charbonnier(a: Tensor, b: Tensor) -> Tensor:
    d = a - b
    return ((d * d + _CHARBONNIER_EPS**2).sqrt() - _CHARBONNIER_EPS).flatten(1).mean(dim=1)


def load_squeezed(path: str | Path, size: int) -> tuple[Tensor, tuple[int, int]]:
    """Decode a photo (preview path, long side ``2 * size``) and squeeze it to ``size x size``.

    Returns:
        (``(1, 3, size, size)`` float32 linear Rec.2020, decoded ``(height, width)``).

    Raises:
        The typed errors of :func:`backend.decode.decode_preview` (they name the file).
    """
    from backend.decode import decode_preview

    decoded = decode_preview(path, long_side=max(2 * size, 16))
    image = decoded.image.float()
    return make_thumbnail(image, size), (int(image.shape[-2]), int(image.shape[-1]))


# -- file matching ------------------------------------------------------------------------------------


class StemIndex:
    """The photo files directly inside a folder, looked up by stem (the rule in the module docstring).

    Args:
        folder: the folder (not scanned recursively).

    Raises:
        NotFoundError: ``folder`` is not a directory.
    """

    def __init__(self, folder: str | Path) -> None:
        from trainer.data.folders import PHOTO_EXTENSIONS

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise NotFoundError(f"{self.folder}: no such folder")
        files = [
            p
            for p in self.folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower().lstrip(".") in PHOTO_EXTENSIONS
        ]

        def rank(p: Path) -> tuple[int, str]:
            ext = p.suffix.lower().lstrip(".")
            return (_EXTENSION_ORDER.index(ext) if ext in _EXTENSION_ORDER else len(_EXTENSION_ORDER), p.name)

        self._exact: dict[str, Path] = {}
        self._folded: dict[str, Path] = {}
        for p in sorted(files, key=rank):
            self._exact.setdefault(p.stem, p)
            self._folded.setdefault(p.stem.casefold(), p)

    def __len__(self) -> int:
        return len(self._exact)

    def find(self, base_name: str) -> Path | None:
        """The file for a catalog photo's base name, or ``None``."""
        found = self._exact.get(base_name) or self._folded.get(base_name.casefold())
        if found is None and "-" in base_name:
            fivek_id = base_name.split("-", 1)[0]
            found = self._exact.get(fivek_id) or self._folded.get(fivek_id.casefold())
        return found


# -- fitting ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitResult:
    """One photo's pseudo-label.

    Attributes:
        values: fitted slider -> value (catalog units), in the order the sliders were given.
        psnr_fit: PSNR (dB, display sRGB, at the fit size) of ``render(input, values)`` against the rendition.
        psnr_init: the same for the starting recipe (all of its agent sliders).
        psnr_identity: the same for the unedited input.
        loss: final fit loss (mean Charbonnier distance in display sRGB).
        iters: Adam iterations the fit had (``iters`` of :func:`fit_recipes`; fewer when its deadline cut it
            short; ``-1``: not recorded).
    """

    values: dict[str, SliderValue]
    psnr_fit: float
    psnr_init: float
    psnr_identity: float
    loss: float
    iters: int = -1


def _renderable(recipe: Mapping[str, SliderValue] | None) -> dict[str, SliderValue]:
    return {k: v for k, v in (recipe or {}).items() if k in AGENT_SLIDERS}


def _batch_settings(recipes: Sequence[Mapping[str, SliderValue]], n: int) -> dict[str, Tensor]:
    names = sorted({k for r in recipes for k in r}, key=pipeline_rank)
    out = {}
    for name in names:
        ident = get_slider(name).identity
        out[name] = torch.stack([torch.as_tensor(r.get(name, ident), dtype=torch.float32) for r in recipes])
    return out


def _check_fit_inputs(inputs: Tensor, renditions: Tensor, sliders: Sequence[Sequence[str]]) -> None:
    """Raise ``ValueError`` when the shapes of :func:`fit_recipes`' arguments disagree or a slider is not the agent's."""
    if inputs.ndim != 4 or inputs.shape != renditions.shape or len(sliders) != inputs.shape[0]:
        raise ValueError(
            f"inputs {tuple(inputs.shape)}, renditions {tuple(renditions.shape)}, {len(sliders)} slider sets"
        )
    bad = sorted({s for per in sliders for s in per if s not in AGENT_SLIDERS})
    if bad:
        raise ValueError(f"cannot fit {bad}: not agent sliders ({', '.join(AGENT_SLIDERS)})")


def _start_parameters(
    union: Sequence[str], sliders: Sequence[Sequence[str]], init_list: Sequence[Mapping[str, SliderValue]]
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """The unbounded parameters the fit starts from, per slider ``(N, *head)``, and which photos fit each slider.

    A photo's start is its initial value where it has one for a slider it fits, else a small offset from
    identity (identity itself for monotone curves).
    """
    n = len(sliders)
    z: dict[str, Tensor] = {}
    masks: dict[str, Tensor] = {}
    for name in union:
        rows = [
            unbound_value(name, init_list[i][name]).float()
            if name in sliders[i] and name in init_list[i]
            else torch.full(head_shape(name), 0.0 if get_slider(name).monotone_curve else _START_OFFSET)
            for i in range(n)
        ]
        z[name] = torch.stack(rows).requires_grad_(True)
        masks[name] = torch.tensor([name in sliders[i] for i in range(n)]).reshape(n, *([1] * len(head_shape(name))))
    return z, masks


# Long: one optimisation loop over the staged slider groups; the docstring states the method.
def fit_recipes(
    inputs: Tensor,
    renditions: Tensor,
    sliders: Sequence[Sequence[str]],
    inits: Sequence[Mapping[str, SliderValue] | None] | None = None,
    *,
    iters: int = 200,
    lr: float = 0.05,
    deadline: float | None = None,
    min_iters: int = 0,
) -> list[FitResult]:
    """Fit one recipe per photo so that ``render(input, recipe)`` matches the rendition (module docstring).

    Args:
        inputs: ``(N, 3, S, S)`` linear Rec.2020 unedited photos (squeezed thumbnails).
        renditions: ``(N, 3, S, S)`` linear Rec.2020 expert renditions of the same photos.
        sliders: per photo, the agent sliders to fit (others stay at identity in the fit).
        inits: per photo, the starting recipe (slider -> value; ``None`` or missing sliders: identity). Its
            agent sliders outside ``sliders`` are not fitted but count for ``psnr_init``.
        iters: Adam iterations (0: evaluate the start only).
        lr: initial learning rate on the unbounded parametrisation.
        deadline: :func:`time.monotonic` time (seconds) by which the fit stops iterating, keeping each photo's
            best iterate so far (module docstring); ``None``: all ``iters`` iterations. A deadline already
            passed evaluates the start only (with ``min_iters`` 0).
        min_iters: with a deadline, the fewest iterations the fit has, deadline or not (at most ``iters``; 0: the
            deadline may leave the start only). The fit may then overrun the deadline by that many iterations.
            Without a deadline it changes nothing.

    Returns:
        One :class:`FitResult` per photo.

    Raises:
        ValueError: shapes disagree, or a slider is not one of the agent's.
    """
    n = inputs.shape[0]
    _check_fit_inputs(inputs, renditions, sliders)
    init_list = [_renderable(r) for r in (inits if inits is not None else [None] * n)]
    x = inputs.detach().float()
    target = display_srgb(renditions.detach().float())
    with torch.no_grad():
        psnr_identity = psnr(display_srgb(x), target)
        psnr_init = psnr(display_srgb(render(x, _batch_settings(init_list, n))), target)

    union = sorted({s for per in sliders for s in per}, key=pipeline_rank)
    z, masks = _start_parameters(union, sliders, init_list)

    def values() -> dict[str, Tensor]:
        return {name: bound_value(name, torch.where(masks[name], z[name], 0.0)) for name in union}

    best = {name: t.detach().clone() for name, t in z.items()}
    best_loss = torch.full((n,), math.inf)
    opt = torch.optim.Adam(list(z.values()), lr=lr) if union else None
    floor = min(iters, max(min_iters, 0))
    planned = iters if deadline is None or time.monotonic() < deadline else floor
    t_start = time.monotonic()
    it = 0
    while True:
        with torch.set_grad_enabled(it < planned and opt is not None):
            loss = _charbonnier(display_srgb(render(x, values())), target)
        with torch.no_grad():
            better = loss.detach() < best_loss
            best_loss = torch.where(better, loss.detach(), best_loss)
            for name in union:
                best[name][better] = z[name].detach()[better]
        if it == planned or opt is None:
            break
        if deadline is not None:
            planned = max(floor, _replanned(planned, it, t_start, deadline))
            if it >= planned:  # the deadline has come: the best iterate so far stands
                planned = it
                break
        for group in opt.param_groups:
            frac = _MIN_LR_FRACTION + (1 - _MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * it / max(planned, 1)))
            group["lr"] = lr * frac
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            for name in union:
                if _one_sided(name):
                    z[name].clamp_(min=0.0)
        it += 1

    with torch.no_grad():
        z.update(best)
        fitted = values()
        psnr_fit = psnr(display_srgb(render(x, fitted)), target)
    results = []
    for i in range(n):
        vals = {name: freeze_value(fitted[name][i]) for name in sliders[i]}
        results.append(
            FitResult(
                values=vals,
                psnr_fit=float(psnr_fit[i]),
                psnr_init=float(psnr_init[i]),
                psnr_identity=float(psnr_identity[i]),
                loss=float(best_loss[i]),
                iters=planned if opt is not None else 0,
            )
        )
    return results


def _replanned(planned: int, it: int, t_start: float, deadline: float) -> int:
    """The iterations a fit with a deadline plans, checked before iteration ``it`` (0-based) takes its step.

    Args:
        planned: the iterations planned so far (at first the ``iters`` asked for).
        it: iterations done so far.
        t_start: :func:`time.monotonic` time (s) the iterations started.
        deadline: :func:`time.monotonic` time (s) by which the fit stops.

    Returns:
        ``planned``, or fewer: ``it`` once the deadline has passed; after :data:`_TIMED_ITERS` iterations, the
        ones that fit before the deadline at the time per iteration measured so far (only ever shrinks).
    """
    now = time.monotonic()
    if now >= deadline:
        return it
    if it == _TIMED_ITERS:
        per_iter = (now - t_start) / it
        return min(planned, it + int((deadline - now) / max(per_iter, 1e-9)))
    return planned


def find_photo(
    path: str | None, base_name: str, catalog_dir: Path, photos: StemIndex | None
) -> tuple[Path, str] | None:
    """The input file of a catalog photo and how it was found, or ``None``.

    Looked up in this order: the path recorded in the catalog (``"recorded"``); its tail below the catalog's
    folder (``"catalog folder"``); the photo of that stem in ``photos`` (``"photos folder"``). Only the first
    is certain to be the catalog photo's own file: the other two find a file by name, which two catalog photos
    from different folders may share.
    """
    if path:
        located = locate_catalog_file(path, catalog_dir)  # the first two: the rule ``catalog --lrcat`` uses too
        if located is not None:
            return located
    found = photos.find(base_name) if photos is not None else None
    return None if found is None else (found, "photos folder")


def resolve_photo(path: str | None, base_name: str, catalog_dir: Path, photos: StemIndex | None) -> Path | None:
    """The input file of a catalog photo (:func:`find_photo` without saying how it was found)."""
    found = find_photo(path, base_name, catalog_dir, photos)
    return None if found is None else found[0]
