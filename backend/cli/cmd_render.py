"""``autoretouch render``: apply a recipe to photos and write sRGB JPEG/PNG/16-bit TIFF files.

Each photo is decoded to linear Rec.2020 (orientation applied), rendered with the recipe (scaled by
``--strength``) in float32 on the CPU, and encoded to sRGB. The input photo is never written: an output
path that resolves to any input of the batch is refused. An existing file at the output path is replaced only
when it is autoretouch's own render of the same photo, unchanged since it was written (its "Software" mark names
the photo and the time and size it was written with, :func:`backend.encode.check_replaceable`: rendering again into
the same folder works), or with ``--overwrite``; any other file (a camera's JPEG beside its raw, another photo,
autoretouch's render of another photo of the same name, a render the user has edited or tagged since) is refused
with :class:`~backend.errors.OutputExistsError` saying why, and so is a folder at the output path (``--out-dir``
under a file is a usage error). The check is made again when the finished file is moved into place: a file that
appeared or changed at the output path during the render is not replaced either. In a batch a photo that fails is
reported on stderr (the message names the file) and the others carry on; the exit status is then 9 (some failed).

No metadata of the photo is carried over (EXIF, IPTC, XMP; see :mod:`backend.encode`), and ``--help`` says so:
copying EXIF would only be possible for JPEG inputs (a raw's lives in its own TIFF directories and maker notes),
and tags such as the pixel dimensions (after ``--long-side``), the embedded thumbnail (the unedited photo) and the
orientation would have to be rewritten to stay true.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.nn import functional

from backend.cli.batch_report import run_photo_batch
from backend.cli.printable import printable
from backend.cli.style_options import add_recipe_or_style_options, add_strength_option, load_styles
from backend.errors import (
    AutoretouchError,
    NotFoundError,
    OutputError,
    OutputExistsError,
    PermissionDeniedError,
)
from backend.recipe import Recipe, load_recipe, scale
from backend.render.memory import check_render_memory
from backend.render.pipeline import BAND_PIXELS, render_banded, tune_allocator

if TYPE_CHECKING:  # backend.encode (OpenCV) is imported when a photo is rendered, not when the CLI starts
    from backend.encode import OutputGuard

# BAND_PIXELS and render_banded live in backend.render.pipeline; re-exported for existing callers.
__all__ = [
    "BAND_PIXELS",
    "FORMATS",
    "OutputPlan",
    "check_output",
    "plan_outputs",
    "register",
    "render_banded",
    "render_photo",
    "run",
]

#: Output format -> file extensions that select it (the first one is used for new names).
FORMATS: dict[str, tuple[str, ...]] = {"jpg": (".jpg", ".jpeg"), "png": (".png",), "tif": (".tif", ".tiff")}

_EPILOG = """\
examples:
  autoretouch render IMG_0001.CR2 --recipe warm.json -o IMG_0001.tif
  autoretouch render *.jpg --recipe warm.json --out-dir retouched/ --strength 0.5
  autoretouch render big.NEF --recipe warm.json -o quick.jpg --preview --long-side 1024
  autoretouch render *.png --style default --out-dir retouched/     # what the default style suggests

Output names with --out-dir are the photo's name with the output extension. Without --format, JPEG and
PNG photos keep their format and everything else (raws, TIFF) becomes a 16-bit TIFF. The input photo is
never overwritten. An existing output file is replaced only when it is autoretouch's render of the same
photo and nobody changed it since (rendering again into the same folder works); any other file there (e.g.
the camera's IMG_0001.jpg beside IMG_0001.CR2, the render of another card's IMG_0001, a render you have
edited or tagged) is refused unless you pass --overwrite. Exit status 9 means some photos of the batch
failed (each is named on stderr); when every photo failed, the error's own status (e.g. 6 not found, 5
undecodable).
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``render`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "render",
        help="apply a recipe or a style's suggestion to photos and write sRGB JPEG/PNG/16-bit TIFF files",
        description=(
            "Render a recipe (or, with --style/--mix, each photo's suggestion from a learned style) onto one or "
            "more photos (raw, TIFF, JPEG, PNG) at full resolution and write sRGB images with the orientation "
            "applied. This bakes the edit into new pixels, for previews "
            "and exports; to hand the edit to Lightroom or darktable as editable sliders use `apply`. "
            "The output carries none of the photo's metadata: EXIF (camera, lens, date, copyright, GPS), IPTC and "
            "XMP are dropped; it holds an sRGB ICC profile and a Software tag naming autoretouch only."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="photo files to render")
    add_recipe_or_style_options(
        parser,
        recipe_help="recipe JSON file (see `autoretouch sliders`), or one photo's saved `suggest --json` line",
        style_help="render what this learned style suggests for each photo (name or NAME.safetensors; 'default' ships)",
        mix_help="render a blend of several styles' suggestions",
    )
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", type=Path, metavar="OUT", help="output file (one photo only)")
    out.add_argument(
        "--out-dir", type=Path, metavar="DIR", help="output folder for one or more photos (created if missing)"
    )
    add_strength_option(
        parser,
        help_text="scale every slider toward 'no change': 0 = unedited, 1 = the recipe / style in full (default 1)",
    )
    parser.add_argument(
        "--format",
        choices=tuple(FORMATS),
        help="output format (default: from OUT's extension; with --out-dir the photo's own for JPEG/PNG, else tif)",
    )
    parser.add_argument(
        "--bit-depth", type=int, choices=(8, 16), help="bits per channel for PNG/TIFF (default: 16 TIFF, 8 PNG)"
    )
    parser.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG quality 1..100 (default 95)")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="decode a fast reduced-size preview (embedded thumbnail / reduced JPEG decode) instead of full size",
    )
    parser.add_argument(
        "--long-side",
        type=int,
        metavar="N",
        help="downscale so the long side is at most N pixels (never upscales)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace any file at an output path (without it only autoretouch's own, unchanged render of the same "
        "photo is replaced; never an input photo)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per photo instead of text")
    parser.set_defaults(func=run, _parser=parser)


@dataclass(frozen=True)
class OutputPlan:
    """Where one photo goes.

    Attributes:
        photo: the input photo, as given.
        output: the output file, or ``None`` when no valid output exists (see ``error``).
        error: why the photo cannot be rendered (refused path), or ``None``.
    """

    photo: Path
    output: Path | None
    error: AutoretouchError | None = None


def _format_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return next((fmt for fmt, exts in FORMATS.items() if suffix in exts), None)


class _Inputs:
    """The batch's input photos, found by resolved path or by inode (hard links)."""

    def __init__(self, photos: Sequence[Path]) -> None:
        self.by_path = {p.resolve(): p for p in photos}
        self.by_inode: dict[tuple[int, int], Path] = {}
        for p in photos:
            with contextlib.suppress(OSError):
                st = p.stat()
                self.by_inode[(st.st_dev, st.st_ino)] = p

    def find(self, target: Path) -> Path | None:
        """The input photo that ``target`` is (same file), or ``None``."""
        hit = self.by_path.get(target.resolve())
        if hit is not None:
            return hit
        try:
            st = target.stat()
        except OSError:
            return None
        return self.by_inode.get((st.st_dev, st.st_ino))


def plan_outputs(
    photos: Sequence[Path], *, output: Path | None, out_dir: Path | None, fmt: str | None
) -> list[OutputPlan]:
    """Choose the output file of every photo and refuse those that would overwrite an input.

    Args:
        photos: the input photos, in order.
        output: ``-o OUT`` (exactly one photo), or ``None``.
        out_dir: ``--out-dir DIR``, or ``None``.
        fmt: ``--format`` (``jpg``, ``png``, ``tif``), or ``None`` for the default.

    Returns:
        One plan per photo. A plan whose output is an input photo, or the output of an earlier photo
        of the batch, carries a :class:`~backend.errors.PermissionDeniedError` instead of a path.
    """
    plans: list[OutputPlan] = []
    taken: dict[Path, Path] = {}
    inputs = _Inputs(photos)
    for photo in photos:
        if output is not None:
            target = output
        else:
            assert out_dir is not None
            own = _format_of(photo)
            chosen = fmt or (own if own in ("jpg", "png") else "tif")
            target = out_dir / (photo.stem + FORMATS[chosen][0])
        clash = inputs.find(target)
        if clash is not None:
            err = PermissionDeniedError(
                f"{photo}: refusing to overwrite the input photo {clash} (choose another output)"
            )
            plans.append(OutputPlan(photo, None, err))
            continue
        key = target.resolve()
        if key in taken:
            err = PermissionDeniedError(f"{photo}: output {target} is already the output of {taken[key]}")
            plans.append(OutputPlan(photo, None, err))
            continue
        taken[key] = photo
        plans.append(OutputPlan(photo, target))
    return plans


def check_output(output: Path, photo: Path, *, overwrite: bool = False) -> OutputGuard | None:
    """Refuse an output path that holds something autoretouch must not replace.

    Args:
        output: the output file (its folder exists).
        photo: the photo to be rendered there.
        overwrite: replace whatever file is there (``--overwrite``).

    Returns:
        What the output path must still hold when the render is written (``guard`` of
        :func:`backend.encode.write_image`), or ``None`` with ``overwrite``.

    Raises:
        OutputExistsError: ``output`` is a folder (whatever ``overwrite`` says), or, while ``overwrite`` is off, an
            existing file other than autoretouch's unchanged render of ``photo`` (a symbolic link included; see
            :func:`backend.encode.check_replaceable`, which says why in the message).
        NotFoundError: ``photo`` does not exist while ``output`` holds a render.
    """
    from backend.encode import check_replaceable

    if output.is_dir():
        raise OutputExistsError(output, "is a folder; choose another output name or folder")
    if overwrite:
        return None
    return check_replaceable(output, photo)


def _downscale(image: Tensor, long_side: int) -> Tensor:
    """Resample ``(N, 3, H, W)`` (antialiased bilinear, in linear light) so that ``max(H, W) <= long_side``.

    The aspect ratio is kept; images already small enough are returned unchanged (never upscaled).
    """
    h, w = image.shape[-2:]
    if max(h, w) <= long_side:
        return image
    s = long_side / max(h, w)
    size = (max(1, round(h * s)), max(1, round(w * s)))
    return functional.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


def render_photo(
    photo: Path,
    output: Path,
    recipe: Recipe,
    *,
    preview: bool = False,
    long_side: int | None = None,
    bit_depth: int | None = None,
    quality: int = 95,
    guard: OutputGuard | None = None,
) -> tuple[int, int]:
    """Decode, render and encode one photo.

    Args:
        photo: input photo (raw, TIFF, JPEG, PNG).
        output: output file; its extension picks the format (sRGB JPEG, PNG or TIFF).
        recipe: the recipe, already at the wanted strength.
        preview: decode the fast reduced-size preview instead of the full image.
        long_side: downscale so the long side is at most this many pixels (``None``: keep the size).
        bit_depth: 8 or 16 for PNG/TIFF (``None``: the encoder's default, 16-bit TIFF).
        quality: JPEG quality 1..100.
        guard: replace only what the output path held when it was checked (:func:`check_output`); ``None``:
            replace whatever is there.

    Returns:
        ``(width, height)`` of the written image (upright).

    Raises:
        NotFoundError: the photo does not exist.
        DecodeError: the photo cannot be decoded (the message names the file).
        ImageTooLargeError: it is wider or taller than the output format holds (JPEG: 65,500 pixels, see
            :func:`backend.encode.max_side`; checked before rendering), or rendering it would need more memory than
            is free (see :func:`backend.render.memory.check_render_memory`).
        PermissionDeniedError: the output cannot be written.
        OutputExistsError: the output path no longer holds what ``guard`` names (a file appeared or changed there
            during the render); nothing is written.
    """
    from backend.decode import decode_image, decode_preview
    from backend.encode import check_size, max_side, photo_id, write_image

    if not photo.is_file():
        raise NotFoundError(f"{photo}: no such photo")
    source = photo_id(photo)  # the photo as decoded below, for the output's mark
    tune_allocator()
    with torch.inference_mode():
        if preview:
            decoded = decode_preview(photo, long_side=long_side) if long_side else decode_preview(photo)
        else:
            decoded = decode_image(photo)
        image = decoded.image.float()
        del decoded
        if long_side:
            image = _downscale(image, long_side)
        limit = max_side(output)
        hint = f"; write a TIFF (--format tif, or -o NAME.tif) or shrink it with --long-side {limit}"
        check_size(output, int(image.shape[-1]), int(image.shape[-2]), where=photo, hint=hint)
        moved = [step.slider for step in recipe.steps if not step.is_identity()]
        check_render_memory(photo, int(image.shape[-2]), int(image.shape[-1]), moved)
        workers = torch.get_num_threads()  # bands in parallel, one torch thread each (see render_banded)
        image = render_banded(image, recipe.tensors(torch.float32), inplace=True, workers=workers)
        height, width = image.shape[-2:]
        write_image(output, image, bit_depth=bit_depth, quality=quality, photo=source, guard=guard)
    return int(width), int(height)


def _usage(args: argparse.Namespace, message: str) -> None:
    parser: argparse.ArgumentParser = args._parser
    parser.error(printable(message))  # exits with status 2; a file name's control characters escaped


def _check_usage(args: argparse.Namespace) -> None:
    if args.output is not None:
        if len(args.photos) != 1:
            _usage(args, f"-o/--output takes one photo, got {len(args.photos)}; use --out-dir for several")
        fmt = _format_of(args.output)
        if fmt is None:
            exts = ", ".join(e for v in FORMATS.values() for e in v)
            _usage(args, f"output {args.output} must end in one of {exts}")
        if args.format is not None and args.format != fmt:
            _usage(args, f"--format {args.format} contradicts the output's extension {args.output.suffix}")
    if args.long_side is not None and args.long_side < 1:
        _usage(args, "--long-side must be a positive number of pixels")
    if not 1 <= args.quality <= 100:
        _usage(args, "--quality must lie in 1..100")


def _make_out_dir(args: argparse.Namespace) -> None:
    """Create ``--out-dir`` (and its parents); a path that is, or lies under, a file is a usage error (exit 2).

    Raises:
        PermissionDeniedError: the folder may not be created there.
        OutputError: the system refused it for another reason (read-only file system, disk full).
    """
    out_dir: Path = args.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        _usage(args, f"--out-dir {out_dir} exists and is not a folder")
    above = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if above is not None:
        _usage(args, f"--out-dir {out_dir} lies under the file {above}, which is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise PermissionDeniedError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
    except OSError as exc:
        raise OutputError(out_dir, f"cannot create the output folder ({exc.strerror or exc})") from None


def _suggested(photo: Path, styles: list[tuple[Any, float]], strength: float) -> Recipe:
    """The recipe the styles suggest for ``photo`` (as ``autoretouch suggest`` gives it), at ``strength``."""
    from backend.agent.suggest import suggest_for_photo

    if not photo.is_file():
        raise NotFoundError(f"{photo}: no such photo")
    (recipe,) = suggest_for_photo(photo, styles, strength=strength)
    return recipe


def run(args: argparse.Namespace) -> int:
    """Render every photo; returns 0, the error's exit code (single photo) or 9 (some of a batch failed).

    Text output names each photo and its output :func:`~backend.cli.printable.printable` (``--json``: as they are).
    """
    _check_usage(args)
    if args.recipe is not None:
        fixed: Recipe | None = scale(load_recipe(args.recipe), args.strength)
        styles: list[tuple[Any, float]] = []
    else:
        fixed, styles = None, load_styles(args.style, args.mix)
    if args.output is not None and not args.output.parent.is_dir():
        raise NotFoundError(f"{args.output.parent}: output folder does not exist")
    if args.out_dir is not None:
        _make_out_dir(args)
    plans = plan_outputs(args.photos, output=args.output, out_dir=args.out_dir, fmt=args.format)

    def attempt(plan: OutputPlan) -> tuple[Recipe, int, int]:
        if plan.error is not None:
            raise plan.error
        assert plan.output is not None
        guard = check_output(plan.output, plan.photo, overwrite=args.overwrite)
        recipe = fixed if fixed is not None else _suggested(plan.photo, styles, args.strength)
        width, height = render_photo(
            plan.photo,
            plan.output,
            recipe,
            preview=args.preview,
            long_side=args.long_side,
            bit_depth=args.bit_depth,
            quality=args.quality,
            guard=guard,
        )
        return recipe, width, height

    def done(plan: OutputPlan, result: tuple[Recipe, int, int]) -> None:
        recipe, width, height = result
        if args.json:
            row = {"photo": str(plan.photo), "ok": True, "output": str(plan.output), "width": width, "height": height}
            if fixed is None:
                row["recipe"] = recipe.to_dict()
            print(json.dumps(row), flush=True)
        else:
            print(f"{printable(plan.photo)} -> {printable(str(plan.output))} ({width}x{height})", flush=True)

    return run_photo_batch(plans, lambda plan: plan.photo, attempt, done, as_json=args.json)
