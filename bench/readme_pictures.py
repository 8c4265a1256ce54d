"""The README's before/after picture of the shipped default style.

Rows: the three bundled sample photos (``samples/``, Kodak) as they are, made 1.5 EV too dark, and made 1.5 EV
too bright (our exposure slider), each beside the default style's result with the moves it chose. The samples are
among the default style's training favourites; the badly exposed copies are new to it.

    python bench/readme_pictures.py            # writes docs/images/default_style.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _tile(image: object, label: str, height: int) -> np.ndarray:
    from backend.encode import to_srgb8

    rgb = to_srgb8(image[0])  # type: ignore[index]
    h, w = rgb.shape[:2]
    out = np.ascontiguousarray(cv2.resize(rgb, (round(w * height / h), height), interpolation=cv2.INTER_AREA))
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, thick, cv2.LINE_AA)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", default="default")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "default_style.png")
    p.add_argument("--height", type=int, default=170)
    args = p.parse_args()
    import torch

    from backend.agent.style import load_style
    from backend.agent.suggest import suggest_for_image
    from backend.decode import decode_preview
    from backend.recipe import render_recipe
    from backend.render.pipeline import render
    from trainer.report import write_png

    style = load_style(args.style)
    rows = []
    for name in ("kodim03", "kodim05", "kodim23"):
        base = decode_preview(REPO / "samples" / f"{name}.png", long_side=384).image
        tiles = []
        for ev, what in ((0.0, "as shot"), (-1.5, "-1.5 EV"), (1.5, "+1.5 EV")):
            with torch.inference_mode():
                before = base if ev == 0.0 else render(base, {"exposure": ev})
            recipe = suggest_for_image(before, [(style, 1.0)])[0]
            with torch.inference_mode():
                after = render_recipe(before, recipe)
            exposure = next((s.value for s in recipe.steps if s.slider == "exposure"), 0.0)
            tiles += [
                _tile(before, f"{name} {what}", args.height),
                _tile(after, f"default: exposure {exposure:+.2f} EV", args.height),
            ]
        gap = np.full((args.height, 6, 3), 255, np.uint8)
        parts = []
        for i, t in enumerate(tiles):
            parts += [t, gap if i % 2 else np.full((args.height, 2, 3), 255, np.uint8)]
        rows.append(np.hstack(parts[:-1]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_png(args.out, np.vstack(rows)[:-6])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
