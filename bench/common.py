"""Helpers shared by the bench scripts (``python bench/NAME.py`` puts this folder first on ``sys.path``).

Importing it puts the repository (:data:`REPO`) on ``sys.path`` too, so a script imports it before ``backend``,
``trainer`` or ``testing``.

* photos: :func:`downscale_png16` (a photo as a 16-bit sRGB PNG at a long side), :func:`link_photos`;
* darktable: :func:`darktable_xmp` (the sidecar text our translator writes), :func:`photo_long_side`;
* training: :func:`add_run_options` / :func:`add_style_options` (the options the training benches share),
  :func:`add_threads_option` (``--threads`` alone), :func:`parse_run_args` (parse them, ``--threads`` applied),
  :func:`train_style` (``autoretouch train`` in a subprocess), :func:`link_training_photos`, :func:`bench_style`
  (``--style-dir``'s style, else a trained one), :func:`find_style`;
* evaluation: :func:`evaluate_style` (``evaluate_pairs`` + contact sheet), :func:`markdown_rows` under
  :data:`TABLE_HEAD`, :func:`report_progress`, :func:`style_gain`, :func:`print_report` (the report),
  :func:`write_numbers` (``--json``'s file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

#: The repository's root.
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.sidecar.darktable_xmp import new_darktable_xmp, xmp_to_string  # noqa: E402
from backend.translate.darktable import recipe_to_history  # noqa: E402

if TYPE_CHECKING:
    from trainer.eval_cli import EvalResult, Pair

#: The header of the markdown table :func:`markdown_rows` fills.
TABLE_HEAD = ["| method | PSNR (dB) | SSIM | ΔE00 | ΔE76 | test set |", "|---|---:|---:|---:|---:|---|"]

#: Table labels of the baselines every ``evaluate_pairs`` run reports.
BASELINE_LABELS = {"identity": "identity (input)", "auto": "auto (grey world + mid grey)"}


# -- photos ----------------------------------------------------------------------------------------------------


def downscale_png16(source: Path, long_side: int, target: Path) -> bool:
    """Write ``source`` downscaled to ``long_side`` px (INTER_AREA on the sRGB values) as a 16-bit PNG.

    Photos already at most ``long_side`` px are only converted to 16 bits. Returns ``False`` (and says so on
    stderr) when OpenCV cannot read ``source``.
    """
    img = cv2.imread(str(source), cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if img is None:
        print(f"skip unreadable {source}", file=sys.stderr)
        return False
    scale = 65535.0 / (65535.0 if img.dtype == np.uint16 else 255.0)
    h, w = img.shape[:2]
    f = long_side / max(h, w)
    if f < 1:
        img = cv2.resize(img.astype(np.float32), (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(target), np.clip(np.round(img.astype(np.float64) * scale), 0, 65535).astype(np.uint16))
    return True


def write_baseline_jpegs(pixels: np.ndarray, base12: Path, base24: Path) -> None:
    """Write a photo as a camera would: a baseline JPEG (quality 92) at its own size and a 24-MP cubic upscale.

    Args:
        pixels: ``(H, W, 3)`` uint8 BGR, as OpenCV reads it.
        base12: the re-encode at the photo's own size (12 MP for the FiveK full-resolution JPEGs).
        base24: the upscale to 24 MP (aspect kept).
    """
    cv2.imwrite(str(base12), pixels, [cv2.IMWRITE_JPEG_QUALITY, 92])
    h, w = pixels.shape[:2]
    scale = (24e6 / (w * h)) ** 0.5
    big = cv2.resize(pixels, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(base24), big, [cv2.IMWRITE_JPEG_QUALITY, 92])


def link_photos(folder: Path, files: Sequence[Path], prefix: str = "", numbered: bool = False) -> Path:
    """Fill ``folder`` (created, emptied of links) with symbolic links to ``files`` (names prefixed).

    With ``numbered``, each name starts with the file's index too (``000_``, ``001_``, ...), for files from
    several folders whose names may clash.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_symlink():
            old.unlink()
    for i, f in enumerate(files):
        number = f"{i:03d}_" if numbered else ""
        (folder / f"{number}{prefix}{f.name}").symlink_to(f.resolve())
    return folder


def photo_long_side(photo: Path) -> int:
    """The longer side of ``photo`` in pixels (as OpenCV reads it)."""
    return max(cv2.imread(str(photo), cv2.IMREAD_UNCHANGED).shape[:2])


def darktable_xmp(recipe: Any, long_side_px: int) -> str:
    """The darktable sidecar text our translator writes for ``recipe`` (a Recipe or settings), non-raw photo."""
    entries = recipe_to_history(recipe, is_raw=False, long_side_px=long_side_px)
    return xmp_to_string(new_darktable_xmp(entries, is_raw=False))


# -- training --------------------------------------------------------------------------------------------------


def add_run_options(parser: argparse.ArgumentParser, run_dir: Path) -> None:
    """``--steps`` | ``--minutes``, ``--threads`` and ``--run-dir`` (default ``run_dir``)."""
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="generator steps (default: the config's)")
    length.add_argument("--minutes", type=float, help="stop training after M minutes")
    add_threads_option(parser, None, "torch CPU threads (train and eval)")
    parser.add_argument("--run-dir", type=Path, default=run_dir)


def add_style_options(parser: argparse.ArgumentParser, style_dir_help: str) -> None:
    """``--set KEY=VALUE`` (repeatable), ``--style-dir`` (evaluate only) and ``--json FILE``."""
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="train config override")
    parser.add_argument("--style-dir", type=Path, help=style_dir_help)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")


def add_threads_option(parser: argparse.ArgumentParser, default: int | None, help_text: str | None = None) -> None:
    """``--threads N`` (default ``default``): the torch CPU threads :func:`parse_run_args` sets."""
    parser.add_argument("--threads", type=int, default=default, help=help_text)


def parse_run_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` with ``parser``; a given ``--threads`` (:func:`add_run_options`) also sets torch's threads.

    Without ``--threads`` torch keeps its default thread count in this process.
    """
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return args


def train_style(
    *,
    name: str,
    targets: Path | None,
    sources: Path | None,
    run_dir: Path,
    run: argparse.Namespace,
    overrides: Sequence[str] = (),
    darktable: Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run ``autoretouch train`` in a subprocess; returns ``(style weights path, the train summary JSON)``.

    The training data: ``targets`` (and ``sources``), or ``darktable`` (a folder of photos with sidecars; then
    ``targets`` is not used). ``run`` holds the parsed :func:`add_run_options` (``steps``, ``minutes``,
    ``threads``); ``run_dir`` is the training's own folder.
    """
    data = ["--targets", str(targets)] if darktable is None else ["--darktable", str(darktable)]
    cmd = [sys.executable, "-m", "backend.cli.main", "train", "--style", name, *data]
    cmd += ["--run-dir", str(run_dir), "--no-install", "--json", "--quiet"]
    if sources is not None:
        cmd += ["--sources", str(sources)]
    if run.steps is not None:
        cmd += ["--steps", str(run.steps)]
    if run.minutes is not None:
        cmd += ["--minutes", str(run.minutes)]
    if run.threads:
        cmd += ["--threads", str(run.threads)]
    for o in overrides:
        cmd += ["--set", o]
    print("$ " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"autoretouch train failed with status {proc.returncode}")
    summary = json.loads(proc.stdout)
    print(
        f"trained {summary['steps']} steps in {time.perf_counter() - start:.0f} s (stopped by {summary['stopped_by']})"
    )
    return Path(summary["style_path"]), summary


def link_training_photos(
    data: Path, target_files: Sequence[Path], source_files: Sequence[Path], numbered_sources: bool = False
) -> tuple[Path, Path | None]:
    """Link the favourites into ``data/targets`` and the sources into ``data/sources`` (:func:`link_photos`).

    Returns:
        ``(targets folder, sources folder)``; no sources folder (``None``) when ``source_files`` is empty.
    """
    targets = link_photos(data / "targets", target_files)
    sources = link_photos(data / "sources", source_files, numbered=numbered_sources) if source_files else None
    return targets, sources


def bench_style(
    args: argparse.Namespace,
    *,
    name: str,
    target_files: Sequence[Path],
    source_files: Sequence[Path],
    numbered_sources: bool = False,
    darktable: Path | None = None,
    overrides: Sequence[str] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """The style a bench evaluates: ``--style-dir``'s, else one :func:`train_style` trains in ``--run-dir``.

    Args:
        args: the parsed :func:`add_run_options` and :func:`add_style_options`.
        name: the trained style's name.
        target_files: the favourites, linked into ``RUN_DIR/data/targets``.
        source_files: the sources, linked into ``RUN_DIR/data/sources`` (none when empty).
        numbered_sources: number the sources' links (files from several folders).
        darktable: train from this folder of photos with darktable sidecars instead of the favourites.
        overrides: train config overrides (default: ``--set``'s).

    Returns:
        ``(style weights path, train summary)``; the summary is ``{}`` for ``--style-dir``.
    """
    if args.style_dir is not None:
        return find_style(args.style_dir), {}
    run_dir = args.run_dir.resolve()
    targets, sources = link_training_photos(run_dir / "data", target_files, source_files, numbered_sources)
    return train_style(
        name=name,
        targets=targets,
        sources=sources,
        darktable=darktable,
        run_dir=run_dir,
        run=args,
        overrides=args.overrides if overrides is None else overrides,
    )


def find_style(path: Path) -> Path:
    """A style's weights file from a ``.safetensors`` path or a folder holding exactly one style."""
    if path.is_file():
        return path
    found = sorted(path.glob("*.safetensors"))
    if len(found) != 1:
        raise SystemExit(f"{path}: expected one NAME.safetensors, found {len(found)}")
    return found[0]


# -- evaluation ------------------------------------------------------------------------------------------------


def report_progress(row: dict[str, Any]) -> None:
    """Print one evaluated photo's PSNR per method."""
    scores = "  ".join(f"{m} {v['psnr']:.2f}" for m, v in row["metrics"].items())
    print(f"  {row['name']}: PSNR {scores}", flush=True)


def evaluate_style(
    pairs: Sequence[Pair], style: Any, size: int, sheet: Path, fixed: Mapping[str, Any] | None = None
) -> EvalResult:
    """``evaluate_pairs`` of ``style`` at full strength (progress on stdout), then the contact sheet ``sheet``.

    Args:
        pairs: the test pairs.
        style: the loaded style.
        size: evaluation long side in pixels.
        sheet: where the contact sheet (6 photos) goes; its folder is created.
        fixed: extra methods scored beside the style (name -> recipe), e.g. an oracle.

    Raises:
        SystemExit: no photo could be evaluated.
    """
    from trainer.eval_cli import evaluate_pairs, write_eval_sheet

    result = evaluate_pairs(
        pairs,
        [(style, 1.0)],
        size=size,
        fixed=fixed,
        sheet_photos=6,
        on_error=lambda where, msg: print(f"error: {msg}", file=sys.stderr),
        on_photo=report_progress,
    )
    if not result.per_photo:
        raise SystemExit("no photo could be evaluated")
    sheet.parent.mkdir(parents=True, exist_ok=True)
    write_eval_sheet(result, sheet)
    return result


def fmt(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals; ``–`` for ``None``, ``inf`` for infinity."""
    if value is None:
        return "–"
    return "inf" if value == float("inf") else f"{value:.{digits}f}"


def markdown_rows(result: EvalResult, labels: Mapping[str, str], protocol: str) -> list[str]:
    """One markdown row per method of ``result``: label | PSNR | SSIM | ΔE00 | ΔE76 | protocol."""
    rows = []
    for m in result.methods:
        s = result.summary()[m]
        rows.append(
            f"| {labels.get(m, m)} | {fmt(s['psnr'], 2)} | {fmt(s['ssim'], 4)} | {fmt(s['delta_e00'], 2)} "
            f"| {fmt(s['delta_e76'], 2)} | {protocol} |"
        )
    return rows


def style_gain(result: EvalResult) -> float:
    """The learned style's PSNR over the identity's in ``result``, in dB (pooled PSNR, as the table reports it)."""
    return result.score("style", "psnr") - result.score("identity", "psnr")


def print_report(result: EvalResult, labels: Mapping[str, str], protocol: str, notes: Sequence[str]) -> None:
    """Print a bench's report: the markdown table of ``result`` and ``notes`` under it.

    Args:
        result: the evaluation of the learned style beside its baselines.
        labels: the table's row label of each method (:func:`markdown_rows` under :data:`TABLE_HEAD`).
        protocol: the table's test-set column.
        notes: the report's lines under the table's rows.
    """
    print("\n".join(["", *TABLE_HEAD, *markdown_rows(result, labels, protocol), *notes]))


def write_numbers(
    args: argparse.Namespace, result: EvalResult, bench: str, train: Mapping[str, Any], **extra: Any
) -> None:
    """With ``--json`` (``args.json``), write a style bench's numbers there; without it, nothing.

    The JSON file holds ``result_to_json(result)`` with ``bench``, ``sources`` (``args.sources``), ``train``,
    ``gain_db`` (:func:`style_gain`) and the keys of ``extra`` added (indented, trailing newline).

    Args:
        args: the parsed options (``json``, ``sources``).
        result: the evaluation of the learned style beside its baselines.
        bench: the bench's name.
        train: the training summary (:func:`bench_style`'s).
        **extra: more keys.
    """
    if args.json is None:
        return
    from trainer.eval_cli import result_to_json

    numbers = {"bench": bench, "sources": args.sources, "train": train, "gain_db": style_gain(result), **extra}
    args.json.write_text(json.dumps(result_to_json(result) | numbers, indent=2) + "\n", encoding="utf-8")
