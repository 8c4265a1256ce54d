"""The time budget of ``train --pairs`` with 100 pairs: where the minutes go, on a fixed number of threads.

100 before/after pairs are made from the 24 FiveK pairs of ``../shared/data/fivek_pairs``: Expert C's retouch is
the "after" of every pair, and the "before" is the FiveK input as shot or re-exposed by -1, -0.5, +0.5 or +1 EV
(our renderer), so that there are 100 distinct originals at 512 px (written as 16-bit PNGs into the work folder).
Then ``autoretouch train --pairs`` runs in-process with ``--minutes M`` on ``--threads N`` threads and the table
shows decoding + fitting, the cross-fitted check, training steps and the total wall time against the budget, and
the cross-fitted score (every pair scored by an agent that did not see it) beside doing nothing.

    python bench/bench_pairs_budget.py --minutes 5 --threads 2
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "fivek_pairs"
sys.path.insert(0, str(REPO))

from common import add_threads_option, parse_run_args  # noqa: E402

SHIFTS = (0.0, -1.0, -0.5, 0.5, 1.0)


def make_pairs(work: Path, n: int) -> tuple[Path, Path]:
    """Write ``n`` pairs into ``work/before`` and ``work/after`` (see the module docstring)."""
    import torch

    from backend.decode import decode_preview
    from backend.encode import write_image
    from backend.render.pipeline import render

    rows = list(csv.DictReader((DATA / "manifest.csv").open(encoding="utf-8")))
    before, after = work / "before", work / "after"
    before.mkdir(parents=True, exist_ok=True)
    after.mkdir(parents=True, exist_ok=True)
    made = 0
    for shift in SHIFTS:
        for r in rows:
            if made == n:
                return before, after
            name = f"{r['id']}_{'p' if shift >= 0 else 'm'}{abs(shift):.1f}".replace(".", "")
            x = decode_preview(DATA / r["input"], long_side=512).image.float()
            ref = decode_preview(DATA / r["expertC"], long_side=512).image.float()
            with torch.no_grad():
                x = render(x, {"exposure": shift}) if shift else x
            write_image(before / f"{name}.png", x, bit_depth=16)
            write_image(after / f"{name}.png", ref, bit_depth=16)
            made += 1
    return before, after


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=100, help="number of pairs (at most 120)")
    p.add_argument("--minutes", type=float, default=5.0, help="the training budget (--minutes)")
    add_threads_option(p, 2, "torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=REPO / "runs" / "bench_pairs_budget", help="work folder")
    args = parse_run_args(p, None)
    import shutil

    from trainer.config import load_config
    from trainer.train import train

    if args.work.exists():
        shutil.rmtree(args.work)
    t0 = time.perf_counter()
    before, after = make_pairs(args.work / "data", args.pairs)
    prep = time.perf_counter() - t0
    overrides = [f"run.minutes={args.minutes}", "run.steps=1000000", f"run.seed={args.seed}", "run.style=budget"]
    overrides.append(f"run.threads={args.threads}")
    cfg = load_config(None, overrides)
    start = time.perf_counter()
    result = train(cfg, targets=None, pairs=(before, after), run_dir=args.work / "run", install_dir=None)
    total = time.perf_counter() - start
    from backend.agent.style import load_style

    t = load_style(result.style_path).training
    check = t.get("check", {})
    m = result.metrics
    print(f"\n`train --pairs` with {t['pairs']} pairs, --minutes {args.minutes:g}, {args.threads} thread(s)\n")
    print("| phase | seconds |")
    print("|---|---:|")
    print(
        f"| decoding + aligned views + recipe fits ({t['fit_seconds']:.0f} s of it fitting) | {t['data_seconds']:.0f} |"
    )
    print(f"| cross-fitted check ({check.get('kind', '-')}) | {check.get('seconds', 0):.0f} |")
    print(f"| training on every pair: {result.step} steps | {m['train_seconds']:.0f} |")
    print(f"| **total wall** (budget {args.minutes * 60:.0f} s) | **{total:.0f}** |")
    print(
        f"\ncross-fitted: {m['val_psnr']:.2f} dB on pairs each agent did not see, doing nothing "
        f"{m['val_psnr_identity']:.2f} dB; recipes fitted to {t['fit_psnr_mean']:.1f} dB (min {t['fit_psnr_min']:.1f}); "
        f"{len(t['poor_fits'])} poorly fitted pairs; (making the pairs took {prep:.0f} s, not counted)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
