"""How much memory a full-resolution render needs, and a check that the machine has it before it starts.

Without the check, a render that does not fit is killed by the operating system (Linux's out-of-memory killer,
taking the rest of the batch with it) or drives the machine into swap for minutes. With it, the photo is refused
with a message that names it, the memory it needs and what to do instead, and the batch carries on.

The numbers are peak resident memory measured with ``autoretouch render`` (``/usr/bin/time -f %M``; 6- and 24-MP
PNGs, float32 on the CPU, torch 2.13, Linux): the process itself about 280 MB; per pixel about 38-50 bytes when
only per-pixel sliders move, 50 with vignette, 94-129 with sharpen and 99-110 with clarity (the local Laplacian
pyramids of a padded copy; the whole-image stages run one after another, so the peak is the largest stage's,
not the sum: all three together measured 111-132). The constants below round those up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from backend.errors import ImageTooLargeError

__all__ = ["PROCESS_BYTES", "STAGE_BYTES_PER_PIXEL", "available_bytes", "check_render_memory", "render_bytes"]

#: Python, torch and the renderer before any image, in bytes (measured about 280 MB).
PROCESS_BYTES = 320 << 20

#: Peak bytes per pixel of a render (decoded image and output included), by the sliders that move: a slider
#: not named here acts pixel by pixel (on bands) and costs the ``""`` entry.
STAGE_BYTES_PER_PIXEL: dict[str, int] = {"": 56, "vignette": 64, "sharpen": 140, "clarity": 140}


def render_bytes(height: int, width: int, sliders: Iterable[str]) -> int:
    """Peak memory of rendering a ``height`` x ``width`` image with ``sliders`` moved, in bytes (an upper estimate).

    Args:
        height: image height in pixels (>= 1).
        width: image width in pixels (>= 1).
        sliders: names of the sliders the recipe moves.

    Returns:
        :data:`PROCESS_BYTES` plus the pixel count times the largest :data:`STAGE_BYTES_PER_PIXEL` entry among
        ``sliders`` (the ``""`` entry at least).
    """
    per_pixel = max([STAGE_BYTES_PER_PIXEL[""]] + [STAGE_BYTES_PER_PIXEL.get(name, 0) for name in sliders])
    return PROCESS_BYTES + height * width * per_pixel


def available_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Memory this process could still take without being killed, in bytes: free RAM plus free swap.

    Read from Linux's ``/proc/meminfo`` (``MemAvailable`` + ``SwapFree``); ``None`` where that cannot be read
    (macOS, Windows, an old kernel): the caller then does not check.
    """
    try:
        text = meminfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * 1024  # the file counts kB
    if "MemAvailable" not in fields:
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0)


def _resident_bytes() -> int:
    """This process's resident memory in bytes (Linux ``/proc/self/statm``; 0 where unknown)."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def check_render_memory(photo: Path, height: int, width: int, sliders: Iterable[str]) -> None:
    """Refuse to render ``photo`` when the render would need more memory than the machine has free.

    Called with the photo already decoded: what the process already holds is counted as part of the need.

    Args:
        photo: the photo, named in the error.
        height: the image's height in pixels, as it will be rendered.
        width: the image's width in pixels.
        sliders: names of the sliders the recipe moves.

    Raises:
        ImageTooLargeError: the estimate (:func:`render_bytes`) exceeds what this process holds plus
            :func:`available_bytes`; the message gives both in GB and how to render it anyway.
    """
    names = sorted(set(sliders))
    free = available_bytes()
    if free is None:
        return
    need = render_bytes(height, width, names)
    have = free + _resident_bytes()
    if need <= have:
        return
    heavy = [name for name in names if STAGE_BYTES_PER_PIXEL.get(name, 0) > STAGE_BYTES_PER_PIXEL[""]]
    what = f" with {' and '.join(heavy)}" if heavy else ""
    raise ImageTooLargeError(
        photo,
        f"rendering its {width}x{height} pixels{what} needs about {need / 1e9:.1f} GB of memory and "
        f"{have / 1e9:.1f} GB is free; render it smaller (--long-side, --preview) or write the edit as sidecars "
        "(apply) and let Lightroom or darktable render it",
    )
