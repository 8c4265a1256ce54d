"""Lightroom catalog reader: what it finds in real catalogs, and how fast.

Inputs: every ``*.lrcat`` in ``../shared/data/lrcat`` (or the catalogs given on the command line), opened
read-only. Per catalog it prints the Lightroom DB version, the photos (``Adobe_images`` rows), how many
have develop settings, the history steps read, the recipes mapped (``photo_recipe``: PV2003/PV2012
mapping, history order) and the wall time. ``--synthetic N`` also builds a FiveK-layout catalog with N
photos x 5 experts (testing.lrcat_fixtures, in a temp folder) and times ``expert_recipes`` over it.

    python bench/bench_lrcat.py
    python bench/bench_lrcat.py --synthetic 400 --show
    python bench/bench_lrcat.py path/to/fivek.lrcat --expert C
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.errors import AutoretouchError  # noqa: E402
from trainer.lrcat import FIVEK_EXPERTS, expert_recipes, open_catalog, photo_recipe  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "lrcat"


def bench_catalog(path: Path, *, show: bool) -> None:
    t0 = time.perf_counter()
    photos = with_settings = steps = recipes = 0
    processes: Counter[str] = Counter()
    notes = 0
    with open_catalog(path) as cat:
        version = cat.db_version
        for photo in cat.photos(with_history=True):
            photos += 1
            steps += len(photo.history)
            if not photo.settings:
                continue
            with_settings += 1
            mapped = photo_recipe(cat, photo, style=path.stem)
            recipes += 1
            processes[mapped.process] += 1
            notes += len(mapped.notes)
            if show:
                print(f"    {photo.path}  [{mapped.process}, ordered by {mapped.ordered_by}]")
                print(f"      {mapped.recipe.to_json(indent=None)}")
                for note in mapped.notes:
                    print(f"      note: {note}")
    ms = (time.perf_counter() - t0) * 1e3
    pv = ", ".join(f"{k} {v}" for k, v in sorted(processes.items())) or "-"
    print(
        f"{path.name:28s} db {version or '?':8s} photos {photos:5d}  settings {with_settings:5d}  "
        f"history steps {steps:6d}  recipes {recipes:5d} ({pv}; {notes} notes)  {ms:8.1f} ms"
    )


def bench_synthetic(n: int, *, show: bool) -> None:
    from testing.lrcat_fixtures import make_fivek_catalog

    with tempfile.TemporaryDirectory(prefix="bench_lrcat_") as tmp:
        for schema in ("lr3", "modern"):
            t0 = time.perf_counter()
            fx = make_fivek_catalog(Path(tmp) / f"synthetic_{schema}.lrcat", photos=n, schema=schema)
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            count = steps = 0
            for expert in FIVEK_EXPERTS:
                for photo, mapped in expert_recipes(fx.path, expert, expected_count=n):
                    count += 1
                    steps += len(photo.history)
                    if show and count <= 2:
                        print(f"    {photo.base_name} {expert}: {mapped.recipe.to_json(indent=None)}")
            sec = time.perf_counter() - t0
            print(
                f"synthetic FiveK ({schema:6s}) {n} photos x 5 experts: {count} expert recipes, {steps} history "
                f"steps in {sec:.2f} s ({1e3 * sec / max(count, 1):.2f} ms per recipe; built in {build:.1f} s)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("catalogs", nargs="*", type=Path, help="catalogs (default: ../shared/data/lrcat/*.lrcat)")
    parser.add_argument("--expert", help="also map this expert's edits (FiveK layout) of each catalog")
    parser.add_argument("--synthetic", type=int, default=200, help="photos in the synthetic FiveK catalog (0: none)")
    parser.add_argument("--show", action="store_true", help="print each recipe and its notes")
    args = parser.parse_args()
    catalogs = args.catalogs or sorted(DATA.glob("*.lrcat"))
    if not catalogs:
        print(f"no catalogs found in {DATA}")
    for path in catalogs:
        try:
            bench_catalog(path, show=args.show)
            if args.expert:
                t0 = time.perf_counter()
                n = sum(1 for _ in expert_recipes(path, args.expert))
                print(f"  expert {args.expert}: {n} recipes in {time.perf_counter() - t0:.2f} s")
        except AutoretouchError as exc:
            print(f"{path.name}: {exc}")
    if args.synthetic > 0:
        bench_synthetic(args.synthetic, show=args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
