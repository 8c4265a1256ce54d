"""Hidden style recovery: edit photos with a known recipe in darktable, learn it unpaired, score the learned style.

1. ``--photos`` Kodak photos (``../shared/data/kodak24``) are downscaled to ``--long-side`` px (16-bit sRGB PNG,
   area averaging on the encoded values) and split (seeded) into training photos and ``--holdout`` test photos.
2. Every photo is edited with the **hidden recipe** (``--hidden``'s, one of :data:`HIDDENS`, or ``--recipe FILE``)
   by **darktable-cli 4.2** from the sidecar our translator writes (``recipe_to_history`` + ``new_darktable_xmp``,
   as ``bench_fidelity_darktable.py`` does); the float linear Rec.2020 output is saved as 16-bit sRGB PNG.
3. ``autoretouch train`` learns a style **unpaired** with the training photos' darktable edits as targets.
   Sources (``--sources``):
   - ``originals`` (default): the unedited originals of the same training photos. The trainer never pairs an
     original with its edit (the critic only sees the edits as a distribution), so this is the favourable
     unpaired setting: the inputs come from the same scenes as the targets;
   - ``disjoint``: training photos split in two halves: targets = edits of one half, sources = originals of
     the other (no scene appears on both sides);
   - ``unedit``: no sources: the trainer's built-in pool of randomly un-edited targets;
   - ``darktable``: not unpaired: the training originals with the hidden recipe as their darktable sidecars
     (``train --darktable``: the photographer's own darktable edits), rendered by darktable-cli inside the trainer.
4. On the held-out photos (never seen in training), against their darktable edits:
   identity, the auto baseline, the **oracle** (the hidden recipe through our own renderer; its gap to a
   perfect score is the renderer-vs-darktable fidelity), the learned style through our renderer, and the
   learned style's recipes **rendered by darktable-cli** from the sidecars we write (what the user sees). Also:
   the mean value the style gives each slider vs the hidden value, and the share of the oracle's PSNR gain the
   style recovers.

``--hidden`` picks a built-in hidden recipe (:data:`HIDDENS`: ``warm`` brighter, punchier, warmer and more
colourful; ``cool`` darker, contrasty, cooler, greener and less colourful); ``--seeds 0,1,2`` trains one style per
seed (``--parallel`` at a time) and ends with a summary row per seed.

    python bench/bench_hidden_style.py --minutes 5 --threads 1 --sources disjoint --hidden warm --seeds 0,1,2
    python bench/bench_hidden_style.py --steps 20 --photos 6 --holdout 2 --long-side 256    # smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import (  # first: it puts the repository on sys.path
    BASELINE_LABELS,
    REPO,
    add_run_options,
    add_style_options,
    bench_style,
    darktable_xmp,
    downscale_png16,
    evaluate_style,
    link_photos,
    link_training_photos,
    parse_run_args,
    photo_long_side,
    print_report,
    style_gain,
    train_style,
    write_numbers,
)

from backend.agent.style import load_style
from backend.encode import write_image
from backend.recipe import Recipe, load_recipe
from backend.sliders.catalog import get_slider
from testing.darktable_cli import DarktableCli
from trainer.eval_cli import Pair

DATA = REPO.parent / "shared" / "data"
STYLE_NAME = "hidden_style_bench"

#: Built-in hidden recipes for ``--hidden`` (global sliders the agent can use): ``warm`` (the default) brighter,
#: punchier, warmer and more colourful; ``cool`` darker, contrasty, cooler, greener and less colourful.
HIDDENS: dict[str, dict[str, float]] = {
    "warm": {"exposure": 0.4, "contrast": 20.0, "shadows": 25.0, "saturation": 20.0, "temperature": 25.0},
    "cool": {"exposure": -0.3, "contrast": 25.0, "saturation": -25.0, "temperature": -20.0, "tint": -10.0},
}


def prepare(photos: list[Path], long_side: int, out: Path) -> list[Path]:
    """Downscale photos to ``long_side`` px (INTER_AREA on sRGB values) as 16-bit PNGs named like the source."""
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for p in photos:
        target = out / f"{p.stem}.png"
        if downscale_png16(p, long_side, target):
            done.append(target)
    return done


def darktable_edit(photos: list[Path], recipe: Recipe, out: Path, scratch: Path, jobs: int) -> None:
    """Render ``recipe`` on every photo with darktable-cli; save the results as 16-bit sRGB PNGs in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    items = {}
    for p in photos:
        items[p.stem.replace(".", "_")] = (p, darktable_xmp(recipe, photo_long_side(p)))
    result = DarktableCli(scratch).render_batch(items, jobs=jobs)
    if result.problems:
        print("darktable problems:\n  " + "\n  ".join(result.problems), file=sys.stderr)
    for p in photos:
        image = torch.from_numpy(np.ascontiguousarray(result.images[p.stem.replace(".", "_")])).permute(2, 0, 1)
        write_image(out / f"{p.stem}.png", image[None], bit_depth=16)
    print(f"darktable-cli edited {len(photos)} photos in {result.seconds:.0f} s", flush=True)


def darktable_scores(
    per_photo: list[dict[str, Any]], originals: dict[str, Path], edited: dict[str, Path], scratch: Path, jobs: int
) -> list[float]:
    """PSNR (8-bit sRGB) of each photo's learned recipe rendered by darktable-cli against the hidden edit."""
    from backend.decode import decode_preview
    from trainer.metrics import psnr

    items = {}
    for row in per_photo:
        photo = originals[row["name"]]
        items[row["name"].replace(".", "_")] = (
            photo,
            darktable_xmp(Recipe.from_dict(row["recipes"]["style"]), photo_long_side(photo)),
        )
    result = DarktableCli(scratch).render_batch(items, jobs=jobs)
    scores = []
    for row in per_photo:
        got = torch.from_numpy(np.ascontiguousarray(result.images[row["name"].replace(".", "_")])).permute(2, 0, 1)
        want = decode_preview(edited[row["name"]], long_side=max(got.shape[-2:])).image
        scores.append(float(psnr(got[None], want)[0]))
    return scores


def _mean_recovered(per_photo: list[dict[str, Any]], hidden: Recipe) -> list[str]:
    """Markdown rows: slider | hidden value | the style's mean (sd) over the test photos | photos using it."""
    recipes = [Recipe.from_dict(row["recipes"]["style"]) for row in per_photo]
    hidden_values = hidden.settings()
    names = list(hidden_values)
    for r in recipes:
        names += [s.slider for s in r.steps if s.slider not in names]
    rows = ["| slider | hidden | learned mean (sd) | photos using it |", "|---|---:|---:|---:|"]
    for name in names:
        spec = get_slider(name)
        used = sum(name in r.settings() for r in recipes)
        if spec.is_scalar:
            h = float(hidden.value(name))  # type: ignore[arg-type]
            vals = [float(r.value(name)) for r in recipes]  # type: ignore[arg-type]
            rows.append(f"| {name} | {h:+.2f} | {np.mean(vals):+.2f} ({np.std(vals):.2f}) | {used}/{len(recipes)} |")
        else:
            h_text = "set" if name in hidden_values else "identity"
            rows.append(f"| {name} | {h_text} | (not scalar) | {used}/{len(recipes)} |")
    return rows


@dataclass
class Setup:
    """The benchmark's photos: originals, their darktable edits, the split and the training folders' files."""

    originals: list[Path]
    edited: dict[str, Path]
    test: list[int]
    train: list[Path]
    target_files: list[Path]
    source_files: list[Path]


def setup(args: argparse.Namespace, hidden: Recipe, run_dir: Path) -> Setup:
    """Downscale the Kodak photos, edit them with ``hidden`` in darktable-cli, split, choose targets/sources."""
    data = run_dir / "data"
    photos = sorted(p for p in (DATA / "kodak24").iterdir() if p.suffix.lower() == ".png")[: args.photos]
    if not 0 < args.holdout < len(photos):
        raise SystemExit(f"--holdout must leave training photos: 0 < {args.holdout} < {len(photos)}")
    originals = prepare(photos, args.long_side, data / "originals")
    darktable_edit(originals, hidden, data / "edited", run_dir / "darktable", args.jobs)
    order = list(range(len(originals)))
    random.Random(args.seed).shuffle(order)
    test = sorted(order[: args.holdout])
    train = [originals[i] for i in sorted(order[args.holdout :])]
    edited = {p.stem: data / "edited" / p.name for p in originals}
    if args.sources == "disjoint":
        half = len(train) // 2
        target_files, source_files = [edited[p.stem] for p in train[half:]], train[:half]
    elif args.sources == "darktable":  # the photographer's darktable folder: originals + their sidecars
        target_files, source_files = [], []
        folder = link_photos(data / "darktable_edits", train)
        for p in train:
            sidecar = folder / f"{p.name}.xmp"
            sidecar.write_text(darktable_xmp(hidden, photo_long_side(p)), encoding="utf-8")
    else:
        target_files = [edited[p.stem] for p in train]
        source_files = train if args.sources == "originals" else []
    return Setup(originals, edited, test, train, target_files, source_files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, REPO / "runs" / STYLE_NAME)
    parser.add_argument("--photos", type=int, default=24, help="Kodak photos to use (default all 24)")
    parser.add_argument("--holdout", type=int, default=8, help="test photos kept out of training")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    parser.add_argument("--long-side", type=int, default=512, help="photo size in pixels (long side)")
    parser.add_argument("--sources", choices=["originals", "disjoint", "unedit", "darktable"], default="originals")
    parser.add_argument("--recipe", type=Path, help="hidden recipe JSON (default: --hidden)")
    parser.add_argument("--hidden", choices=sorted(HIDDENS), default="warm", help="built-in hidden recipe")
    parser.add_argument("--seeds", default="", help="train one style per seed (comma-separated), e.g. 0,1,2")
    parser.add_argument("--parallel", type=int, default=2, help="trainings side by side with --seeds")
    parser.add_argument("--jobs", type=int, default=2, help="darktable-cli processes at once")
    add_style_options(parser, "evaluate this trained style only (skip training)")
    args = parse_run_args(parser, argv)
    hidden = load_recipe(args.recipe) if args.recipe else Recipe.from_settings(HIDDENS[args.hidden], style="hidden")
    if args.seeds:
        return _many_seeds(args, hidden)
    run_dir = args.run_dir.resolve()
    data = run_dir / "data"
    su = setup(args, hidden, run_dir)
    originals, edited, test, train = su.originals, su.edited, su.test, su.train
    target_files, source_files = su.target_files, su.source_files
    print(f"hidden recipe: {json.dumps(hidden.settings())}")
    print(f"{len(train)} training photos, {len(test)} held out; sources: {args.sources}", flush=True)

    overrides = list(args.overrides)
    if not any(o.startswith("data.eval_images=") for o in overrides):
        overrides.append(f"data.eval_images={max(1, len(source_files or target_files) // 4)}")
    style_path, train_summary = bench_style(
        args,
        name=STYLE_NAME,
        target_files=target_files,
        source_files=source_files,
        darktable=data / "darktable_edits" if args.sources == "darktable" else None,
        overrides=overrides,
    )
    style = load_style(style_path)
    pairs = [Pair(originals[i].stem, originals[i], edited[originals[i].stem]) for i in test]
    sheet = run_dir / "bench_hidden_sheet.png"
    result = evaluate_style(pairs, style, args.long_side, sheet, fixed={"oracle": hidden})

    labels = {
        **BASELINE_LABELS,
        "oracle": "oracle (hidden recipe, our renderer)",
        "style": f"learned style ({style.name})",
    }
    protocol = f"{len(result.per_photo)} held-out Kodak photos, {args.long_side} px, darktable-cli edits"
    s = result.summary()
    gain = style_gain(result)
    oracle_gain = s["oracle"]["psnr"] - s["identity"]["psnr"]
    share = gain / oracle_gain if oracle_gain > 0 else float("nan")
    notes = [
        "",
        *_mean_recovered(result.per_photo, hidden),
        "",
        f"style vs identity: {gain:+.2f} dB; oracle vs identity: {oracle_gain:+.2f} dB; "
        f"the style recovers {100 * share:.0f} % of the oracle's PSNR gain; "
        f"style vs oracle ΔE00: {s['style']['delta_e00']:.2f} vs {s['oracle']['delta_e00']:.2f}",
        f"contact sheet: {sheet}",
    ]
    print_report(result, labels, protocol, notes)
    write_numbers(args, result, "hidden_style", train_summary, hidden=hidden.to_dict(), oracle_gain_db=oracle_gain)
    return 0


def _many_seeds(args: argparse.Namespace, hidden: Recipe) -> int:
    """One training per seed (two at a time), then the per-seed table with darktable-cli renders of the style."""
    from concurrent.futures import ThreadPoolExecutor

    run_dir = args.run_dir.resolve()
    data = run_dir / "data"
    su = setup(args, hidden, run_dir)
    originals, edited, test = su.originals, su.edited, su.test
    target_files, source_files = su.target_files, su.source_files
    targets, sources = link_training_photos(data, target_files, source_files)
    seeds = [int(s) for s in args.seeds.split(",")]

    darktable = data / "darktable_edits" if args.sources == "darktable" else None

    def one(seed: int) -> tuple[Path, dict[str, Any]]:
        return train_style(
            name=f"{STYLE_NAME}_{seed}",
            targets=targets,
            darktable=darktable,
            sources=sources,
            run_dir=run_dir / f"seed{seed}",
            run=args,
            overrides=[*args.overrides, f"run.seed={seed}"],
        )

    with ThreadPoolExecutor(args.parallel) as pool:
        trained = list(pool.map(one, seeds))
    pairs = [Pair(originals[i].stem, originals[i], edited[originals[i].stem]) for i in test]
    by_name = {p.stem: p for p in originals}
    print(f"\nhidden recipe ({args.hidden}): {json.dumps(hidden.settings())}")
    print(
        f"{len(target_files)} favourites, {len(source_files)} sources ({args.sources}), {len(test)} held-out test "
        f"photos, {args.long_side} px; {args.minutes} min x {args.threads} thread(s) per run\n"
    )
    print("| seed | identity | auto | oracle (ours) | style (ours) | style (darktable-cli) | worst photo (darktable) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    summary = []
    details = []
    for seed, (style_path, _) in zip(seeds, trained, strict=True):
        style = load_style(style_path)
        result = evaluate_style(
            pairs, style, args.long_side, run_dir / f"seed{seed}" / "sheet.png", fixed={"oracle": hidden}
        )
        dt = darktable_scores(result.per_photo, by_name, edited, run_dir / f"seed{seed}" / "darktable", args.jobs)
        ident = [p["metrics"]["identity"]["psnr"] for p in result.per_photo]
        s = result.summary()
        worst = min(d - i for d, i in zip(dt, ident, strict=True))
        summary.append((float(np.mean(dt)), float(np.mean(dt)) - float(np.mean(ident)), worst))
        print(
            f"| {seed} | {s['identity']['psnr']:.2f} | {s['auto']['psnr']:.2f} | {s['oracle']['psnr']:.2f} "
            f"| {s['style']['psnr']:.2f} | {np.mean(dt):.2f} | {worst:+.2f} vs identity |"
        )
        details.append((seed, _mean_recovered(result.per_photo, hidden)))
    dts = [x[0] for x in summary]
    print(
        f"\ndarktable-cli render of the learned style: {np.mean(dts):.2f} ± {np.std(dts, ddof=1) if len(dts) > 1 else 0:.2f}"
        f" dB over {len(dts)} seeds (min {min(dts):.2f}); gain over identity {np.mean([x[1] for x in summary]):+.2f} dB;"
        f" worst photo vs identity {min(x[2] for x in summary):+.2f} dB"
    )
    for seed, rows in details:
        print(f"\nseed {seed}: hidden vs learned sliders on the test photos")
        print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
