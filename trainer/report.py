"""What a run leaves for people to look at: the metrics CSV, training-curve plots and a contact sheet.

* :class:`MetricsLog`: ``metrics.csv`` with a fixed header; on resume rows after the checkpoint's step are
  dropped, so the file reads as one uninterrupted run.
* :func:`plot_curves`: one PNG with a panel per metric. Uses matplotlib when it is installed, otherwise draws
  the panels with OpenCV (axes, min/max labels, the curve), so plots never need an extra dependency.
* :func:`contact_sheet`: before/after pairs of the held-out photos plus a strip of favourites, sRGB PNG.

Every file is written to a temporary file and moved into place with ``os.replace``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from torch import Tensor

from backend.encode import to_srgb8
from backend.fsio import write_bytes_atomic

__all__ = ["MetricsLog", "contact_sheet", "plot_curves", "read_metrics", "write_png"]


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 RGB array as PNG, atomically."""
    ok, enc = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    write_bytes_atomic(Path(path), enc.tobytes())


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """Rows of a metrics CSV as floats (empty cells become NaN)."""
    p = Path(path)
    if not p.is_file():
        return []
    with p.open(newline="", encoding="utf-8") as fh:
        return [
            {k: float(v) if v not in ("", None) else math.nan for k, v in row.items()} for row in csv.DictReader(fh)
        ]


class MetricsLog:
    """Append-only metrics CSV with a fixed set of columns.

    Args:
        path: the CSV file.
        columns: column names (``step`` first).
        resume_step: when resuming, keep only existing rows with ``step <= resume_step``; ``None`` starts afresh.
    """

    def __init__(self, path: str | Path, columns: Sequence[str], resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        keep: list[dict[str, float]] = []
        if resume_step is not None:
            keep = [r for r in read_metrics(self.path) if r.get("step", math.inf) <= resume_step]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in keep:
            writer.writerow({k: _fmt(row.get(k, math.nan)) for k in self.columns})
        write_bytes_atomic(self.path, buf.getvalue().encode("utf-8"))

    def append(self, row: Mapping[str, float]) -> None:
        """Append one row (missing columns are left empty) and flush it to disk."""
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
            writer.writerow({k: _fmt(row.get(k, math.nan)) for k in self.columns})

    def rows(self) -> list[dict[str, float]]:
        """Everything logged so far."""
        return read_metrics(self.path)


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


# -- plots ------------------------------------------------------------------------------------------


def _series(rows: Sequence[Mapping[str, float]], key: str) -> tuple[np.ndarray, np.ndarray]:
    xs = np.array([r.get("step", math.nan) for r in rows], dtype=np.float64)
    ys = np.array([r.get(key, math.nan) for r in rows], dtype=np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    return xs[ok], ys[ok]


def _panel_cv2(xs: np.ndarray, ys: np.ndarray, title: str, w: int = 420, h: int = 240) -> np.ndarray:
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 64, 12, 26, 30
    cv2.putText(img, title, (left, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), (160, 160, 160), 1)
    if xs.size == 0:
        cv2.putText(img, "no data", (left + 10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
        return img
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    if x1 == x0:
        x1 = x0 + 1.0
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    px = left + (xs - x0) / (x1 - x0) * (w - right - left)
    py = (h - bottom) - (ys - y0) / (y1 - y0) * (h - bottom - top)
    if y0 < 0.0 < y1:
        zy = round((h - bottom) - (0.0 - y0) / (y1 - y0) * (h - bottom - top))
        cv2.line(img, (left, zy), (w - right, zy), (215, 215, 215), 1)
    pts = np.stack([px, py], axis=1).round().astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [pts], False, (40, 90, 200), 1, cv2.LINE_AA)
    font, scale, grey = cv2.FONT_HERSHEY_SIMPLEX, 0.38, (60, 60, 60)
    cv2.putText(img, f"{y1:.3g}", (4, top + 10), font, scale, grey, 1, cv2.LINE_AA)
    cv2.putText(img, f"{y0:.3g}", (4, h - bottom), font, scale, grey, 1, cv2.LINE_AA)
    cv2.putText(img, f"{x0:.0f}", (left, h - 12), font, scale, grey, 1, cv2.LINE_AA)
    cv2.putText(img, f"{x1:.0f} steps", (w - right - 80, h - 12), font, scale, grey, 1, cv2.LINE_AA)
    return img


def _plot_matplotlib(rows: Sequence[Mapping[str, float]], keys: Sequence[str], path: Path) -> bool:
    try:
        import matplotlib
    except ImportError:
        return False
    if not isinstance(getattr(matplotlib, "__version__", None), str):
        return False  # colour-science puts a mock in sys.modules when matplotlib is missing
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2
    nrows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(10, 2.6 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        xs, ys = _series(rows, key)
        ax.plot(xs, ys, linewidth=1)
        ax.set_title(key, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    return True


def plot_curves(
    rows: Sequence[Mapping[str, float]], keys: Sequence[str], path: str | Path, *, backend: str = "auto"
) -> str:
    """Draw one panel per metric against ``step`` into a PNG.

    Args:
        rows: metric rows (each with ``step``).
        keys: the metrics to draw.
        path: the PNG file.
        backend: ``"auto"`` (matplotlib when installed, else OpenCV), ``"matplotlib"`` or ``"cv2"``.

    Returns:
        The backend used.
    """
    p = Path(path)
    if backend in ("auto", "matplotlib") and _plot_matplotlib(rows, keys, p):
        return "matplotlib"
    if backend == "matplotlib":
        raise ImportError("matplotlib is not installed")
    panels = [_panel_cv2(*_series(rows, key), key) for key in keys]
    if len(panels) % 2:
        panels.append(np.full_like(panels[0], 255))
    grid = np.vstack([np.hstack(panels[i : i + 2]) for i in range(0, len(panels), 2)])
    write_png(p, grid)
    return "cv2"


# -- contact sheet ----------------------------------------------------------------------------------


def _tile(image: Tensor) -> np.ndarray:
    return to_srgb8(image.detach().float().cpu())


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    scale = max(0.3, tile.shape[1] / 330)
    cv2.putText(out, text, (4, int(14 * scale / 0.4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (4, int(14 * scale / 0.4)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def contact_sheet(
    before: Tensor,
    after: Tensor,
    path: str | Path,
    *,
    targets: Tensor | None = None,
    captions: Sequence[str] = (),
    pairs_per_row: int = 4,
) -> None:
    """Before/after pairs of ``(E, 3, S, S)`` linear Rec.2020 images (and a strip of favourites) as a PNG.

    Args:
        before: the inputs.
        after: the agent's results.
        path: the PNG file.
        targets: ``(T, 3, S, S)`` favourites shown in a last row (at most ``2 * pairs_per_row``).
        captions: per pair, a short text drawn on the "after" tile (e.g. the sliders used).
        pairs_per_row: before/after pairs per row.
    """
    s = before.shape[-1]
    gap = 4
    tiles: list[np.ndarray] = []
    for i in range(before.shape[0]):
        caption = captions[i] if i < len(captions) else "after"
        tiles.append(np.hstack([_label(_tile(before[i]), "before"), _label(_tile(after[i]), caption)]))
    width = pairs_per_row * (2 * s + gap)
    rows: list[np.ndarray] = []
    for i in range(0, len(tiles), pairs_per_row):
        chunk = tiles[i : i + pairs_per_row]
        row = np.full((s, width, 3), 255, np.uint8)
        for j, t in enumerate(chunk):
            x = j * (2 * s + gap)
            row[:, x : x + 2 * s] = t
        rows.append(row)
    if targets is not None and targets.shape[0] > 0:
        row = np.full((s, width, 3), 255, np.uint8)
        for j in range(min(targets.shape[0], width // (s + gap))):
            x = j * (s + gap)
            row[:, x : x + s] = _label(_tile(targets[j]), "favourite")
        rows.append(row)
    sheet = np.vstack([np.vstack([r, np.full((gap, width, 3), 255, np.uint8)]) for r in rows])
    write_png(path, sheet)
