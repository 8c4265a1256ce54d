"""FiveK Expert C, cross-validated: a style learnt from 16 of Expert C's retouches, scored on the 8 other photos.

Protocol (``../shared/data/fivek_pairs``, 24 photos, as-shot sRGB inputs and Expert C's retouches, 512 px):

* the 24 photos are split into 3 folds of 8 by a fixed permutation (``random.Random(2026)``, chosen before any
  result was seen); each fold's 8 photos are the test set, the other 16 train;
* **favourites** (``--targets``): Expert C's retouches of the 16 training photos;
* **sources**: ``--sources none`` (favourites only: the trainer's own un-edits) or ``--sources inputs`` (the
  inputs of the same 16 training photos, unpaired: the trainer never pairs an input with its retouch), or
  ``--sources pairs`` (``train --pairs``: the 16 training inputs paired with Expert C's retouches; the
  "nearest edits" baseline, stored with the paired style, is reported beside it);
* every fold is trained with every seed of ``--seeds`` for a fixed ``--minutes`` on ``--threads`` threads per
  run, ``--parallel`` runs side by side (``--steps N`` bounds each run by N steps instead, so that a comparison
  does not depend on the machine's load); the test photos are never seen in any form;
* test: every test input against Expert C at 512 px with ``trainer.eval_cli.evaluate_pairs`` (the code path of
  ``autoretouch eval``): identity (doing nothing), the auto baseline and the learned style (its held-out-selected
  checkpoint, as installed); for paired styles also the nearest-edits baseline and the agent alone (the style
  as installed mixes the two, ``restore.nearest_blend``), for styles with a prior the agent alone too (the style
  as installed mixes it with the prior, ``restore.prior_share``). ``--eval-only`` re-evaluates the styles of an earlier
  run (``--blend S`` overrides the stored share of the nearest edits or of the prior, ``--mix-k K`` how many nearest examples are mixed in, 0 = all,
  ``--mix-centre mean|median`` how all of them are combined).

Prints one row per fold x seed (mean PSNR of identity, auto, style; the style's gain over identity; the worst
photo's gain) and the summary: mean +- sd of the gain over the runs and the worst run. ``--long-minutes M`` adds
one run per fold of M minutes (seed 0). ``--train-size N`` trains on only N of each fold's training photos (a
learning curve: the first N of a permutation seeded by fold and seed, so that the sizes nest; the test photos
are the same 8).

    python bench/bench_fivek_cv.py --minutes 5 --threads 1 --parallel 2 --sources none
    python bench/bench_fivek_cv.py --minutes 5 --threads 1 --parallel 2 --sources inputs
    python bench/bench_fivek_cv.py --minutes 3 --threads 1 --parallel 2 --sources pairs
    python bench/bench_fivek_cv.py --steps 1000 --seeds 0,1 --sources pairs --train-size 8
    python bench/bench_fivek_cv.py --minutes 0.2 --seeds 0 --folds 1      # smoke test
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import REPO, link_photos  # first: it puts the repository on sys.path

DATA = REPO.parent / "shared" / "data" / "fivek_pairs"


def folds(dev: bool = False) -> list[tuple[list[dict[str, str]], list[dict[str, str]]]]:
    """(train rows, test rows) per fold, from the manifest and a fixed permutation.

    ``dev``: the development split instead: 4 inner folds (12 train / 4 test) of fold 0's 16 training photos,
    which never touch fold 0's test photos (used to choose the training recipe).
    """
    rows = list(csv.DictReader((DATA / "manifest.csv").open(encoding="utf-8")))
    order = list(range(len(rows)))
    random.Random(2026).shuffle(order)
    size, k = len(rows) // 3, 3
    if dev:
        fold0 = set(order[:size])
        order = [i for i in order if i not in fold0]
        size, k = len(order) // 4, 4
    out = []
    for f in range(k):
        test = set(order[f * size : (f + 1) * size])
        out.append(([rows[i] for i in order if i not in test], [rows[i] for i in sorted(test)]))
    return out


def training_subset(rows: list[dict[str, str]], size: int, fold: int, seed: int) -> list[dict[str, str]]:
    """The first ``size`` training rows of a permutation seeded by fold and seed (sizes nest: 4 of the 8, ...)."""
    if not 0 < size <= len(rows):
        raise SystemExit(f"--train-size must be 1..{len(rows)}, got {size}")
    order = list(range(len(rows)))
    random.Random(1000 * fold + seed).shuffle(order)
    return [rows[i] for i in sorted(order[:size])]


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one fold x seed in-process and evaluate it (called in a child process)."""
    import torch

    torch.set_num_threads(job["threads"])
    from backend.agent.style import load_style
    from trainer.config import load_config
    from trainer.train import train

    work = Path(job["work"])
    train_rows, test_rows = folds(job["dev"])[job["fold"]]
    if job.get("train_size"):
        train_rows = training_subset(train_rows, job["train_size"], job["fold"], job["seed"])
    if job.get("eval_only"):
        before = json.loads((work / "result.json").read_text(encoding="utf-8"))
        style = load_style(work / "run" / "style" / f"cv{job['fold']}s{job['seed']}.safetensors")
        return before | {
            "photos": _evaluate(style, test_rows, job.get("blend"), job.get("mix_k"), job.get("mix_centre"))
        }
    targets = link_photos(work / "targets", [DATA / r["expertC"] for r in train_rows])
    sources = (
        link_photos(work / "sources", [DATA / r["input"] for r in train_rows]) if job["sources"] == "inputs" else None
    )
    pairs = None
    if job["sources"] == "pairs":
        pairs = (link_photos(work / "before", [DATA / r["input"] for r in train_rows]), targets)
    budget = [f"run.minutes={job['minutes']}", "run.steps=1000000"]
    if job.get("steps"):  # a step budget instead: the same training whatever the machine's load
        budget = ["run.minutes=0", f"run.steps={job['steps']}"]
    overrides = [*job["overrides"], *budget, f"run.seed={job['seed']}"]
    overrides += [f"run.threads={job['threads']}", f"run.style=cv{job['fold']}s{job['seed']}"]
    cfg = load_config(job.get("config"), overrides)
    start = time.perf_counter()
    result = train(
        cfg,
        targets=None if pairs else targets,
        sources=sources,
        pairs=pairs,
        run_dir=work / "run",
        install_dir=None,
    )
    seconds = time.perf_counter() - start
    style = load_style(result.style_path)
    per = _evaluate(style, test_rows, job.get("blend"), job.get("mix_k"), job.get("mix_centre"))
    return {
        "fold": job["fold"],
        "seed": job["seed"],
        "minutes": job["minutes"],
        "steps": result.step,
        "train_seconds": seconds,
        "held_out_gain": result.metrics.get("val_gain_db"),
        "rejected": result.rejected,
        "photos": per,
    }


def _evaluate(
    style: Any,
    test_rows: list[dict[str, str]],
    blend: float | None,
    mix_k: int | None = None,
    mix_centre: str | None = None,
) -> list[dict[str, Any]]:
    """Per test photo: PSNR of identity, auto, (nearest edits,) the style as installed, and its agent alone.

    ``blend`` overrides the nearest-edits share stored with a paired style (the prior's share with a style
    learnt from favourites), ``mix_k`` the number of nearest
    examples mixed in (0: all; ``None``: as stored), ``mix_centre`` how all of them are combined (``"mean"`` or
    ``"median"``; ``None``: as stored).
    """
    import dataclasses

    from trainer.eval_cli import Pair, evaluate_pairs

    pairs = [Pair(r["fivek_name"], DATA / r["input"], DATA / r["expertC"]) for r in test_rows]
    overrides = {k: v for k, v in (("blend", blend), ("mix_k", mix_k), ("mix_centre", mix_centre)) if v is not None}
    if style.examples is not None and overrides:
        style = dataclasses.replace(style, examples={**style.examples, **overrides})
    if style.prior is not None and blend is not None:  # a favourites style: the prior's share instead
        style = dataclasses.replace(style, prior_share=blend)
    ev = evaluate_pairs(pairs, [(style, 1.0)], size=512)
    per = [{"name": p["name"], **{m: p["metrics"][m]["psnr"] for m in ev.methods}} for p in ev.per_photo]
    if style.examples is not None or style.prior is not None:  # the learnt agent without what it is mixed with
        agent = dataclasses.replace(style, examples=style.examples and {**style.examples, "blend": 0.0}, prior=None)
        alone = evaluate_pairs(pairs, [(agent, 1.0)], size=512)
        for row, p in zip(per, alone.per_photo, strict=True):
            row["agent"] = p["metrics"]["style"]["psnr"]
    return per


def _spawn(job: dict[str, Any]) -> dict[str, Any]:
    out = Path(job["work"]) / "result.json"
    Path(job["work"]).mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--job", json.dumps(job)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"job {job['fold']}/{job['seed']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def _row(r: dict[str, Any]) -> tuple[str, float, float, float]:
    ph = r["photos"]
    names = ("identity", "auto", "nearest", "agent", "style")
    mean = {m: statistics.mean(p.get(m, math.nan) for p in ph) for m in names}
    gain = mean["style"] - mean["identity"]
    worst = min(p["style"] - p["identity"] for p in ph)
    line = (
        f"| {r['fold']} | {r['seed']} | {r['minutes']:g} | {r['steps']} | {mean['identity']:.2f} | {mean['auto']:.2f} "
        f"| {mean['nearest']:.2f} | {mean['agent']:.2f} | {mean['style']:.2f} | {gain:+.2f} | {worst:+.2f} "
        f"| {r['held_out_gain']:+.2f} |"
    )
    return line, gain, mean["style"], mean["nearest"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--job", help=argparse.SUPPRESS)
    p.add_argument("--minutes", type=float, default=5.0, help="training minutes per run")
    p.add_argument("--long-minutes", type=float, default=0.0, help="also one run per fold of this many minutes")
    p.add_argument(
        "--steps", type=int, default=0, help="bound each run by this many steps instead of --minutes (0: minutes)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--parallel", type=int, default=2, help="runs side by side")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--folds", type=int, default=0, help="how many folds to run (default: all)")
    p.add_argument(
        "--train-size", type=int, default=0, help="train on only this many of each fold's training photos (0: all)"
    )
    p.add_argument("--dev", action="store_true", help="the development split (inner folds of fold 0's training photos)")
    p.add_argument("--sources", choices=("none", "inputs", "pairs"), default="none")
    p.add_argument("--config", help="experiment configuration (TOML)")
    p.add_argument("--set", action="append", default=[], dest="overrides", help="config override (repeatable)")
    p.add_argument("--work", type=Path, default=REPO / "runs" / "bench_fivek_cv", help="work folder")
    p.add_argument("--label", default="", help="name of this configuration (work sub-folder)")
    p.add_argument("--json", type=Path, help="write every result to this JSON file")
    p.add_argument("--eval-only", action="store_true", help="re-evaluate the styles of an earlier run (same --label)")
    p.add_argument(
        "--blend", type=float, help="override the styles' nearest-edits share (pairs) or prior share (favourites)"
    )
    p.add_argument(
        "--mix-k", type=int, help="with --sources pairs: override how many nearest examples the styles mix in (0: all)"
    )
    p.add_argument(
        "--mix-centre",
        choices=("mean", "median"),
        help="with --sources pairs: override how the styles combine all their examples (when mix_k takes them all)",
    )

    args = p.parse_args()
    if args.steps and args.long_minutes:
        p.error("--long-minutes needs the minutes budget; leave out --steps")
    if args.train_size and not 0 < args.train_size <= len(folds(args.dev)[0][0]):
        p.error(f"--train-size must be 1..{len(folds(args.dev)[0][0])}")
    if args.job:
        job = json.loads(args.job)
        out = run_job(job)
        (Path(job["work"]) / "result.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
        return 0
    jobs = []
    budget = f"{args.steps}st" if args.steps else f"{args.minutes:g}m"
    size = f"-n{args.train_size}" if args.train_size else ""
    tag = f"{'dev-' if args.dev else ''}{args.sources}-{budget}{size}{'-' + args.label if args.label else ''}"
    for fold in range(args.folds or len(folds(args.dev))):
        for seed in (int(s) for s in args.seeds.split(",")):
            jobs.append((fold, seed, args.minutes))
        if args.long_minutes > 0:
            jobs.append((fold, 0, args.long_minutes))
    specs = [
        {
            "fold": f,
            "seed": s,
            "minutes": m,
            "threads": args.threads,
            "sources": args.sources,
            "dev": args.dev,
            "overrides": args.overrides,
            "config": args.config,
            "work": str(args.work / tag / f"f{f}s{s}m{m:g}"),
            "eval_only": args.eval_only,
            "steps": args.steps,
            "blend": args.blend,
            "mix_k": args.mix_k,
            "mix_centre": args.mix_centre,
            "train_size": args.train_size,
        }
        for f, s, m in jobs
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(_spawn, specs))
    split = (
        "development split: 4 inner folds of fold 0's training photos (12 / 4)" if args.dev else "3-fold CV (16 / 8)"
    )
    if args.train_size:
        split += f", trained on {args.train_size} of each fold's training photos"
    print(
        f"\nFiveK Expert C, {split}, sources: {args.sources}; {args.threads} thread(s) per run, "
        f"{args.parallel} runs side by side; wall {time.perf_counter() - start:.0f} s\n"
    )
    print(
        "| fold | seed | min | steps | identity | auto | nearest edits | agent alone | style | gain | worst photo "
        "| held-out gain (train) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    gains, styles, nearest = [], [], []
    for r in results:
        line, gain, style, near = _row(r)
        print(line)
        if r["minutes"] == args.minutes:
            gains.append(gain)
            styles.append(style)
            nearest.append(near)
    if gains:
        sd = statistics.stdev(gains) if len(gains) > 1 else 0.0
        ssd = statistics.stdev(styles) if len(styles) > 1 else 0.0
        print(
            f"\n{len(gains)} runs of {args.minutes:g} min: style {statistics.mean(styles):.2f} ± {ssd:.2f} dB, gain over "
            f"identity {statistics.mean(gains):+.2f} ± {sd:.2f} dB (mean ± sd), worst run {min(gains):+.2f} dB"
        )
        if not any(math.isnan(v) for v in nearest):
            beats = sum(s > n for s, n in zip(styles, nearest, strict=True))
            print(
                f"nearest edits {statistics.mean(nearest):.2f} dB; the style beats it in {beats} of {len(gains)} runs"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
