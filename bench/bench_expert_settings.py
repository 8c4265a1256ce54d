"""Expert C's real Lightroom settings, mapped into our sliders, against Expert C's own renditions.

14 of the 24 Expert C renditions in ``../shared/data/fivek_pairs/expertC`` carry the expert's develop settings as
embedded ``crs:`` XMP (legacy process version 2003); the inputs carry the zeroed settings they were rendered with
(``InputAsShotZeroed``: Brightness, Contrast, Shadows 0, white balance as shot). For each such photo:

* the settings are read (:func:`trainer.lrcat.xmp_settings.crs_settings` of ``exiftool -b -XMP``) and mapped
  (:func:`trainer.lrcat.pv2003.map_settings`, baseline ``ZEROED``, as-shot white balance from the input's own
  settings), the way a user's catalog or sidecar settings are;
* the input is rendered by our renderer with each **slider group** of the mapped recipe alone (exposure; tone:
  contrast, highlights, shadows, whites, blacks, clarity, curve; colour: vibrance, saturation, HSL; white balance)
  and with all of it, and scored against the expert's rendition (PSNR on 8-bit sRGB at 512 px);
* beside them the **image-space fit** (:func:`trainer.pseudo_labels.fit_recipes` at 128 px, the agent's sliders,
  from the identity) and the **combination**: the same fit started from the mapped recipe;
* the mapped and fitted values of the main sliders are compared.

    python bench/bench_expert_settings.py [--size 512] [--fit-iters 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "fivek_pairs"
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from common import add_threads_option, parse_run_args  # noqa: E402

from backend.agent.actions import AGENT_SLIDERS  # noqa: E402
from backend.agent.thumbnail import make_thumbnail  # noqa: E402
from backend.recipe import Recipe, render_recipe  # noqa: E402
from trainer.config import RESTORE_SLIDERS  # noqa: E402
from trainer.data.pairs import Pair, load_pair  # noqa: E402
from trainer.lrcat.pv2003 import ZEROED, map_settings  # noqa: E402
from trainer.lrcat.records import AsShotWhiteBalance  # noqa: E402
from trainer.lrcat.xmp_settings import crs_settings, embedded_xmp  # noqa: E402
from trainer.metrics import psnr  # noqa: E402
from trainer.pseudo_labels import fit_recipes  # noqa: E402

GROUPS: dict[str, tuple[str, ...]] = {
    "exposure": ("exposure",),
    "tone": ("contrast", "highlights", "shadows", "whites", "blacks", "clarity", "tone_curve"),
    "colour": ("vibrance", "saturation", "hsl"),
    "white balance": ("temperature", "tint"),
}
COMPARED = ("exposure", "contrast", "highlights", "shadows", "blacks", "vibrance", "saturation", "temperature", "tint")


def _score(x: torch.Tensor, ref: torch.Tensor, values: dict) -> float:
    with torch.no_grad():
        out = render_recipe(x, Recipe.from_settings(values)) if values else x
    return float(psnr(out, ref)[0])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=512, help="evaluation long side (px)")
    p.add_argument("--fit-size", type=int, default=128, help="fit thumbnail side (px)")
    p.add_argument("--fit-iters", type=int, default=200, help="Adam iterations of the fits")
    add_threads_option(p, 2, "torch threads")
    args = parse_run_args(p, None)
    rows = list(csv.DictReader((DATA / "manifest.csv").open(encoding="utf-8")))
    photos = []
    for r in rows:
        expert = crs_settings(embedded_xmp(DATA / r["expertC"]), where=r["expertC"])
        if not expert:
            continue
        base = crs_settings(embedded_xmp(DATA / r["input"]), where=r["input"])
        as_shot = None
        if isinstance(base.get("Temperature"), int | float) and isinstance(base.get("Tint"), int | float):
            as_shot = AsShotWhiteBalance(float(base["Temperature"]), float(base["Tint"]), "the input's settings")
        mapped = map_settings(expert, as_shot=as_shot, baseline=ZEROED)
        x, ref = load_pair(Pair(r["fivek_name"], DATA / r["input"], DATA / r["expertC"]), args.size)
        photos.append(
            {"name": r["fivek_name"], "x": x, "ref": ref, "mapped": dict(mapped.values), "notes": mapped.notes}
        )
    print(f"{len(photos)} of {len(rows)} Expert C renditions carry crs settings\n")

    agent = list(RESTORE_SLIDERS)
    inputs = torch.cat([make_thumbnail(ph["x"], args.fit_size) for ph in photos])
    refs = torch.cat([make_thumbnail(ph["ref"], args.fit_size) for ph in photos])
    fit_id = fit_recipes(inputs, refs, [agent] * len(photos), iters=args.fit_iters)
    inits = [{k: v for k, v in ph["mapped"].items()} for ph in photos]
    sliders_comb = [sorted(set(agent) | {k for k in ph["mapped"] if k in AGENT_SLIDERS}) for ph in photos]
    fit_comb = fit_recipes(inputs, refs, sliders_comb, inits, iters=args.fit_iters)

    cols = ["identity", *GROUPS, "all mapped", "fit", "fit from mapped"]
    table: dict[str, list[float]] = {c: [] for c in cols}
    print("| photo | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for ph, fi, fc in zip(photos, fit_id, fit_comb, strict=True):
        m = ph["mapped"]
        scores = {"identity": _score(ph["x"], ph["ref"], {})}
        for g, names in GROUPS.items():
            scores[g] = _score(ph["x"], ph["ref"], {k: v for k, v in m.items() if k in names})
        scores["all mapped"] = _score(ph["x"], ph["ref"], m)
        fitted_comb = {**{k: v for k, v in m.items() if k not in fc.values}, **fc.values}
        scores["fit"] = _score(ph["x"], ph["ref"], fi.values)
        scores["fit from mapped"] = _score(ph["x"], ph["ref"], fitted_comb)
        for c in cols:
            table[c].append(scores[c])
        print(f"| {ph['name'][:5]} | " + " | ".join(f"{scores[c]:.2f}" for c in cols) + " |")
    print("| **mean** | " + " | ".join(f"**{statistics.mean(table[c]):.2f}**" for c in cols) + " |")

    print("\nmapped vs fitted (from the identity) slider values, mean over the photos (mean |difference|):\n")
    print("| slider | mapped | fitted | mean abs diff | photos where the mapping sets it |")
    print("|---|---:|---:|---:|---:|")
    for name in COMPARED:
        mv = [float(ph["mapped"].get(name, 0.0)) for ph in photos]
        fv = [float(f.values.get(name, 0.0)) for f in fit_id]  # type: ignore[arg-type]
        used = sum(name in ph["mapped"] for ph in photos)
        diff = statistics.mean(abs(a - b) for a, b in zip(mv, fv, strict=True))
        print(f"| {name} | {statistics.mean(mv):+.2f} | {statistics.mean(fv):+.2f} | {diff:.2f} | {used} |")
    notes = sorted({n for ph in photos for n in ph["notes"]})
    if notes:
        print("\nmapping notes: " + "; ".join(notes[:12]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
