"""FiveK Expert C, unpaired: train a style on Expert C's retouches, score it on the inputs against Expert C.

Protocol (``../shared/data/fivek_pairs``: 24 photos, as-shot sRGB inputs and Expert C's retouches, 512 px):

* **targets** (the favourites): Expert C's images. By default all 24 (the issue's protocol: the style is learnt
  from Expert C's look, the test photos' own retouches included, but never paired with their inputs); with
  ``--holdout K`` the K test photos are removed from the targets (and from the sources), so the test photos are
  never seen in any form.
* **sources** (the photos to retouch, ``--sources``):
  - ``other`` (default): photos other than the 24: ``fivek_extra/exposure_correction`` (14 FiveK photos
    rendered at -1.5..+1.5 EV), ``fivek_extra/3dlut`` (2 FiveK inputs), ``fivek_extra/fullres`` (3 FiveK
    inputs), ``kodak24`` (24) and ``mcmaster`` (18), 61 photos;
  - ``fivek-other``: only the 19 FiveK photos of ``fivek_extra`` (closest to the test inputs' look);
  - ``fivek-inputs``: the inputs of the training photos themselves (transductive: unpaired training never
    pairs an input with its retouch; with ``--holdout`` the test inputs are left out);
  - ``unedit``: no ``--sources``: the trainer's built-in pool of randomly un-edited targets.
* **test**: every input (or the K held out) against Expert C at ``--size`` (512) px, with
  ``trainer.eval_cli.evaluate_pairs`` (same code path as ``autoretouch eval``): identity, the auto baseline
  (grey-world white balance + mid-grey exposure) and the learned style.

Prints a markdown table beside the published unpaired numbers of ``../shared/reference/anchors.md`` §5.1/§5.2
(other test sets of 500 photos and other resolutions: context, not a like-for-like comparison) and the
verdict "style - identity >= 2 dB PSNR". Training runs ``autoretouch train`` in a subprocess (``--no-install``);
the style stays in ``RUN_DIR/style/``.

    python bench/bench_fivek_unpaired.py --minutes 60 --threads 2           # the real run
    python bench/bench_fivek_unpaired.py --steps 20 --limit 4               # smoke test (seconds)
    python bench/bench_fivek_unpaired.py --style-dir runs/fivek_expertc_bench/style   # evaluate only
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from common import (  # first: it puts the repository on sys.path
    BASELINE_LABELS,
    REPO,
    add_run_options,
    add_style_options,
    bench_style,
    evaluate_style,
    fmt,
    parse_run_args,
    print_report,
    style_gain,
    write_numbers,
)

from backend.agent.style import load_style
from trainer.data.folders import list_photos
from trainer.eval_cli import Pair, find_pairs

DATA = REPO.parent / "shared" / "data"
FIVEK = DATA / "fivek_pairs"
STYLE_NAME = "fivek_expertc_bench"
TARGET_GAIN_DB = 2.0

SOURCE_SETS: dict[str, tuple[Path, ...]] = {
    "other": (
        DATA / "fivek_extra" / "exposure_correction",
        DATA / "fivek_extra" / "3dlut",
        DATA / "fivek_extra" / "fullres",
        DATA / "kodak24",
        DATA / "mcmaster",
    ),
    "fivek-other": (
        DATA / "fivek_extra" / "exposure_correction",
        DATA / "fivek_extra" / "3dlut",
        DATA / "fivek_extra" / "fullres",
    ),
}

#: Published unpaired FiveK Expert C numbers (anchors.md §5.1 Zeng et al. 480p; §5.2 UEGAN table, 512 px).
#: (method, PSNR, SSIM, ΔE as published or None, protocol)
PUBLISHED: tuple[tuple[str, float, float, float | None, str], ...] = (
    ("Camera Raw Auto", 21.61, 0.854, 11.83, "Zeng 3D-LUT table, 500 test, 480p"),
    ("CycleGAN", 20.98, 0.831, 13.28, "Zeng 3D-LUT table, 500 test, 480p"),
    ("White-Box / Exposure (retrained)", 21.32, 0.864, 12.65, "Zeng 3D-LUT table, 500 test, 480p"),
    ("DPE (unpaired)", 21.99, 0.875, 11.40, "Zeng 3D-LUT table, 500 test, 480p"),
    ("Kosugi & Yamasaki (UIE)", 22.11, 0.879, 11.21, "Zeng 3D-LUT table, 500 test, 480p"),
    ("3D-LUT unpaired", 22.86, 0.887, 10.28, "Zeng 3D-LUT table, 500 test, 480p"),
    ("input (identity)", 17.42, 0.8037, None, "UEGAN table, 500 test, 512 px"),
    ("Exposure (released model)", 19.74, 0.8442, None, "UEGAN table, 500 test, 512 px"),
    ("DPE (released model)", 22.36, 0.8674, None, "UEGAN table, 500 test, 512 px"),
    ("UEGAN", 22.88, 0.8882, None, "UEGAN table, 500 test, 512 px"),
)


# -- the benchmark -------------------------------------------------------------------------------------------


def _split(pairs: list[Pair], holdout: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    if holdout <= 0:
        return pairs, pairs
    if holdout >= len(pairs):
        raise SystemExit(f"--holdout {holdout} leaves no training photo out of {len(pairs)}")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    test = sorted(order[:holdout])
    return [p for i, p in enumerate(pairs) if i not in test], [pairs[i] for i in test]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_options(parser, REPO / "runs" / STYLE_NAME)
    parser.add_argument("--sources", choices=[*SOURCE_SETS, "fivek-inputs", "unedit"], default="other")
    parser.add_argument("--holdout", type=int, default=0, help="test on K photos kept out of training entirely")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --holdout split")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs (smoke tests)")
    parser.add_argument("--size", type=int, default=512, help="evaluation long side in pixels")
    add_style_options(parser, "evaluate this trained style (folder or .safetensors) only")
    args = parse_run_args(parser, argv)

    pairs, _ = find_pairs(FIVEK / "input", FIVEK / "expertC")
    if args.limit:
        pairs = pairs[: args.limit]
    train_pairs, test_pairs = _split(pairs, args.holdout, args.seed)
    run_dir = args.run_dir.resolve()
    if args.sources in SOURCE_SETS:
        source_files = [f for d in SOURCE_SETS[args.sources] for f in list_photos(d)]
        if args.limit:
            source_files = source_files[:: max(1, len(source_files) // max(args.limit, 8))]
        source_note = (
            f"{len(source_files)} other photos ({args.sources}: {', '.join(d.name for d in SOURCE_SETS[args.sources])})"
        )
    elif args.sources == "fivek-inputs":
        source_files = [p.input for p in train_pairs]
        source_note = f"the {len(source_files)} training inputs (unpaired)"
    else:
        source_files = []
        source_note = "built-in un-edit pool of the targets"
    held = "held out of training" if args.holdout else "their retouches are among the targets, never paired"
    print(f"targets: Expert C of {len(train_pairs)} photos; sources: {source_note}")
    print(f"test: {len(test_pairs)} inputs vs Expert C at {args.size} px ({held})", flush=True)

    style_path, train_summary = bench_style(
        args,
        name=STYLE_NAME,
        target_files=[p.reference for p in train_pairs],
        source_files=source_files,
        numbered_sources=True,
    )
    style = load_style(style_path)
    print(f"evaluating {style_path}", flush=True)
    sheet = run_dir / "bench_fivek_sheet.png"
    result = evaluate_style(test_pairs, style, args.size, sheet)

    ours = f"this run: {len(result.per_photo)} FiveK pairs, {args.size} px"
    labels = {**BASELINE_LABELS, "style": f"learned style ({style.name})"}
    notes = [
        f"| *{name}* | {p:.2f} | {s:.4f} | – | {fmt(de, 2)}{'†' if de else ''} | *published: {proto}* |"
        for name, p, s, de, proto in PUBLISHED
    ]
    gain = style_gain(result)  # as the table: PSNR pooled
    verdict = "PASS" if gain >= TARGET_GAIN_DB else "FAIL"
    notes += [
        "",
        "Published rows are other test sets (500 photos), splits and resolutions: context, not a like-for-like",
        "comparison (anchors.md §5). † ΔE as published (a Lab distance; definitions differ between papers).",
        "Ours: PSNR/SSIM on 8-bit sRGB (SSIM per R,G,B channel, averaged), ΔE00 / ΔE76 in CIELAB (D65).",
        "",
        f"**style vs identity: {gain:+.2f} dB PSNR (target >= {TARGET_GAIN_DB:.0f} dB): {verdict}**",
        f"contact sheet: {sheet}",
    ]
    print_report(result, labels, ours, notes)
    write_numbers(args, result, "fivek_unpaired", train_summary, holdout=args.holdout, verdict=verdict)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
