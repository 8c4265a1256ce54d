"""darktable fidelity benchmark: our renderer vs darktable-cli 4.2 rendering our own sidecars, on real photos.

For every case of ``testing.darktable_cli.fidelity_cases()`` (each scalar global slider at 3 values, tone curve,
RGB curves, HSL, three combined recipes) plus the spatial sliders (clarity, sharpen, vignette), every photo of
``../shared/data/kodak24`` and ``../shared/data/fivek_pairs/input`` is downscaled to ``--long-side`` pixels
(16-bit sRGB PNG), rendered by autoretouch (decode -> render in float32 -> sRGB) and by darktable-cli with the sidecar
``recipe_to_history`` writes, and compared with CIEDE2000 (colour-science, Lab from sRGB, both clipped to the
sRGB gamut). Prints one row per case (mean, p95 over all pixels of all photos, worst photo's mean) and one row
per slider; targets: mean <= 1.0, p95 <= 2.5.

Usage::

    python bench/bench_fidelity_darktable.py [--long-side 384] [--jobs 2] [--limit N] [--only SLIDER ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO, darktable_xmp, downscale_png16, photo_long_side  # first: it puts the repository on sys.path

from testing.darktable_cli import (
    DarktableCli,
    delta_e_2000,
    fidelity_cases,
    fidelity_group,
    load_srgb_as_rec2020,
    rec2020_to_display_srgb,
    render_ours,
)

DATA = REPO.parent / "shared" / "data"
DEFAULT_DIRS = (DATA / "kodak24", DATA / "fivek_pairs" / "input")
TARGET_MEAN, TARGET_P95 = 1.0, 2.5
BINS = np.linspace(0.0, 30.0, 30001)


def spatial_cases() -> dict[str, dict[str, object]]:
    """Spatial sliders (radii relative to the image size): reported, not part of the global targets."""
    return {
        "clarity_p40": {"clarity": 40.0},
        "clarity_m40": {"clarity": -40.0},
        "sharpen_p60": {"sharpen": 60.0},
        "vignette_m50": {"vignette": -50.0},
        "vignette_p40": {"vignette": 40.0},
    }


def prepare_images(dirs: list[Path], long_side: int, out: Path, limit: int | None) -> list[Path]:
    """Downscale every photo (INTER_AREA on sRGB values) to ``long_side`` and save it as a 16-bit sRGB PNG."""
    paths = sorted(
        p for d in dirs for p in d.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
    )
    if limit:
        paths = paths[:limit]
    out.mkdir(parents=True, exist_ok=True)
    prepared = []
    for i, p in enumerate(paths):
        target = out / f"img{i:03d}.png"
        if downscale_png16(p, long_side, target):
            prepared.append(target)
    return prepared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirs", type=Path, nargs="*", default=list(DEFAULT_DIRS))
    parser.add_argument("--long-side", type=int, default=384)
    parser.add_argument("--jobs", type=int, default=2, help="darktable-cli processes at once")
    parser.add_argument("--chunk", type=int, default=4, help="photos per darktable-cli batch")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos")
    parser.add_argument("--only", nargs="*", default=None, help="only these sliders / groups")
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--double", action="store_true", help="render ours in float64 (slower; default float32)")
    args = parser.parse_args(argv)

    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="bench-fidelity-dt-"))
    cases = {**fidelity_cases(), **spatial_cases()}
    if args.only:
        cases = {n: s for n, s in cases.items() if fidelity_group(s) in args.only or n in args.only}
    images = prepare_images(args.dirs, args.long_side, scratch / "photos", args.limit)
    print(f"{len(images)} photos at {args.long_side} px, {len(cases)} cases, scratch {scratch}", flush=True)
    dt = DarktableCli(scratch / "dt")
    hist = {n: np.zeros(len(BINS) - 1) for n in cases}
    sums = dict.fromkeys(cases, 0.0)
    counts = dict.fromkeys(cases, 0)
    worst = {n: (0.0, "") for n in cases}
    start = time.perf_counter()
    for c0 in range(0, len(images), args.chunk):
        chunk = images[c0 : c0 + args.chunk]
        items: dict[str, tuple[Path, str | None]] = {}
        for img in chunk:
            long_px = photo_long_side(img)
            for name, settings in cases.items():
                items[f"{img.stem}__{name}"] = (img, darktable_xmp(settings, long_px))
        result = dt.render_batch(items, jobs=args.jobs)
        if result.problems:
            print("darktable problems:\n  " + "\n  ".join(result.problems), file=sys.stderr)
        for img in chunk:
            linear = load_srgb_as_rec2020(img)
            for name, settings in cases.items():
                ours = rec2020_to_display_srgb(render_ours(linear, settings, double=args.double))
                theirs = rec2020_to_display_srgb(result.images[f"{img.stem}__{name}"])
                de = delta_e_2000(ours, theirs).ravel()
                hist[name] += np.histogram(np.clip(de, 0, BINS[-1] - 1e-9), BINS)[0]
                sums[name] += float(de.sum())
                counts[name] += de.size
                if de.mean() > worst[name][0]:
                    worst[name] = (float(de.mean()), img.stem)
        done = min(c0 + args.chunk, len(images))
        print(f"  {done}/{len(images)} photos, {time.perf_counter() - start:.0f} s", flush=True)

    def p95(h: np.ndarray) -> float:
        cdf = np.cumsum(h) / max(h.sum(), 1)
        return float(BINS[1:][np.searchsorted(cdf, 0.95)])

    print()
    print(f"{'case':24s} {'slider':16s} {'mean':>7s} {'p95':>7s} {'worst':>7s}  worst photo  target")
    groups: dict[str, list[str]] = {}
    for name, settings in cases.items():
        g = fidelity_group(settings)
        groups.setdefault(g, []).append(name)
        mean = sums[name] / max(counts[name], 1)
        q = p95(hist[name])
        spatial = name in spatial_cases()
        flag = "(spatial)" if spatial else ("ok" if mean <= TARGET_MEAN and q <= TARGET_P95 else "MISS")
        print(f"{name:24s} {g:16s} {mean:7.3f} {q:7.3f} {worst[name][0]:7.3f}  {worst[name][1]:11s}  {flag}")
    print()
    print(f"{'slider':16s} {'mean':>7s} {'p95':>7s}")
    for g, names in groups.items():
        total = sum(sums[n] for n in names) / max(sum(counts[n] for n in names), 1)
        q = p95(sum(hist[n] for n in names))
        print(f"{g:16s} {total:7.3f} {q:7.3f}")
    print(f"\n{len(images)} photos x {len(cases)} cases in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
