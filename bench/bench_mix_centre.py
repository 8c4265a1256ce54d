"""Mean or median of the training recipes: FiveK Expert C, and a photographer who turned a few photos black and white.

A paired style mixes its agent with one recipe made of all its training pairs' recipes (``restore.mix_k = 0``):
their weighted mean or, slider by slider, their weighted median (``restore.mix_centre``). This benchmark scores
that recipe *alone* (no agent, no training) on the test photos of the 3-fold CV of ``bench_fivek_cv.py`` (same
fixed folds):

* the 24 FiveK pairs' recipes are fitted through the renderer (:func:`trainer.pseudo_labels.fit_recipes`,
  ``--size`` px, ``--iters`` iterations); every test photo is rendered at 512 px with the mean or the median of
  its fold's 16 training recipes and scored against Expert C (PSNR, sRGB);
* the same with ``--bw`` of the 16 training recipes given ``black_and_white = 100`` on top (``--draws`` random
  choices per fold, seeded), as if the photographer had turned those photos black and white: the test photos
  are still Expert C's colour renditions, so every point lost is colour the recipe removed from photos nobody
  turned black and white.

    python bench/bench_mix_centre.py --threads 2
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_fivek_cv import DATA, folds  # noqa: E402
from common import add_threads_option, parse_run_args  # noqa: E402

from backend.agent.actions import AGENT_SLIDERS  # noqa: E402
from backend.agent.thumbnail import make_thumbnail  # noqa: E402
from backend.decode import decode_image  # noqa: E402
from backend.recipe import Recipe, blend, median, render_recipe  # noqa: E402
from trainer.pseudo_labels import display_srgb, fit_recipes, psnr  # noqa: E402


def _fit_all(
    files: dict[str, tuple[Path, Path]], size: int, iters: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor, Recipe]]:
    """Name -> (input, Expert C rendition, fitted recipe); images ``(1, 3, H, W)`` linear Rec.2020."""
    names = sorted(files)
    out = {}
    for start in range(0, len(names), 8):
        part = names[start : start + 8]
        full = [
            (
                decode_image(files[n][0]).image.float(),
                decode_image(files[n][1]).image.float(),
            )
            for n in part
        ]
        fits = fit_recipes(
            torch.cat([make_thumbnail(a, size) for a, _ in full]),
            torch.cat([make_thumbnail(b, size) for _, b in full]),
            [list(AGENT_SLIDERS)] * len(part),
            iters=iters,
        )
        for n, (a, b), fit in zip(part, full, fits, strict=True):
            out[n] = (a, b, Recipe.from_settings(fit.values))
    return out


def _score(image: torch.Tensor, reference: torch.Tensor, recipe: Recipe) -> float:
    with torch.no_grad():
        return float(psnr(display_srgb(render_recipe(image, recipe)), display_srgb(reference))[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128, help="fit thumbnail side in pixels")
    p.add_argument("--iters", type=int, default=200, help="Adam iterations per fit")
    p.add_argument("--bw", type=int, default=4, help="training recipes per fold turned black and white")
    p.add_argument("--draws", type=int, default=2, help="random choices of those recipes per fold")
    add_threads_option(p, 2)
    args = parse_run_args(p, None)
    cv = folds()
    splits = [([r["fivek_name"] for r in tr], [r["fivek_name"] for r in te]) for tr, te in cv]
    files = {r["fivek_name"]: (DATA / r["input"], DATA / r["expertC"]) for tr, te in cv for r in tr + te}
    data = _fit_all(files, args.size, args.iters)
    rows: dict[str, list[float]] = {k: [] for k in ("identity", "mean", "median", "mean, bw", "median, bw")}
    worst_bw = {"mean": 0.0, "median": 0.0}
    for f, (train, test) in enumerate(splits):
        recipes = [data[n][2] for n in train]
        centres = {"mean": blend(recipes, [1.0] * len(recipes)), "median": median(recipes, [1.0] * len(recipes))}
        for n in test:
            a, b, _ = data[n]
            rows["identity"].append(_score(a, b, Recipe(())))
            for kind, centre in centres.items():
                rows[kind].append(_score(a, b, centre))
        for draw in range(args.draws):
            turned = set(random.Random(1000 * f + draw).sample(range(len(train)), args.bw))
            mixed = [
                Recipe.from_settings({**r.settings(), "black_and_white": 100.0}) if i in turned else r
                for i, r in enumerate(recipes)
            ]
            for kind, combine in (("mean", blend), ("median", median)):
                centre = combine(mixed, [1.0] * len(mixed))
                worst_bw[kind] = max(worst_bw[kind], float(centre.value("black_and_white")))  # type: ignore[arg-type]
                for n in test:
                    a, b, _ = data[n]
                    rows[f"{kind}, bw"].append(_score(a, b, centre))
    print(
        f"FiveK Expert C, 3-fold CV test photos (24), the fold's 16 training recipes "
        f"({args.size} px fits, {args.iters} iterations) combined:\n"
    )
    print("| recipe for every test photo | PSNR (dB) | black_and_white (largest) |")
    print("|---|---:|---:|")
    print(f"| doing nothing | {statistics.fmean(rows['identity']):.2f} | — |")
    for kind in ("mean", "median"):
        print(f"| {kind} of the 16 | {statistics.fmean(rows[kind]):.2f} | — |")
    for kind in ("mean", "median"):
        label = f"{kind} of the 16, {args.bw} of them turned black and white ({args.draws} draws per fold)"
        print(f"| {label} | {statistics.fmean(rows[kind + ', bw']):.2f} | {worst_bw[kind]:.0f} |")


if __name__ == "__main__":
    main()
