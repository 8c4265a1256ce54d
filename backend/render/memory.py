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

__all__ = [
    "PROCESS_BYTES",
    "STAGE_BYTES_PER_PIXEL",
    "available_bytes",
    "cgroup_room",
    "check_render_memory",
    "render_bytes",
]

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


def available_bytes(
    meminfo: Path = Path("/proc/meminfo"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
) -> int | None:
    """Memory this process could still take without swapping or being killed, in bytes.

    Free RAM as Linux counts it (``MemAvailable`` in ``/proc/meminfo``; swap is not counted: a render that only
    fits in swap takes minutes and stalls the machine), capped by the room left in this process's memory cgroup
    (a container's or a systemd slice's limit: cgroup v2 ``memory.max`` - ``memory.current``, v1
    ``memory.limit_in_bytes`` - ``memory.usage_in_bytes``), where there is a limit.

    Args:
        meminfo: the kernel's memory summary.
        cgroup_root: where the cgroup file systems are mounted.
        proc_cgroup: this process's cgroup membership.

    Returns:
        Bytes, or ``None`` where free RAM cannot be read (macOS, Windows, an old kernel): the caller then does not
        check.
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
    room = cgroup_room(cgroup_root, proc_cgroup)
    return fields["MemAvailable"] if room is None else min(fields["MemAvailable"], room)


#: A cgroup limit at or above this many bytes means "no limit" (v1 writes 2^63 rounded down to a page).
_NO_LIMIT = 1 << 60


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # v2 writes "max" for no limit


def cgroup_room(cgroup_root: Path, proc_cgroup: Path) -> int | None:
    """Bytes left under this process's memory cgroup limit (the tightest one found), or ``None`` without a limit.

    Looks at the process's own cgroup folder (from ``proc_cgroup``) and at the mount's top (what a container sees
    as its own), for cgroup v2 (``memory.max``/``memory.current``) and v1 (``memory/memory.limit_in_bytes`` and
    ``memory.usage_in_bytes``). A negative room counts as 0.
    """
    v2_path, v1_path = "", ""
    try:
        lines = proc_cgroup.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0] == "0" and parts[1] == "":
            v2_path = parts[2].lstrip("/")
        elif len(parts) == 3 and "memory" in parts[1].split(","):
            v1_path = parts[2].lstrip("/")
    candidates = [
        (cgroup_root / v2_path / "memory.max", cgroup_root / v2_path / "memory.current"),
        (cgroup_root / "memory.max", cgroup_root / "memory.current"),
        (
            cgroup_root / "memory" / v1_path / "memory.limit_in_bytes",
            cgroup_root / "memory" / v1_path / "memory.usage_in_bytes",
        ),
        (cgroup_root / "memory" / "memory.limit_in_bytes", cgroup_root / "memory" / "memory.usage_in_bytes"),
    ]
    rooms = []
    for limit_file, usage_file in candidates:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and limit < _NO_LIMIT and usage is not None:
            rooms.append(max(0, limit - usage))
    return min(rooms) if rooms else None


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
            :func:`available_bytes` (free RAM, swap not counted, within the cgroup's limit); the message gives both
            in GB and how to render it anyway.
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
