"""Oracle of our slider space on FiveK Expert C: recipes fitted to each expert rendition from its input.

For every pair in ``../shared/data/fivek_pairs`` (``input/NAME.*`` -> ``expertC/NAME.*``, matched by stem as
:class:`trainer.pseudo_labels.StemIndex` does) a recipe over the agent's sliders (default: all of
``AGENT_SLIDERS``) is fitted from the identity on ``--size`` px squeezed thumbnails
(:func:`trainer.pseudo_labels.fit_recipes`), then rendered at the pair's full resolution (512 px long side)
and compared with the expert's rendition:

    PSNR   dB, sRGB-encoded display values in [0, 1] (linear Rec.2020 -> sRGB gamut clip -> sRGB transfer)
    dE00   mean CIEDE2000 of the same display images (colour-science, Lab D65 from sRGB)

for the identity (the input as it is) and the fitted recipe. The fitted numbers are an *upper bound* for any
agent over these sliders (a per-photo oracle that sees the answer), to be quoted next to the unpaired result.
The photos are decoded with ``backend.decode`` (8-bit sRGB PNG/TIFF -> linear Rec.2020).

    python bench/bench_pseudo_labels.py                        # all pairs, 128 px fits, 200 iterations
    python bench/bench_pseudo_labels.py --limit 8 --iters 100 --size 96
    python bench/bench_pseudo_labels.py --sliders exposure,contrast,temperature,tint,tone_curve
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import add_threads_option, parse_run_args  # noqa: E402

from backend.agent.actions import AGENT_SLIDERS  # noqa: E402
from backend.agent.thumbnail import make_thumbnail  # noqa: E402
from backend.decode import decode_image  # noqa: E402
from backend.render.pipeline import render  # noqa: E402
from testing.darktable_cli import delta_e_2000  # noqa: E402
from trainer.pseudo_labels import StemIndex, display_srgb, fit_recipes, psnr  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "fivek_pairs"


def _display_np(image: torch.Tensor) -> np.ndarray:
    return display_srgb(image)[0].permute(1, 2, 0).double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with input/ and expertC/")
    parser.add_argument("--size", type=int, default=128, help="fit thumbnail side in pixels")
    parser.add_argument("--iters", type=int, default=200, help="Adam iterations per fit")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=8, help="photos fitted together")
    parser.add_argument("--limit", type=int, default=0, help="first N pairs only (0 = all)")
    parser.add_argument("--sliders", default=",".join(AGENT_SLIDERS), help="comma-separated sliders to fit")
    add_threads_option(parser, 2)
    parser.add_argument("--json", type=Path, help="also write the per-photo rows as JSON here")
    args = parse_run_args(parser, None)
    sliders = [s.strip() for s in args.sliders.split(",") if s.strip()]

    inputs, experts = StemIndex(args.data / "input"), StemIndex(args.data / "expertC")
    names = sorted(p.stem for p in (args.data / "input").iterdir() if inputs.find(p.stem) == p)
    pairs = [(n, inputs.find(n), experts.find(n)) for n in names]
    missing = [n for n, _, e in pairs if e is None]
    pairs = [(n, i, e) for n, i, e in pairs if e is not None]
    if args.limit:
        pairs = pairs[: args.limit]
    print(f"{len(pairs)} pairs from {args.data} ({len(missing)} without an Expert C rendition: {missing})")
    print(f"fit: {len(sliders)} sliders, {args.size} px, {args.iters} iterations, lr {args.lr}, {args.threads} threads")

    full_in, full_out, small_in, small_out = [], [], [], []
    for _name, i, e in pairs:
        a, b = decode_image(i).image.float(), decode_image(e).image.float()
        if a.shape != b.shape:
            raise SystemExit(f"{i.name}: input {tuple(a.shape)} and rendition {tuple(b.shape)} differ in size")
        full_in.append(a)
        full_out.append(b)
        small_in.append(make_thumbnail(a, args.size))
        small_out.append(make_thumbnail(b, args.size))

    t0 = time.perf_counter()
    fits = []
    for start in range(0, len(pairs), args.batch):
        part = slice(start, start + args.batch)
        fits += fit_recipes(
            torch.cat(small_in[part]),
            torch.cat(small_out[part]),
            [sliders] * len(small_in[part]),
            None,
            iters=args.iters,
            lr=args.lr,
        )
    fit_seconds = time.perf_counter() - t0

    rows = []
    header = f"{'photo':38s} {'PSNR id':>8s} {'PSNR fit':>8s} {'dE00 id':>8s} {'dE00 fit':>8s} {'fit@thumb':>9s}"
    print(header)
    print("-" * len(header))
    for (name, _i, _e), a, b, fit in zip(pairs, full_in, full_out, fits, strict=True):
        with torch.no_grad():
            edited = render(a, fit.values)
        ref = display_srgb(b)
        row = {
            "photo": name,
            "psnr_identity": float(psnr(display_srgb(a), ref)[0]),
            "psnr_fit": float(psnr(display_srgb(edited), ref)[0]),
            "de00_identity": float(delta_e_2000(_display_np(a), _display_np(b)).mean()),
            "de00_fit": float(delta_e_2000(_display_np(edited), _display_np(b)).mean()),
            "psnr_fit_thumb": fit.psnr_fit,
            "recipe": {k: v if isinstance(v, float) else list(v) for k, v in fit.values.items()},
        }
        rows.append(row)
        print(
            f"{name[:38]:38s} {row['psnr_identity']:8.2f} {row['psnr_fit']:8.2f} {row['de00_identity']:8.2f} "
            f"{row['de00_fit']:8.2f} {row['psnr_fit_thumb']:9.2f}"
        )
    print("-" * len(header))
    mean = {k: statistics.fmean(r[k] for r in rows) for k in rows[0] if k not in ("photo", "recipe")}
    print(
        f"{'mean (' + str(len(rows)) + ' photos)':38s} {mean['psnr_identity']:8.2f} {mean['psnr_fit']:8.2f} "
        f"{mean['de00_identity']:8.2f} {mean['de00_fit']:8.2f} {mean['psnr_fit_thumb']:9.2f}"
    )
    print(f"fit time {fit_seconds:.1f} s ({fit_seconds / max(len(rows), 1):.2f} s per photo)")
    if args.json:
        args.json.write_text(json.dumps({"mean": mean, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
