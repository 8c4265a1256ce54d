"""Speed of the render path: decode (full and preview), render a typical recipe, encode.

Inputs: every photo in ``../shared/data/raw`` and ``../shared/data/exposure_samples`` (skipped when
missing) and synthetic 1, 12 and 24 MP photos generated into a temporary folder: a bare JPEG (no
metadata), a camera-style JPEG (the same picture with a 160 px EXIF thumbnail in APP1, as cameras write
them; the preview path ignores the thumbnail, so both cost the same) and a 16-bit TIFF.
Each timing is the best of ``--repeat`` runs, in milliseconds, with ``torch.set_num_threads(--threads)``.

Columns:
    decode   full-resolution decode to linear Rec.2020 (``decode_image``)
    preview  the preview path at the size ``suggest`` and the catalog batch decode
             (``decode_preview(long_side=PREVIEW_LONG_SIDE)``, 128 px): for a JPEG libjpeg's DCT-domain reduction
             of its own pixels (a camera JPEG's thumbnail is not used: it may be stale), for a raw its embedded
             camera preview when one is large enough
    pv512    the preview path at 512 px (``render --preview``'s default), and
    pv-rend  rendering the typical recipe on that 512-px preview
    render   the typical recipe at full resolution, as ``autoretouch render`` does it (float32,
             ``torch.inference_mode``, the inference fast path, per-pixel stages in place on bands of
             ``pipeline.BAND_PIXELS`` run by ``--threads`` workers, ``pipeline.tune_allocator()`` unless
             ``--no-tune``)
    jpg/tif  encode the rendered image (sRGB JPEG q95 / 16-bit TIFF, written to a temp file)
    peak MB  extra resident memory while rendering, beyond the decoded image (Linux VmHWM; "-" elsewhere)

Targets: preview <= 30 ms on a 12-MP JPEG; full 24-MP render <= 1.5 s (2 threads).

``--cpu`` also prints single-thread CPU time per megapixel (``time.process_time``), per stage and for the
whole banded render, on the 1-MP synthetic JPEG and each ``--cpu-photo``: a measure that holds up when
other processes load the machine (wall times then inflate).

    python bench/bench_render.py                 # everything
    python bench/bench_render.py --sizes 24 --stages --sliders   # where the time goes at 24 MP
    python bench/bench_render.py --no-shared --sizes 1 --cpu     # CPU ms/MP per stage, 1 thread
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
import torch

from backend.agent.thumbnail import PREVIEW_LONG_SIDE
from backend.decode import decode_image, decode_preview
from backend.encode import write_image
from backend.errors import AutoretouchError
from backend.recipe import Recipe
from backend.render.pipeline import STAGES, apply_slider, prepare_settings, render, render_banded, tune_allocator
from backend.sliders.catalog import CATALOG, STAGE_ORDER, iter_sliders
from testing.fixtures import make_camera_jpeg

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SHARED_DIRS = ("raw", "exposure_samples")
SKIP_SUFFIXES = {".txt", ".md", ".csv", ".json", ".xmp"}

PREVIEW_TARGET_MS = 30.0
RENDER_24MP_TARGET_MS = 1500.0

#: The "typical recipe" of the targets: global sliders a style usually sets.
TYPICAL = Recipe.from_dict(
    {
        "version": 1,
        "steps": [
            {"slider": "exposure", "value": 0.4},
            {"slider": "contrast", "value": 20},
            {"slider": "shadows", "value": 25},
            {"slider": "highlights", "value": -30},
            {"slider": "vibrance", "value": 20},
            {"slider": "tone_curve", "value": [0.0, 0.014, 0.0684, 0.214, 0.4623, 0.742, 1.0]},
            {"slider": "temperature", "value": 10},
        ],
    },
    source="typical recipe",
)


@dataclass
class Row:
    """One line of the table (times in ms; ``None`` = not measured)."""

    name: str
    mp: float = math.nan
    decode: float | None = None
    preview: float | None = None
    preview512: float | None = None
    preview_size: str = ""
    preview_render: float | None = None
    render: float | None = None
    jpg: float | None = None
    tif: float | None = None
    peak_mb: float | None = None
    note: str = ""


def best_ms(fn: Callable[[], object], repeat: int, budget_s: float = 5.0) -> float:
    """Best wall time of up to ``repeat`` calls, in ms (no further call once ``budget_s`` is spent)."""
    best = math.inf
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return best * 1000.0


def _reset_peak() -> bool:
    """Return freed heap memory to the OS and reset the process's peak RSS (Linux); False elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _time_render(image: torch.Tensor, settings: dict[str, torch.Tensor], repeat: int, row: Row) -> torch.Tensor:
    """Fill ``row.render`` (best of the runs) and ``row.peak_mb``; returns the rendered image.

    Renders as ``autoretouch render`` does: :func:`render_banded` in place on the decoded image, bands on
    ``torch.get_num_threads()`` workers. Each run renders a fresh copy (the copy is not timed).
    """
    workers = torch.get_num_threads()
    best = math.inf
    out = image
    for run in range(max(1, repeat)):
        work = image.clone()
        tracked = run == 0 and _reset_peak()
        before = _rss_kb("VmRSS") if tracked else 0
        t0 = time.perf_counter()
        out = render_banded(work, settings, inplace=True, workers=workers)
        best = min(best, (time.perf_counter() - t0) * 1000.0)
        if tracked:  # first run: also the memory measurement
            row.peak_mb = (_rss_kb("VmHWM") - before) / 1024.0
        if best > 5000:
            break
    row.render = best
    return out


def _time_encode(out: torch.Tensor, out_dir: Path, repeat: int, row: Row) -> None:
    row.jpg = best_ms(lambda: write_image(out_dir / "out.jpg", out, quality=95), repeat)
    row.tif = best_ms(lambda: write_image(out_dir / "out.tif", out, bit_depth=16), repeat)


def _time_preview(path: Path, settings: dict[str, torch.Tensor], repeat: int, row: Row) -> None:
    row.preview = best_ms(lambda: decode_preview(path, long_side=PREVIEW_LONG_SIDE), repeat)
    row.preview512 = best_ms(lambda: decode_preview(path, long_side=512), repeat)
    small = decode_preview(path, long_side=512).image
    row.preview_size = f"{small.shape[-1]}x{small.shape[-2]}"
    workers = torch.get_num_threads()
    row.preview_render = best_ms(lambda: render(small, settings, workers=workers), repeat)  # as `render --preview`


def measure(path: Path, repeat: int, out_dir: Path) -> Row:
    """Decode, preview, render and encode one photo (one image tensor alive at a time, plus the output)."""
    row = Row(path.name)
    settings = TYPICAL.tensors(torch.float32)
    try:
        with torch.inference_mode():
            row.decode = best_ms(lambda: decode_image(path), repeat)
            _time_preview(path, settings, repeat, row)
            image = decode_image(path).image
            row.mp = image.shape[-1] * image.shape[-2] / 1e6
            out = _time_render(image, settings, repeat, row)
            del image  # only the output stays alive while encoding
            _time_encode(out, out_dir, repeat, row)
    except AutoretouchError as exc:
        row.note = f"error: {exc}"
    return row


def synthetic_rgb(mp: float, seed: int = 0) -> np.ndarray:
    """A 3:2 photo-like uint16 RGB image of about ``mp`` megapixels: gradients, edges, texture, mild noise."""
    h = round(math.sqrt(mp * 1e6 / 1.5))
    w = round(h * 1.5)
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), np.float32)
    img[..., 0] = 0.2 + 0.6 * x + 0.1 * np.sin(40 * y)
    img[..., 1] = 0.3 + 0.4 * y + 0.1 * np.sin(25 * x + 10 * y)
    img[..., 2] = 0.7 - 0.5 * x * y
    img[: h // 3, : w // 4] *= 0.4  # a hard-edged shadow block
    img += rng.normal(0.0, 0.02, (h, w, 1)).astype(np.float32)
    return (np.clip(img, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)


def write_synthetic(directory: Path, mp: int) -> list[Path]:
    """Write ``mp``-megapixel bare and camera-style JPEGs (q95) and a 16-bit TIFF; returns their paths."""
    rgb16 = synthetic_rgb(mp, seed=mp)
    jpg = directory / f"synthetic_{mp}mp.jpg"
    rgb8 = (rgb16 >> 8).astype(np.uint8)
    if not cv2.imwrite(str(jpg), rgb8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"cannot write {jpg}")
    h, w = rgb8.shape[:2]
    thumb = cv2.resize(rgb8, (160, round(160 * h / w)), interpolation=cv2.INTER_AREA)
    camera = make_camera_jpeg(directory, rgb8, thumb, name=f"synthetic_{mp}mp_camera.jpg")
    tif = directory / f"synthetic_{mp}mp_16bit.tif"
    tifffile.imwrite(tif, rgb16, photometric="rgb")
    return [jpg, camera, tif]


def stage_breakdown(path: Path, repeat: int, every_slider: bool) -> list[tuple[str, float]]:
    """Per-stage (and optionally per-slider) render times of one photo, in ms."""
    rows: list[tuple[str, float]] = []
    with torch.inference_mode():
        image = decode_image(path).image
        values = prepare_settings(TYPICAL.tensors(torch.float32), 1, torch.float32, image.device)
        for stage in STAGE_ORDER:
            sub = {s.name: values[s.name] for s in iter_sliders(stage) if s.name in values}
            if sub:
                ms = best_ms(lambda fn=STAGES[stage], sub=sub: fn(image, sub), repeat)
                rows.append((f"stage {stage} ({', '.join(sub)})", ms))
        if every_slider:
            for spec in CATALOG:
                ident = torch.tensor(spec.identity, dtype=torch.float64)
                end = spec.maximum if spec.maximum > float(ident.max()) else spec.minimum
                value = (ident + 0.3 * (end - ident)).float()
                ms = best_ms(lambda name=spec.name, value=value: apply_slider(name, image, value), repeat)
                rows.append((f"slider {spec.name}", ms))
    return rows


def cpu_per_mp(path: Path, repeat: int) -> list[tuple[str, float]]:
    """Single-thread CPU ms per megapixel of each stage of the typical recipe and of the banded render."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            image = decode_image(path).image.float().contiguous()
            mp = image.shape[-1] * image.shape[-2] / 1e6
            settings = TYPICAL.tensors(torch.float32)
            values = prepare_settings(settings, 1, torch.float32, image.device)

            def best_cpu(fn: Callable[[torch.Tensor], object]) -> float:
                times = []
                for _ in range(max(1, repeat) + 1):  # the first run warms up
                    work = image.clone()  # a fresh input each run (in-place renders consume it); not timed
                    t0 = time.process_time()
                    fn(work)
                    times.append(time.process_time() - t0)
                return min(times[1:]) * 1000.0 / mp

            rows = []
            for stage in STAGE_ORDER:
                sub = {s.name: values[s.name] for s in iter_sliders(stage) if s.name in values}
                if sub:
                    rows.append((f"stage {stage}", best_cpu(lambda x, fn=STAGES[stage], sub=sub: fn(x, sub))))
            rows.append(("render (banded, in place)", best_cpu(lambda x: render_banded(x, settings, inplace=True))))
    finally:
        torch.set_num_threads(threads)
    return rows


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def print_table(rows: list[Row]) -> None:
    """Print the results table (times in ms)."""
    head = ("input", "MP", "decode", "preview", "pv512", "(size)", "pv-rend", "render", "jpg", "tif16", "peakMB")
    print(f"{head[0]:30} {head[1]:>5} " + " ".join(f"{h:>9}" for h in head[2:]) + "  note")
    for r in rows:
        mp = "-" if math.isnan(r.mp) else f"{r.mp:.1f}"
        peak = "-" if r.peak_mb is None else f"{r.peak_mb:.0f}"
        cells = [_fmt(r.decode), _fmt(r.preview), _fmt(r.preview512), r.preview_size, _fmt(r.preview_render)]
        cells.append(_fmt(r.render))
        cells += [_fmt(r.jpg), _fmt(r.tif), peak]
        print(f"{r.name[:30]:30} {mp:>5} " + " ".join(f"{c:>9}" for c in cells) + f"  {r.note}")


def verdicts(rows: list[Row]) -> list[str]:
    """PASS/FAIL lines for the two targets (n/a when the input was not measured)."""
    out = []
    for name, label in (("synthetic_12mp_camera.jpg", "camera JPEG"), ("synthetic_12mp.jpg", "bare JPEG")):
        found = [r.preview for r in rows if r.name == name and r.preview is not None]
        if found:
            t = found[0]
            verdict = "PASS" if t <= PREVIEW_TARGET_MS else "FAIL"
            out.append(f"preview path on a 12-MP {label}: {t:.1f} ms (target <= {PREVIEW_TARGET_MS:.0f} ms) {verdict}")
        else:
            out.append(f"preview path on a 12-MP {label}: n/a (not measured)")
    big = [r.render for r in rows if r.name.startswith("synthetic_24mp") and r.render is not None]
    if big:
        t = min(big)
        out.append(
            f"full 24-MP render (typical recipe): {t:.0f} ms (target <= {RENDER_24MP_TARGET_MS:.0f} ms) "
            f"{'PASS' if t <= RENDER_24MP_TARGET_MS else 'FAIL'}"
        )
    else:
        out.append("full 24-MP render: n/a (not measured)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the target machine)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is reported (default 3)")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[1, 12, 24], help="synthetic sizes in MP (default 1 12 24)"
    )
    parser.add_argument("--data", type=Path, default=DATA, help=f"shared data folder (default {DATA})")
    parser.add_argument("--no-shared", action="store_true", help="skip the photos in the shared data folder")
    parser.add_argument(
        "--stages", action="store_true", help="also time each renderer stage on the largest synthetic JPEG"
    )
    parser.add_argument("--sliders", action="store_true", help="with --stages: also time every slider alone")
    parser.add_argument(
        "--no-tune", action="store_true", help="leave glibc's malloc settings alone (no pipeline.tune_allocator())"
    )
    parser.add_argument("--cpu", action="store_true", help="also print single-thread CPU ms/MP per stage")
    parser.add_argument(
        "--cpu-photo", type=Path, action="append", default=[], help="with --cpu: also measure this photo"
    )
    args = parser.parse_args(argv)

    if not args.no_tune:
        tune_allocator()  # as `autoretouch render` does
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeat}")
    print("typical recipe: " + ", ".join(s.slider for s in TYPICAL.steps))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_render_") as tmp:
        tmpdir = Path(tmp)
        if not args.no_shared:
            for sub in SHARED_DIRS:
                folder = args.data / sub
                if not folder.is_dir():
                    print(f"skip {folder} (missing)")
                    continue
                for path in sorted(folder.iterdir()):
                    if path.is_file() and path.suffix.lower() not in SKIP_SUFFIXES:
                        rows.append(measure(path, args.repeat, tmpdir))
        for mp in args.sizes:
            for path in write_synthetic(tmpdir, mp):
                rows.append(measure(path, args.repeat, tmpdir))
                path.unlink()
        print()
        print_table(rows)
        print()
        for line in verdicts(rows):
            print(line)
        if args.stages and args.sizes:
            mp = max(args.sizes)
            path = write_synthetic(tmpdir, mp)[0]  # the bare JPEG
            print(f"\nwhere the time goes at {mp} MP ({path.name}):")
            for name, ms in stage_breakdown(path, args.repeat, args.sliders):
                print(f"  {name:70} {ms:8.0f} ms")
        if args.cpu:
            path = write_synthetic(tmpdir, 1)[0]  # the bare JPEG
            for photo in (path, *args.cpu_photo):
                print(f"\nsingle-thread CPU per megapixel, {photo.name}:")
                for name, ms in cpu_per_mp(photo, args.repeat):
                    print(f"  {name:40} {ms:8.1f} ms/MP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
