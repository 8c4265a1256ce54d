"""Speed ratio: warm ``suggest`` (and suggest + writing the sidecars) against darktable-cli on the same photo.

The promise is that deciding the edit costs a small fraction of what the host spends rendering it. For each
photo, in one run on this machine:

* **suggest**: :func:`backend.agent.suggest.suggest_for_photo` with the style already loaded (as in the
  daemon): preview decode, thumbnail, the agent's steps. Median of ``--repeats`` calls after two warm-ups.
* **suggest + sidecars**: :func:`backend.retouch.retouch_photo` (what ``apply --style``, the catalog batch and the
  daemon run: one preview decode, the suggestion, both hosts' sidecars, ``overwrite``, into a scratch copy of
  the photo), median likewise.
* **darktable-cli**: rendering the photo with the darktable sidecar just written, full size, to a JPEG
  (one ``darktable-cli`` command per render, as a user or script would run it, library in a scratch
  folder; median of ``--dt-repeats`` after one warm-up run that creates the library).

``ratio`` = darktable-cli time / suggest time (goal: >= 100), also for suggest + sidecars. Photos: the
full-resolution FiveK JPEGs of ``../shared/data/fivek_extra/fullres`` (12 MP and 4 MP, progressive, no
embedded preview), plus, generated into the scratch folder from the 12-MP one, a baseline re-encode (as a
camera writes, 12 MP, quality 92) and a 24-MP baseline upscale.

    python bench/bench_ratio.py                      # all photos
    python bench/bench_ratio.py --photos a0041_1.jpg --dt-repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import add_threads_option, parse_run_args, write_baseline_jpegs  # noqa: E402
from timing import median_ms  # noqa: E402

FULLRES = ROOT.parent / "shared" / "data" / "fivek_extra" / "fullres"
GOAL = 100.0


def _suggest_and_write(photo: Path, style: Any) -> None:
    from backend.retouch import retouch_photo

    retouch_photo(photo, host="both", styles=[(style, 1.0)], overwrite=True)


def make_photos(scratch: Path, names: list[str] | None) -> list[tuple[str, Path]]:
    """Copy the FiveK full-resolution JPEGs into ``scratch`` and generate the baseline 12- and 24-MP ones."""
    photos = []
    for src in sorted(FULLRES.glob("*.jpg")):
        if names and src.name not in names:
            continue
        dst = scratch / src.name
        shutil.copyfile(src, dst)
        photos.append(("FiveK, progressive", dst))
    big = FULLRES / "a0041_1.jpg"
    if not names or "baseline" in names:
        base12, base24 = scratch / "a0041_baseline12.jpg", scratch / "a0041_baseline24.jpg"
        write_baseline_jpegs(cv2.imread(str(big)), base12, base24)
        photos += [("baseline re-encode", base12), ("baseline upscale", base24)]
    return photos


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", type=Path, default=ROOT / "backend" / "styles" / "default.safetensors")
    add_threads_option(p, 2, "torch threads (the machine has 2 cores)")
    p.add_argument("--repeats", type=int, default=30, help="timed suggest calls per photo")
    p.add_argument("--dt-repeats", type=int, default=3, help="timed darktable-cli renders per photo")
    p.add_argument("--photos", nargs="*", help="only these file names (and 'baseline' for the generated ones)")
    args = parse_run_args(p, None)

    cv2.setNumThreads(args.threads)
    from backend.agent.style import load_style
    from backend.agent.suggest import suggest_for_photo
    from backend.decode import decode_preview
    from trainer.darktable_cli import DarktableCli, darktable_cli_path, darktable_version

    style = load_style(args.style)
    exe = darktable_cli_path()
    scratch = Path(tempfile.mkdtemp(prefix="bench_ratio_"))
    try:
        photos = make_photos(scratch, args.photos)
        cli = DarktableCli(scratch / "darktable", timeout=600) if exe else None
        print(
            f"style {style.model}; torch {args.threads} thread(s); load {os.getloadavg()[0]:.2f}; "
            f"darktable-cli {darktable_version() if exe else 'not installed'}\n"
        )
        print(
            "| photo | kind | MP | preview decode ms | suggest ms | + sidecars ms | recipe | darktable-cli s "
            "| ratio (suggest) | ratio (+ sidecars) |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        worst = float("inf")
        for kind, photo in photos:
            h, w = cv2.imread(str(photo), cv2.IMREAD_REDUCED_GRAYSCALE_8).shape[:2]
            mp = w * h * 64 / 1e6
            decode_ms = median_ms(partial(decode_preview, photo, long_side=128), args.repeats, warmup=2)
            suggest_ms = median_ms(partial(suggest_for_photo, photo, [(style, 1.0)]), args.repeats, warmup=2)
            recipe = suggest_for_photo(photo, [(style, 1.0)])[0]
            write_ms = median_ms(partial(_suggest_and_write, photo, style), args.repeats, warmup=2)
            xmp = photo.with_name(photo.name + ".xmp")
            dt_s = float("nan")
            if cli is not None:
                out = scratch / f"{photo.stem}.out.jpg"
                times = []
                for i in range(args.dt_repeats + 1):
                    out.unlink(missing_ok=True)
                    start = time.perf_counter()
                    cli.run([str(photo), str(xmp), str(out)])
                    if i:
                        times.append(time.perf_counter() - start)
                dt_s = statistics.median(times)
            ratio = dt_s * 1000 / suggest_ms
            ratio_w = dt_s * 1000 / write_ms
            worst = min(worst, ratio)
            print(
                f"| {photo.name} | {kind} | {mp:.1f} | {decode_ms:.1f} | {suggest_ms:.1f} | {write_ms:.1f} "
                f"| {len(recipe.steps)} sliders | {dt_s:.2f} | 1 : {ratio:.0f} | 1 : {ratio_w:.0f} |"
            )
        print(f"\ngoal: ratio >= {GOAL:g} (suggest vs darktable-cli); worst photo 1 : {worst:.0f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
