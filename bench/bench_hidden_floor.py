"""How well can a fixed hidden look be recovered unpaired from a few photos? A floor under every statistics method.

The hidden-style benchmark (``bench_hidden_style.py``) learns a fixed recipe from 8 favourites (photos edited
with it) and 8 *other* unedited photos. Any method that reads the look off statistics of the two sets (moment
or distribution matching, a critic, the restoration trainer's exposure centre) has to tell the look from the
difference in content between the sets. This script measures that limit with an **oracle** that is told every
hidden slider except exposure, and sets exposure so that a statistic of the sources' log-luminance, after the
recipe, meets the favourites' (bisection). Only exposure is estimated, so a real method, which must also find
contrast, saturation and the colour balance, can only do worse.

Per split (``--splits`` seeded shuffles), favourites and sources are disjoint sets of ``--favourites`` Kodak
photos each; the test photos are the Kodak photos left over (``--test kodak``) or the 18 McMaster photos
(``--test mcmaster``). Scored through our renderer on ``--size`` px thumbnails against the hidden recipe's own
result (PSNR, display sRGB, the mean over the test photos). Printed per hidden look and statistic: the oracle's
PSNR (mean ± sd over splits, median, worst split), identity, the splits where the oracle is below identity, and
the exposure error (sd and mean absolute, EV).

    python bench/bench_hidden_floor.py --threads 1                                  # 8 + 8, test on Kodak
    python bench/bench_hidden_floor.py --threads 1 --favourites 12 --test mcmaster
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_hidden_style import HIDDENS
from common import REPO, add_threads_option, parse_run_args
from torch import Tensor

from backend.recipe import Recipe, render_recipe
from trainer.pseudo_labels import display_srgb, load_squeezed

DATA = REPO.parent / "shared" / "data"


def log_luminance(x: Tensor) -> Tensor:
    """``(N, H*W)`` log2 luminance of ``(N, 3, H, W)`` linear Rec.2020 images (floored at 1e-4)."""
    y = 0.2627 * x[:, 0] + 0.6780 * x[:, 1] + 0.0593 * x[:, 2]
    return torch.log2(y.clamp_min(1e-4)).flatten(1)


#: Statistics of a photo set's log-luminance the oracle matches.
STATISTICS: dict[str, Callable[[Tensor], float]] = {
    "mean": lambda x: float(log_luminance(x).mean()),
    "median of medians": lambda x: float(log_luminance(x).median(1).values.median()),
}


def render(x: Tensor, settings: dict[str, float]) -> Tensor:
    """``x`` (linear Rec.2020) through the recipe of ``settings`` (slider -> value)."""
    return render_recipe(x, Recipe.from_settings(settings))


def psnr(a: Tensor, b: Tensor) -> float:
    """Mean over the photos of the PSNR (dB) between two ``(N, 3, H, W)`` linear batches in display sRGB."""
    mse = ((display_srgb(a) - display_srgb(b)) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(1 / mse)).mean())


def oracle_exposure(fav: Tensor, src: Tensor, hidden: dict[str, float], stat: Callable[[Tensor], float]) -> float:
    """The exposure (EV) that makes ``stat`` of the sources' result meet the favourites' (others as hidden)."""
    target, lo, hi = stat(fav), -4.0, 4.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if stat(render(src, {**hidden, "exposure": mid})) < target else (lo, mid)
    return (lo + hi) / 2


def load(folder: Path, pattern: str, size: int) -> Tensor:
    """Every photo of ``folder`` matching ``pattern`` as ``(N, 3, size, size)`` linear Rec.2020 thumbnails."""
    return torch.cat([load_squeezed(p, size)[0] for p in sorted(folder.glob(pattern))])


def table(args: argparse.Namespace) -> list[str]:
    """The markdown table of the oracle's scores over the splits."""
    kodak = load(DATA / "kodak24", "*.png", args.size)
    mcmaster = load(DATA / "mcmaster", "*.tif", args.size) if args.test == "mcmaster" else None
    n = args.favourites
    rows = [
        "| look | statistic | oracle PSNR (dB) | median | worst split | identity | splits below identity "
        "| exposure error sd (EV) | mean abs (EV) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for look, hidden in HIDDENS.items():
        for name, stat in STATISTICS.items():
            scores, ident, errors = [], [], []
            for seed in range(args.splits):
                order = list(range(kodak.shape[0]))
                random.Random(seed).shuffle(order)
                fav, src, rest = order[:n], order[n : 2 * n], order[2 * n :]
                test = mcmaster if mcmaster is not None else kodak[rest]
                e = oracle_exposure(render(kodak[fav], hidden), kodak[src], hidden, stat)
                truth = render(test, hidden)
                scores.append(psnr(render(test, {**hidden, "exposure": e}), truth))
                ident.append(psnr(test, truth))
                errors.append(e - hidden["exposure"])
            s, i, err = np.array(scores), np.array(ident), np.array(errors)
            rows.append(
                f"| {look} | {name} | {s.mean():.2f} ± {s.std():.2f} | {np.median(s):.2f} | {s.min():.2f} "
                f"| {i.mean():.2f} | {int((s < i).sum())} of {len(s)} | {err.std():.2f} | {np.abs(err).mean():.2f} |"
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--favourites", type=int, default=8, help="favourites, and as many sources, per split")
    parser.add_argument("--test", choices=["kodak", "mcmaster"], default="kodak", help="test photos (see above)")
    parser.add_argument("--splits", type=int, default=20, help="seeded splits")
    parser.add_argument("--size", type=int, default=128, help="thumbnail size in pixels")
    add_threads_option(parser, 1)
    args = parse_run_args(parser, argv)
    if args.test == "kodak" and 2 * args.favourites >= 24:
        parser.error("--test kodak needs Kodak photos left over: --favourites below 12")
    test = "the other Kodak photos" if args.test == "kodak" else "18 McMaster photos"
    print(f"{args.favourites} favourites + {args.favourites} sources (Kodak), test: {test}, {args.splits} splits\n")
    print("\n".join(table(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
