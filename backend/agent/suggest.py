"""Suggest recipes for photos: thumbnail -> each style's agent -> (blend) -> strength.

Variants: variant 0 is the deterministic rollout (net in eval mode); variant ``k >= 1`` runs the same
greedy rollout with the dropout layers on, masks drawn from ``torch.manual_seed(variant_seed(seed, k))``,
so a (photo, style, seed) triple always gives the same variants, independent of the other photos.

A style learnt from a few favourites may carry a general prior agent: its recipe is blended with the prior's
(``style.prior_share``, see :mod:`backend.agent.style`). A style learnt from the photographer's own edits carries
examples: its agent's recipe is mixed with the recipe of the most similar training photos
(:mod:`backend.agent.nearest`, the share stored as ``examples.blend``).

Mixing: ``A:0.7,B:0.3`` rolls out every style on the photo and blends their recipes in slider space with
:func:`backend.recipe.blend` (weights normalised); strength is applied last with :func:`backend.recipe.scale`.

Monochrome photos: for a near-neutral photo (:func:`backend.agent.monochrome.is_near_neutral` on its 64 x 64
thumbnail) every recipe (each variant, each mix) loses the moves that add colour
(:func:`backend.agent.monochrome.without_colour`), so a black-and-white photo stays neutral.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from backend.agent.monochrome import is_near_neutral, without_colour
from backend.agent.nearest import blend_share, mix_recipe
from backend.agent.network import mc_dropout
from backend.agent.rollout import rollout
from backend.agent.style import Style
from backend.agent.thumbnail import PREVIEW_LONG_SIDE, THUMB_SIZE, make_thumbnail
from backend.errors import InvalidRecipeError
from backend.recipe import Recipe, blend, check_strength, check_weights, scale

__all__ = ["MAX_VARIANTS", "mix_label", "parse_mix", "suggest_for_image", "suggest_for_photo", "variant_seed"]

#: Largest number of variants per photo.
MAX_VARIANTS = 32


def parse_mix(text: str) -> list[tuple[str, float]]:
    """Parse ``"A:0.7,B:0.3"`` into ``[("A", 0.7), ("B", 0.3)]``.

    Raises:
        InvalidRecipeError: empty entries, a missing or non-numeric weight, negative or non-finite weights,
            weights summing to zero or to more than the largest float, or a style named twice.
    """
    out: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, weight = part.strip().rpartition(":")
        if not sep or not name.strip():
            raise InvalidRecipeError(f"--mix entry {part.strip()!r} must be STYLE:WEIGHT (e.g. warm:0.7)")
        try:
            w = float(weight)
        except ValueError:
            raise InvalidRecipeError(f"--mix entry {part.strip()!r}: weight {weight!r} is not a number") from None
        if not math.isfinite(w) or w < 0:
            raise InvalidRecipeError(f"--mix entry {part.strip()!r}: weight must be a finite non-negative number")
        out.append((name.strip(), w))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise InvalidRecipeError(f"--mix names a style twice: {names}")
    check_weights([w for _, w in out], "--mix")
    return out


def mix_label(styles: Sequence[tuple[Style, float]]) -> str:
    """Provenance label: the style name, or ``"A:0.7,B:0.3"`` for a mix."""
    if len(styles) == 1:
        return styles[0][0].name
    return ",".join(f"{s.name}:{w:g}" for s, w in styles)


def variant_seed(seed: int, k: int) -> int:
    """The dropout seed of variant ``k`` (>= 1) for the user's ``seed`` (a 64-bit signed integer).

    ``torch.manual_seed`` on the CPU keeps only the low 32 bits, so seeds must differ there. A seed in
    ``0 .. 2**32 - 1`` gives ``seed * 1_000_003 + k``, as it always has (distinct low bits for distinct seeds,
    1_000_003 being odd); any other seed is hashed with ``k`` (BLAKE2b) to 63 bits, so seeds that differ by a
    multiple of 2**32 (-1 and 2**32 - 1, 5 and 5 + 2**40) draw different masks.

    Example:
        >>> variant_seed(7, 1), variant_seed(7 + (1 << 32), 1) % (1 << 32) != variant_seed(7, 1)
        (7000022, True)
    """
    seed, k = int(seed), int(k)
    if 0 <= seed < 1 << 32:
        return seed * 1_000_003 + k
    digest = hashlib.blake2b(f"autoretouch variant {seed} {k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _one_style(
    style: Style, thumbs: dict[int, Tensor], nears: dict[int, Recipe], image: Tensor, k: int, seed: int
) -> Recipe:
    net = style.net
    size = net.thumb
    if size not in thumbs:
        thumbs[size] = make_thumbnail(image, size)
    net.eval()
    if k == 0:
        traj = rollout(net, thumbs[size], render_final=False)
    else:
        with mc_dropout(net, variant_seed(seed, k)):
            traj = rollout(net, thumbs[size], render_final=False)
    recipe = traj.recipe(style=style.name, model=style.model)
    if style.prior is not None:  # a style learnt from a few favourites: shrunk towards its general prior
        if style.prior.thumb not in thumbs:
            thumbs[style.prior.thumb] = make_thumbnail(image, style.prior.thumb)
        if id(style.prior) not in nears:  # deterministic: the same for every variant
            style.prior.eval()
            nears[id(style.prior)] = rollout(style.prior, thumbs[style.prior.thumb], render_final=False).recipe()
        mixed = blend([recipe, nears[id(style.prior)]], [1.0 - style.prior_share, style.prior_share], style=style.name)
        recipe = dataclasses.replace(mixed, model=style.model)
    share = blend_share(style.examples)
    if share > 0.0:  # a style learnt from the photographer's edits: mixed with its nearest edits
        if id(style) not in nears:  # the same for every variant: worked out once per photo
            nears[id(style)] = mix_recipe(style.examples, image)  # type: ignore[arg-type]
        near = nears[id(style)]
        recipe = dataclasses.replace(blend([recipe, near], [1.0 - share, share], style=style.name), model=style.model)
    return recipe


def suggest_for_image(
    image: Tensor,
    styles: Sequence[tuple[Style, float]],
    *,
    strength: float = 1.0,
    variants: int = 1,
    seed: int = 0,
) -> list[Recipe]:
    """Recipes for one decoded photo.

    Args:
        image: ``(1, 3, H, W)`` linear Rec.2020, the unedited photo (any size; a preview is enough).
        styles: ``(style, weight)`` pairs; one pair = that style, several = a mix (weights normalised).
        strength: α in [0, 1] applied to every recipe (0 gives empty recipes).
        variants: number of recipes, 1..:data:`MAX_VARIANTS`; the first one is deterministic.
        seed: seed of the dropout variants.

    Returns:
        ``variants`` recipes, with ``style`` = :func:`mix_label`, ``model`` the style's ``NAME@VERSION``
        (joined with ``+`` for a mix) and ``strength`` = ``strength``. For a near-neutral (black-and-white)
        photo the moves that add colour are left out (:mod:`backend.agent.monochrome`).

    Raises:
        InvalidRecipeError: bad strength, variant count or empty style list.
    """
    if not styles:
        raise InvalidRecipeError("suggest needs at least one style")
    if not 1 <= variants <= MAX_VARIANTS:
        raise InvalidRecipeError(f"variants must lie in 1..{MAX_VARIANTS}, got {variants}")
    check_strength(strength)
    label = mix_label(styles)
    model = "+".join(s.model for s, _ in styles)
    thumbs: dict[int, Tensor] = {}
    nears: dict[int, Recipe] = {}  # per-photo recipes that do not depend on the variant, by id of their source
    recipes: list[Recipe] = []
    with torch.inference_mode():
        image = image.float()
        for k in range(variants):
            parts = [_one_style(style, thumbs, nears, image, k, seed) for style, _ in styles]
            if len(parts) == 1:
                recipe = parts[0]
            else:
                recipe = blend(parts, [w for _, w in styles], style=label)
                recipe = dataclasses.replace(recipe, model=model)
            recipes.append(scale(recipe, strength))
        if THUMB_SIZE not in thumbs:
            thumbs[THUMB_SIZE] = make_thumbnail(image, THUMB_SIZE)
        if is_near_neutral(thumbs[THUMB_SIZE]):  # a monochrome photo: no colour cast
            recipes = [without_colour(r) for r in recipes]
    return recipes


def suggest_for_photo(
    path: str | Path,
    styles: Sequence[tuple[Style, float]],
    *,
    strength: float = 1.0,
    variants: int = 1,
    seed: int = 0,
) -> list[Recipe]:
    """Decode a photo's preview (reduced JPEG decode / embedded raw preview) and suggest recipes for it.

    See :func:`suggest_for_image` for the arguments and result.

    Raises:
        The typed decode errors of :func:`backend.decode.decode_preview` (naming the file), and those of
        :func:`suggest_for_image`.
    """
    from backend.decode import decode_preview

    largest = max(s.thumb for s, _ in styles) if styles else 64
    decoded = decode_preview(path, long_side=max(PREVIEW_LONG_SIDE, largest))
    return suggest_for_image(decoded.image, styles, strength=strength, variants=variants, seed=seed)
