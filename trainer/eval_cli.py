"""``autoretouch eval``: score a style against reference edits (paired), beside the identity and auto baselines.

Inputs and references are paired by file stem (``IMG_1.jpg`` with ``IMG_1.png``); every photo of each folder
must have a partner (``--allow-unmatched`` evaluates the pairs that exist; the photos without a partner, the
names left out as ambiguous and the pairing's notes are warnings on stderr, and ``--json`` lists the latter two as
``left_out_ambiguous`` and ``pairing_notes``). Every warning and error on stderr has its file names' control
characters escaped (:func:`backend.text.printable`); ``--json`` and the per-pair ``warnings`` keep them as they are.
For each pair:

* both files are decoded at the evaluation size (``--size``, long side in pixels, :func:`decode_preview`;
  smaller photos keep their size) and compared at one frame (:func:`trainer.data.pairs.load_pair`): a
  reference exported at another size (half, double) is compared with its input at the smaller of the two
  sizes; a reference whose aspect ratio differs (a crop, a rotation) fails that pair;
* **style**: the recipe ``autoretouch suggest`` would print for the input (same code path:
  :func:`backend.agent.suggest.suggest_for_photo`, with ``--strength`` / ``--mix``), rendered on the input
  at the evaluation size with :func:`backend.recipe.render_recipe`;
* **identity**: the input unchanged; a pair whose identity SSIM is under :data:`DIFFERENT_PHOTO_SSIM` (0.2) is
  most likely another photo under the same name: it is scored, with a warning on stderr naming it;
* **frame check** (:func:`trainer.data.framing.frame_offset`): a reference that passes the aspect-ratio check but
  shows another part of the scene (a crop with the input's aspect ratio, a straightening crop, a shift) is compared
  misaligned, so every method's scores on it (the identity's too) measure the misalignment more than the edit. The
  frame's offset is estimated from the photos' structure (corners of the stretched log-luminance, which tone edits
  leave in place); a pair whose reference is scaled by more than 1 %, turned by more than 0.5° or shifted by more
  than 1 % of the frame is named in a warning on stderr (``looks cropped, shifted or otherwise out of register``: a
  reference turned upside down is named too) and scored anyway, unchanged;
* **auto**: :func:`trainer.baselines.auto_recipe` (grey-world white balance + mid-grey exposure) rendered
  the same way;
* **nearest** (styles trained from before/after pairs, which carry their training photos' fitted recipes):
  the "nearest edits" baseline, :func:`backend.agent.nearest.nearest_recipe` (the recipes of the most similar
  training photos, averaged in slider space), rendered the same way.

Metrics (:mod:`trainer.metrics`): PSNR (dB), SSIM (per sRGB channel, averaged), CIEDE2000 and CIE76 ΔE,
all on 8-bit sRGB. The summary averages SSIM and ΔE over the photos and pools PSNR as the trainer does
(:func:`trainer.metrics.pooled_psnr`: the PSNR of the mean squared error over the photos, at most 100 dB), so a
pair whose reference equals its input (infinite PSNR alone) does not make the summary or the gain infinite. In
JSON every value is a number or ``null`` (a missing mean): a pair's infinite PSNR is written as the 100 dB cap.
Beside them, the **spread of the style's suggestions** over the photo set
(:func:`slider_spread`): per slider, on how many photos it is used and the mean, standard deviation, minimum and
maximum of its value (scalars; the identity where a photo's recipe leaves it out). A style that adapts to each photo
has a spread; a fixed preset has none. A pair that fails (unreadable file, mismatched sizes, fewer than 3 pixels
a side at the evaluation size: SSIM's smallest window) is reported on stderr naming the file and skipped; the exit status is then 9 (or the error's own status when every
pair failed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from torch import Tensor

from backend.cli.argtypes import int_arg
from backend.cli.style_options import add_strength_option, add_style_options, load_styles
from backend.errors import AutoretouchError, ImageTooSmallError, InvalidRecipeError
from backend.text import printable
from trainer.data.framing import MAX_ROTATION_DEG, MAX_SCALE_OFF, MAX_SHIFT, FrameOffset, frame_offset
from trainer.data.pairs import Pair, check_pairs, find_pairs, load_pair, load_pair_noted
from trainer.summary_lines import counted

if TYPE_CHECKING:
    from backend.recipe import Recipe

__all__ = [
    "DIFFERENT_PHOTO_SSIM",
    "EvalResult",
    "Failure",
    "Pair",
    "evaluate_pairs",
    "find_pairs",
    "format_table",
    "load_pair",
    "register",
    "result_to_json",
    "run",
    "slider_spread",
    "write_eval_sheet",
]

_EPILOG = """\
examples:
  autoretouch eval --style mine --inputs test/raw --references test/edited
  autoretouch eval --style runs/mine/style/mine.safetensors --inputs in/ --references ref/ --json
  autoretouch eval --mix warm:0.7,film:0.3 --inputs in/ --references ref/ --contact-sheet sheet.png

A style trained from before/after pairs (train --pairs) also gets the "nearest edits" baseline: the
fitted settings of the most similar training photos, averaged.
Metrics are computed on 8-bit sRGB at the evaluation size: PSNR in dB (peak 1), SSIM per R, G, B channel
averaged (Gaussian 11x11, sigma 1.5), and the mean CIEDE2000 / CIE76 colour difference in CIELAB (D65).
The summary averages SSIM and ΔE over the photos; its PSNR is pooled, the PSNR of the mean squared error
over the photos (at most 100 dB), so one pair left as shot (infinite PSNR alone) does not make it or the
gain infinite. --json writes a pair's infinite PSNR as 100.
A reference exported at another size than its input (same aspect ratio) is compared at the smaller of the
two sizes; photos smaller than --size keep their size (the summary says which size was used). A pair with
fewer than 3 pixels a side at that size (SSIM's smallest window; e.g. a long panorama at a small --size) fails.
A pair whose input and reference look like different photos (identity SSIM under 0.2: most likely another
photo under the same name) is named in a warning on stderr, and still scored.
A reference that shows another part of the scene than its input (a crop with the same aspect ratio, a
straightening crop, a shift) is compared misaligned, so its scores (the identity's too) measure the
misalignment: where the photos' structure shows it scaled by more than 1 %, turned by more than 0.5 deg or
shifted by more than 1 % of the frame, it is named in a warning on stderr ("looks cropped, shifted or otherwise
out of register") and scored anyway; --json gives each pair's frame_offset (scale, rotation_deg, shift_x,
shift_y as fractions of the frame, misaligned; null where too little structure matched) and its warnings.
File names in warnings and errors on stderr are printed with their control characters escaped.
--out-dir receives eval.json, each photo's renders (STEM.style.png, STEM.auto.png) and recipes.
Below the table: how each slider's suggestion varies over the photos (used on, mean ± sd, range); a style
that adapts to each photo has a spread, a fixed preset has none (--json: slider_spread).
Exit status: 9 when some pairs failed (reported on stderr; the others were evaluated), the error's own status
when all did (e.g. 5 when no photo could be decoded).
"""

#: Photos in the contact sheet by default.
SHEET_PHOTOS = 6
#: Height of a contact-sheet tile in pixels.
SHEET_TILE = 192


@dataclass(frozen=True)
class Failure:
    """A pair that could not be evaluated.

    Attributes:
        photo: the input file.
        error: the message (it names the file).
        exit_code: the error's CLI exit status.
    """

    photo: str
    error: str
    exit_code: int


@dataclass
class EvalResult:
    """What :func:`evaluate_pairs` measured.

    Attributes:
        methods: method names in report order (``identity``, ``auto``, then any fixed recipes, ``nearest``
            for a style with examples, ``style``).
        per_photo: one dict per evaluated pair: ``name``, ``input``, ``reference``, ``long_side`` (the long side
            in pixels it was compared at), ``metrics`` (method -> metric -> value), ``recipes`` (method ->
            recipe dict), ``frame_offset`` (:meth:`trainer.data.framing.FrameOffset.to_dict`: how the reference's
            frame lies in the input's, with ``misaligned``; ``None`` where too little structure matched to tell) and
            ``warnings`` (the pair's warnings, as ``on_warning`` received them).
        failures: the pairs that failed, as :class:`Failure`.
        size: the evaluation long side asked for (``--size``); smaller photos are compared at their own size.
        style: style label (``NAME`` or ``A:0.7,B:0.3``), ``None`` without a style.
        strength: strength applied to the style's recipes.
        sheet: for the first photos, method -> ``(1, 3, H, W)`` image (plus ``input`` and ``reference``).
    """

    methods: list[str]
    per_photo: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    size: int = 512
    style: str | None = None
    strength: float = 1.0
    sheet: list[dict[str, Tensor]] = field(default_factory=list)

    def mean(self, method: str, metric: str) -> float:
        """Mean of a metric over the evaluated photos (``inf`` if any is infinite, ``nan`` if none)."""
        from trainer.metrics import mean_metric

        return mean_metric([p["metrics"][method][metric] for p in self.per_photo])

    def score(self, method: str, metric: str) -> float:
        """A metric over the evaluated photos, as the summary reports it (``nan`` if none).

        PSNR is pooled (:func:`trainer.metrics.pooled_psnr`: the PSNR of the mean squared error over the photos,
        in dB, at most 100), so that one pair identical to its reference does not make it infinite; the other
        metrics are the mean (:meth:`mean`).
        """
        from trainer.metrics import pooled_psnr

        if metric == "psnr":
            return pooled_psnr([p["metrics"][method][metric] for p in self.per_photo])
        return self.mean(method, metric)

    def summary(self) -> dict[str, dict[str, float]]:
        """Method -> metric -> summary value (:meth:`score`: PSNR pooled, the others averaged)."""
        from trainer.metrics import METRICS

        return {m: {k: self.score(m, k) for k in METRICS} for m in self.methods}


def _check_comparable(pair: Pair, image: Tensor, size: int) -> None:
    """Refuse a pair compared at fewer than :data:`trainer.metrics.MIN_SIDE` pixels a side (SSIM's smallest window).

    Args:
        pair: the pair (its input is named).
        image: ``(1, 3, H, W)`` the input at the frame it is compared at.
        size: the evaluation long side asked for (``--size``).

    Raises:
        ImageTooSmallError: ``H`` or ``W`` is below the minimum.
    """
    from trainer.metrics import MIN_SIDE

    h, w = int(image.shape[-2]), int(image.shape[-1])
    if min(h, w) >= MIN_SIDE:
        return
    reason = f"compared at {w}x{h} pixels, too small for SSIM (at least {MIN_SIDE}x{MIN_SIDE})"
    if max(h, w) >= size:  # brought down to --size
        reason += f"; a larger --size than {size} gives it more pixels if the photo has them"
    else:
        reason += "; the photo (or its reference) is that small"
    raise ImageTooSmallError(pair.input, reason)


#: A pair whose input, left as it is, has an SSIM under this against its reference (after the usual alignment to
#: one frame, at the evaluation size) is most likely not the same photo (a wrong file of the same name): it is
#: still scored, with a warning naming it. Real edits, even strong ones (+-2 EV, black and white), stay well above.
DIFFERENT_PHOTO_SSIM = 0.2


def _different_photo(pair: Pair, identity: Mapping[str, float]) -> list[str]:
    """The warning for a pair whose reference is implausibly different from its input (none, or one message)."""
    ssim = identity.get("ssim", 1.0)
    if ssim >= DIFFERENT_PHOTO_SSIM:
        return []
    return [
        f"{pair.reference}: looks like a different photo than {pair.input} (SSIM of the input as it is "
        f"{ssim:.2f}, under {DIFFERENT_PHOTO_SSIM}); scored anyway"
    ]


def _warned(messages: list[str], on_warning: Callable[[str], None] | None) -> list[str]:
    """``messages``, each passed to ``on_warning`` first (where there is one)."""
    if on_warning is not None:
        for message in messages:
            on_warning(message)
    return messages


def _misaligned(pair: Pair, offset: FrameOffset | None) -> list[str]:
    """The warning for a pair whose reference shows another part of the scene (none, or one message)."""
    if offset is None or not offset.misaligned:
        return []
    return [
        f"{pair.reference}: looks cropped, shifted or otherwise out of register against its input "
        f"{pair.input.name}: {offset.describe()} "
        f"(beyond {MAX_SCALE_OFF * 100:g} % of scale, {MAX_ROTATION_DEG:g}° or {MAX_SHIFT * 100:g} % of the "
        "frame); scored anyway at one frame, so its scores measure the misalignment too"
    ]


def _render_and_score(
    x: Tensor, ref: Tensor, recipes: Mapping[str, Recipe]
) -> tuple[dict[str, Tensor], dict[str, dict[str, float]]]:
    """Each method's recipe rendered on ``x`` (the identity's none) and scored against ``ref``.

    Args:
        x: ``(1, 3, H, W)`` the input, linear Rec.2020.
        ref: ``(1, 3, H, W)`` its reference at the same frame.
        recipes: method -> recipe, in report order.

    Returns:
        ``(renders, scores)``: method -> ``(1, 3, H, W)`` image, and method -> metric -> value
        (:func:`trainer.metrics.image_metrics`).
    """
    from backend.recipe import render_recipe
    from trainer.metrics import Prepared, image_metrics

    with torch.inference_mode():
        outs = {m: x if not r.steps else render_recipe(x, r) for m, r in recipes.items()}
    target = Prepared(ref)
    return outs, {m: {k: float(v[0]) for k, v in image_metrics(outs[m], target).items()} for m in recipes}


def evaluate_pairs(
    pairs: Sequence[Pair],
    styles: Sequence[tuple[Any, float]] | None,
    *,
    strength: float = 1.0,
    size: int = 512,
    fixed: Mapping[str, Any] | None = None,
    sheet_photos: int = 0,
    on_error: Callable[[str, str], None] | None = None,
    on_photo: Callable[[dict[str, Any]], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> EvalResult:
    """Evaluate a style (and the baselines) on pairs.

    Args:
        pairs: input/reference pairs.
        styles: ``(Style, weight)`` pairs as for :func:`backend.agent.suggest.suggest_for_photo` (one = that
            style, several = a mix), or ``None`` / empty to evaluate the baselines only.
        strength: α in [0, 1] applied to the style's recipes.
        size: evaluation long side in pixels.
        fixed: extra methods that apply one fixed :class:`~backend.recipe.Recipe` to every photo
            (e.g. ``{"oracle": recipe}``), reported between ``auto`` and ``style``.
        sheet_photos: keep the images of the first this many photos for a contact sheet.
        on_error: called with ``(where, message)`` for each failed pair.
        on_photo: called with each photo's result dict as soon as it is done.
        on_warning: called with each pair's warnings (also in its row's ``warnings``): its reference looks like
            another photo (:data:`DIFFERENT_PHOTO_SSIM`) or cropped, turned or shifted against its input
            (:func:`trainer.data.framing.frame_offset`), both still scored unchanged; its raw original cannot be
            decoded and the camera JPEG of the same name is evaluated instead.

    Returns:
        :class:`EvalResult`.
    """
    from backend.agent.nearest import has_examples, nearest_recipe
    from backend.agent.suggest import mix_label, suggest_for_photo
    from backend.recipe import Recipe
    from trainer.baselines import auto_recipe

    styles = list(styles or [])
    fixed = dict(fixed or {})
    examples = getattr(styles[0][0], "examples", None) if len(styles) == 1 else None
    nearest = ["nearest"] if has_examples(examples) else []
    methods = ["identity", "auto", *fixed, *nearest, *(["style"] if styles else [])]
    result = EvalResult(methods=methods, size=size, style=mix_label(styles) if styles else None, strength=strength)
    for pair in pairs:
        try:
            pair, x, ref, note = load_pair_noted(pair, size)  # pair: its camera JPEG where its raw is unreadable
            warnings = _warned([note] if note else [], on_warning)
            _check_comparable(pair, x, size)
            recipes: dict[str, Recipe] = {"identity": Recipe(), "auto": auto_recipe(x), **fixed}
            if nearest:
                recipes["nearest"] = nearest_recipe(examples, x)  # type: ignore[arg-type]
            if styles:
                recipes["style"] = suggest_for_photo(pair.input, styles, strength=strength)[0]
            outs, scores = _render_and_score(x, ref, {m: recipes[m] for m in methods})
            offset = frame_offset(x, ref)
            warnings += _warned(_different_photo(pair, scores["identity"]) + _misaligned(pair, offset), on_warning)
        except AutoretouchError as exc:
            message = str(exc) if pair.name in str(exc) else f"{pair.input}: {exc}"
            result.failures.append(Failure(str(pair.input), message, exc.exit_code))
            if on_error is not None:
                on_error(str(pair.input), message)
            continue
        row = {
            "name": pair.name,
            "input": str(pair.input),
            "reference": str(pair.reference),
            "long_side": max(x.shape[-2:]),  # the size compared: --size, or less for smaller photos
            "metrics": scores,
            "recipes": {m: recipes[m].to_dict() for m in methods if m != "identity"},
        } | {"frame_offset": None if offset is None else offset.to_dict(), "warnings": warnings}
        result.per_photo.append(row)
        if len(result.sheet) < sheet_photos:
            result.sheet.append({"input": x, **{m: outs[m] for m in methods if m != "identity"}, "reference": ref})
        if on_photo is not None:
            on_photo(row | {"images": outs})
    return result


# -- output ------------------------------------------------------------------------------------------


def slider_spread(result: EvalResult, method: str = "style") -> dict[str, dict[str, float]]:
    """Per slider, how the method's recipes vary over the evaluated photos.

    Returns:
        slider name -> ``{"used", "mean", "sd", "min", "max"}``: the share of photos whose recipe sets it (0..1)
        and, for scalar sliders, statistics of its value in catalog units (the identity where it is not set;
        population standard deviation). Curves and HSL report ``used`` only. Sliders in catalog order.
    """
    from backend.sliders.catalog import CATALOG

    recipes = [p["recipes"].get(method) for p in result.per_photo]
    recipes = [r for r in recipes if r is not None]
    out: dict[str, dict[str, float]] = {}
    if not recipes:
        return out
    for spec in CATALOG:
        values = [next((s["value"] for s in r["steps"] if s["slider"] == spec.name), None) for r in recipes]
        used = sum(v is not None for v in values)
        if not used:
            continue
        row = {"used": used / len(recipes)}
        if spec.is_scalar:
            arr = np.array([spec.identity if v is None else float(v) for v in values])
            row |= {"mean": float(arr.mean()), "sd": float(arr.std()), "min": float(arr.min()), "max": float(arr.max())}
        out[spec.name] = row
    return out


def format_spread(spread: Mapping[str, Mapping[str, float]]) -> str:
    """:func:`slider_spread` as plain-text lines (one per slider)."""
    lines = ["suggestions over the photos (slider: used on, mean ± sd [min .. max]):"]
    for name, row in spread.items():
        text = f"  {name}: {row['used']:.0%}"
        if "mean" in row:
            text += f", {row['mean']:+.2f} ± {row['sd']:.2f} [{row['min']:+.2f} .. {row['max']:+.2f}]"
        lines.append(text)
    return "\n".join(lines)


def _fmt(value: float, digits: int) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def format_table(result: EvalResult) -> str:
    """The mean metrics as a plain-text table, with a note on the protocol."""
    names = {
        "identity": "identity (input)",
        "auto": "auto (grey world + mid grey)",
        "nearest": "nearest edits (k most similar training photos)",
    }
    if result.style is not None:
        names["style"] = f"style {result.style}" + (f" @{result.strength:g}" if result.strength != 1.0 else "")
    width = max(len(names.get(m, m)) for m in result.methods)
    lines = [f"{'method':<{width}}  {'PSNR dB':>8}  {'SSIM':>6}  {'ΔE00':>6}  {'ΔE76':>6}"]
    for m in result.methods:
        lines.append(
            f"{names.get(m, m):<{width}}  {_fmt(result.score(m, 'psnr'), 2):>8}  {_fmt(result.score(m, 'ssim'), 4):>6}"
            f"  {_fmt(result.score(m, 'delta_e00'), 2):>6}  {_fmt(result.score(m, 'delta_e76'), 2):>6}"
        )
    n = len(result.per_photo)
    lines.append(
        f"{counted(n, 'photo')} at {_sizes_text(result)}; 8-bit sRGB: PSNR (peak 1) of the mean "
        "squared error over the photos, SSIM per R,G,B channel averaged (Gaussian 11x11, sigma 1.5), mean "
        "CIEDE2000 / CIE76 in CIELAB (D65)."
    )
    if result.style is not None and n:
        gain = result.score("style", "psnr") - result.score("identity", "psnr")
        lines.append(f"style vs identity: {gain:+.2f} dB PSNR")
        spread = slider_spread(result)
        if spread:
            lines.append(format_spread(spread))
    if result.failures:
        lines.append(f"{counted(len(result.failures), 'pair')} failed (see the errors above)")
    return "\n".join(lines)


def _json_number(value: float) -> float | None:
    """``value`` rounded to 6 decimals; ``None`` (JSON ``null``) when it is not finite."""
    return round(value, 6) if math.isfinite(value) else None


def _json_metrics(scores: Mapping[str, float]) -> dict[str, float | None]:
    """Metric -> value for JSON: an infinite PSNR (identical images) becomes :data:`~trainer.metrics.PSNR_CAP`."""
    from trainer.metrics import PSNR_CAP

    return {k: _json_number(min(v, PSNR_CAP) if k == "psnr" else v) for k, v in scores.items()}


def _sizes_text(result: EvalResult) -> str:
    """The long side the photos were compared at: ``--size``, or what the smaller photos (or references) had."""
    sides = sorted({int(p.get("long_side", result.size)) for p in result.per_photo}) or [result.size]
    if sides == [result.size]:
        return f"{result.size} px long side"
    shown = f"{sides[0]}" if len(sides) == 1 else f"{sides[0]}-{sides[-1]}"
    return f"{shown} px long side (--size {result.size}; photos smaller than that keep their size)"


def result_to_json(result: EvalResult) -> dict[str, Any]:
    """The result as JSON-ready data: numbers or ``null`` only (strict JSON, no ``Infinity``/``NaN``).

    The summary (``methods``) is :meth:`EvalResult.summary` (PSNR pooled, at most 100 dB); a pair's infinite PSNR
    (identical images) is written as 100, the cap; a missing value (no photo) is ``null``.
    """
    from trainer.metrics import METRIC_NOTES

    def clean(scores: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, Any]]:
        return {m: _json_metrics(s) for m, s in scores.items()}

    out: dict[str, Any] = {
        "style": result.style,
        "strength": result.strength,
        "size": result.size,
        "photos": len(result.per_photo),
        "methods": clean(result.summary()),
        "metric_notes": METRIC_NOTES,
        "failures": [{"photo": f.photo, "error": f.error} for f in result.failures],
        "per_photo": [p | {"metrics": clean(p["metrics"])} for p in result.per_photo],
    }
    if result.style is not None and result.per_photo:
        out["psnr_gain_over_identity"] = _json_number(result.score("style", "psnr") - result.score("identity", "psnr"))
        out["slider_spread"] = {
            k: {m: _json_number(v) for m, v in row.items()} for k, row in slider_spread(result).items()
        }
    return out


def _tile(image: Tensor, height: int, label: str) -> np.ndarray:
    from backend.encode import to_srgb8

    rgb = to_srgb8(image[0] if image.ndim == 4 else image)
    h, w = rgb.shape[:2]
    width = max(1, round(w * height / h))
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    out = np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=interp))
    scale = max(0.35, height / 480)
    y = int(18 * scale / 0.4)
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, label, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return out


def write_eval_sheet(result: EvalResult, path: str | Path, *, tile: int = SHEET_TILE) -> None:
    """Contact sheet: one row per kept photo, ``input | auto | ... | style | reference`` with PSNR labels.

    Args:
        result: an evaluation run with ``sheet_photos > 0``.
        path: the PNG file (written atomically).
        tile: tile height in pixels.

    Raises:
        InvalidRecipeError: no photo was kept.
    """
    from trainer.report import write_png

    if not result.sheet:
        raise InvalidRecipeError("no photo to put on the contact sheet")
    gap = 4
    rows = []
    for images, row in zip(result.sheet, result.per_photo, strict=False):
        tiles = []
        for key, image in images.items():
            label = key
            if key in row["metrics"]:
                label = f"{key} {_fmt(row['metrics'][key]['psnr'], 1)} dB"
            elif key == "input":
                label = f"input {_fmt(row['metrics']['identity']['psnr'], 1)} dB"
            tiles.append(_tile(image, tile, label))
        spacer = np.full((tile, gap, 3), 255, np.uint8)
        parts: list[np.ndarray] = []
        for t in tiles:
            parts += [t, spacer]
        rows.append(np.hstack(parts[:-1]))
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_png(path, np.vstack(padded)[:-gap])


def _write_outputs(out_dir: Path, row: Mapping[str, Any]) -> None:
    from backend.encode import write_image

    for method, image in row["images"].items():
        if method == "identity":
            continue
        write_image(out_dir / f"{row['name']}.{method}.png", image)
        (out_dir / f"{row['name']}.{method}.recipe.json").write_text(
            json.dumps(row["recipes"][method], indent=2) + "\n", encoding="utf-8"
        )


# -- command line ------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``eval`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "eval",
        help="score a style against reference edits: PSNR, SSIM, CIEDE2000 vs identity and auto baselines",
        description=(
            "Run a style on input photos exactly as `suggest` does, render its recipes, and compare them with "
            "reference edits of the same photos (paired by file name), beside the unedited input (identity) "
            "and a simple auto adjustment (grey-world white balance + mid-grey exposure)."
        ),
        epilog=_EPILOG,
    )
    which = parser.add_mutually_exclusive_group()
    add_style_options(
        which,
        style_help="style name or NAME.safetensors path (default: 'default')",
        mix_help="blend several styles' recipes (slider space)",
    )
    parser.add_argument("--inputs", required=True, type=Path, metavar="DIR", help="folder of unedited photos")
    parser.add_argument("--references", required=True, type=Path, metavar="DIR", help="folder of reference edits")
    add_strength_option(parser, help_text="style strength (default 1)")
    parser.add_argument(
        "--size",
        type=int_arg(16),
        default=512,
        metavar="PX",
        help="evaluation long side in pixels (default 512; smaller photos keep their size)",
    )
    parser.add_argument("--contact-sheet", type=Path, metavar="OUT.png", help="write input|auto|style|reference rows")
    parser.add_argument(
        "--sheet-photos", type=int, default=SHEET_PHOTOS, metavar="K", help=f"photos on the sheet ({SHEET_PHOTOS})"
    )
    parser.add_argument("--out-dir", type=Path, metavar="DIR", help="write eval.json, renders and recipes here")
    parser.add_argument("--allow-unmatched", action="store_true", help="skip photos without a partner")
    parser.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate; returns 0, 9 (some pairs failed) or the error's exit status (every pair failed)."""
    from backend.errors import EXIT_PARTIAL

    if args.threads:
        torch.set_num_threads(args.threads)
    match = check_pairs(args.inputs, args.references, allow_unmatched=args.allow_unmatched)
    pairs = list(match.pairs)
    for path in match.unmatched:
        print(f"autoretouch: warning: {printable(path)}: no partner of the same name; skipped", file=sys.stderr)
    for why in match.ambiguous:
        print(f"autoretouch: warning: left out, pairing is ambiguous: {printable(why)}", file=sys.stderr)
    for note in match.notes:
        print(f"autoretouch: warning: {printable(note)}", file=sys.stderr)
    styles = load_styles(args.style, args.mix)
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    def on_error(_where: str, message: str) -> None:
        errors.append(message)
        print(f"autoretouch: error: {printable(message)}", file=sys.stderr, flush=True)

    def on_photo(row: dict[str, Any]) -> None:
        if args.out_dir is not None:
            _write_outputs(args.out_dir, row)

    def on_warning(message: str) -> None:
        print(f"autoretouch: warning: {printable(message)}", file=sys.stderr, flush=True)

    sheet = max(0, args.sheet_photos) if args.contact_sheet else 0
    result = evaluate_pairs(
        pairs,
        styles,
        strength=args.strength,
        size=args.size,
        sheet_photos=sheet,
        on_error=on_error,
        on_photo=on_photo,
        on_warning=on_warning,
    )
    data = result_to_json(result) | {"left_out_ambiguous": list(match.ambiguous), "pairing_notes": list(match.notes)}
    if args.out_dir is not None:
        (args.out_dir / "eval.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.contact_sheet is not None and result.sheet:
        write_eval_sheet(result, args.contact_sheet)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_table(result))
        if args.contact_sheet is not None and result.sheet:
            print(f"contact sheet: {args.contact_sheet}")
    if not result.failures:
        return 0
    if not result.per_photo:
        return result.failures[0].exit_code
    return EXIT_PARTIAL
