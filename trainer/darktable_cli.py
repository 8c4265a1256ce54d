"""darktable-cli as a renderer: headless, isolated runs that return linear Rec.2020 float images.

Used by ``autoretouch train --darktable`` (a user's darktable edits rendered by darktable itself, the "after"
of each pair), by the benchmarks and by the tests (:mod:`testing.darktable_cli` adds the fidelity helpers).
Every run is headless and isolated: a scratch ``HOME``, ``--configdir`` and ``--cachedir`` (darktable-cli
otherwise creates ``~/.config/darktable``), an in-memory library (darktable-cli's default), outputs deleted
before the run (darktable-cli renames instead of overwriting), a timeout, and errors that quote darktable's
stderr. Outputs are 32-bit float TIFFs in **linear Rec.2020**, the renderer's working space, read with
``tifffile`` as ``(H, W, 3)`` float32 arrays, unclamped.

Batching: darktable-cli reads the sidecar next to each input (``<file>.<ext>.xmp``) when no XMP is given on
the command line, and it accepts a folder. :meth:`DarktableCli.render_batch` therefore renders any number of
(image, sidecar) pairs with **one** start-up (about 1 s); start-up dominates for small images.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "PROBLEM_PATTERNS",
    "DarktableCli",
    "DarktableCliError",
    "DarktableResult",
    "darktable_cli_path",
    "darktable_problems",
    "darktable_version",
]

#: stderr patterns that mean darktable dropped or mis-read part of a history stack.
PROBLEM_PATTERNS: tuple[str, ...] = (
    r"version mismatch",
    r"missing tags",
    r"cannot get iop-order",
    r"error reading history",
    r"\[exif\] error",
    r"could not be loaded",
    r"failed to load",
    r"not supported",
    r"XMP may be corrupted",
    r"unknown module",
    r"no history",
)

_HARMLESS = (r"running darktable as root", r"^\s*$")


class DarktableCliError(RuntimeError):
    """darktable-cli failed: missing program, non-zero exit, timeout or a missing output.

    Attributes:
        stderr: what darktable-cli printed on stderr (may be empty).
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        tail = "\n".join(stderr.strip().splitlines()[-25:])
        super().__init__(message + (f"\n--- darktable-cli stderr (tail) ---\n{tail}" if tail else ""))
        self.stderr = stderr


@dataclass(frozen=True)
class DarktableResult:
    """Outputs of one darktable-cli run.

    Attributes:
        images: name -> ``(H, W, 3)`` float32 linear Rec.2020 (unclamped).
        stdout: darktable-cli's stdout.
        stderr: darktable-cli's stderr.
        seconds: wall time of the run.
    """

    images: dict[str, np.ndarray]
    stdout: str
    stderr: str
    seconds: float

    @property
    def problems(self) -> list[str]:
        """Lines of stdout/stderr matching :data:`PROBLEM_PATTERNS`."""
        return darktable_problems(self.stdout + "\n" + self.stderr)


def darktable_problems(text: str) -> list[str]:
    """Lines of darktable output that signal a rejected or mis-read history (see :data:`PROBLEM_PATTERNS`)."""
    out = []
    for line in text.splitlines():
        if any(re.search(h, line) for h in _HARMLESS):
            continue
        if any(re.search(p, line, flags=re.IGNORECASE) for p in PROBLEM_PATTERNS):
            out.append(line.strip())
    return out


def darktable_cli_path() -> str | None:
    """Path of ``darktable-cli`` (``$DARKTABLE_CLI`` or ``PATH``), or ``None`` when it is not installed."""
    env = os.environ.get("DARKTABLE_CLI")
    if env:
        return env if Path(env).exists() else None
    return shutil.which("darktable-cli")


def darktable_version(exe: str | None = None) -> str | None:
    """darktable-cli's version string, e.g. ``"4.2.1"``, or ``None`` when it is missing or unreadable."""
    exe = exe or darktable_cli_path()
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"darktable-cli\s+(\S+)", out.stdout + out.stderr)
    return m.group(1) if m else None


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    arr = np.asarray(tifffile.imread(path))
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return arr[..., :3].astype(np.float32, copy=False)


class DarktableCli:
    """Runs darktable-cli in a scratch environment.

    Args:
        scratch: a directory this runner owns (created; HOME, config, cache and batches live under it). A
            temporary directory when ``None``.
        timeout: seconds before a run is killed.
        exe: darktable-cli executable; found with :func:`darktable_cli_path` when ``None``.
        threads: OpenMP threads (``-t``), or ``None`` for darktable's default.
        extra_core: more ``--core`` options (e.g. ``["--conf", "key=value"]``).

    Raises:
        DarktableCliError: darktable-cli is not installed.
    """

    def __init__(
        self,
        scratch: Path | None = None,
        *,
        timeout: float = 300.0,
        exe: str | None = None,
        threads: int | None = None,
        extra_core: Sequence[str] = (),
    ) -> None:
        found = exe or darktable_cli_path()
        if found is None:
            raise DarktableCliError("darktable-cli is not installed (apt-get install darktable)")
        self.exe = found
        self.scratch = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="dtcli-"))
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.home = self.scratch / "home"
        self.configdir = self.scratch / "config"
        self.cachedir = self.scratch / "cache"
        for d in (self.home, self.configdir, self.cachedir):
            d.mkdir(exist_ok=True)
        self.timeout = timeout
        self.threads = threads
        self.extra_core = list(extra_core)
        self._batch = 0

    # -- command line ---------------------------------------------------------------------------------

    def _core_args(self, core_extra: Sequence[str] = ()) -> list[str]:
        args = [
            "--core",
            "--configdir",
            str(self.configdir),
            "--cachedir",
            str(self.cachedir),
            "--conf",
            "plugins/imageio/format/tiff/bpp=32",
            "--conf",
            "plugins/imageio/format/tiff/compress=0",
            "--conf",
            "write_sidecar_files=never",
        ]
        if self.threads is not None:
            args += ["-t", str(self.threads)]
        return args + self.extra_core + list(core_extra)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"HOME": str(self.home), "LANG": "C", "LC_ALL": "C", "TMPDIR": str(self.scratch)})
        env.pop("DISPLAY", None)
        return env

    def run(
        self, args: Sequence[str], *, core_extra: Sequence[str] = (), timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run darktable-cli with ``args`` plus the scratch ``--core`` options (and ``core_extra``).

        Raises:
            DarktableCliError: timeout or non-zero exit status.
        """
        cmd = [self.exe, *args, *self._core_args(core_extra)]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout or self.timeout,
                env=self._env(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise DarktableCliError(f"darktable-cli timed out after {timeout or self.timeout:.0f} s", err) from None
        if proc.returncode != 0:
            raise DarktableCliError(f"darktable-cli exited with status {proc.returncode}: {' '.join(cmd)}", proc.stderr)
        return proc

    # -- rendering -----------------------------------------------------------------------------------

    def render(
        self, image: Path, xmp: Path | None, out: Path, *, style: str | None = None, luacmd: str | None = None
    ) -> DarktableResult:
        """Render one image to a float linear Rec.2020 TIFF.

        Args:
            image: input photo.
            xmp: sidecar given on the command line (it replaces any adjacent sidecar), or ``None`` to let
                darktable-cli read ``<image>.xmp`` if it exists.
            out: output TIFF path (deleted first).
            style: apply this style from the scratch library (``--style``).
            luacmd: Lua run headless before the export (``--core --luacmd``).

        Returns:
            The result with ``images[out.stem]``.

        Raises:
            DarktableCliError: darktable-cli failed or wrote no output.
        """
        out.unlink(missing_ok=True)
        args = [str(image)] + ([str(xmp)] if xmp is not None else []) + [str(out)]
        args += ["--icc-type", "LIN_REC2020"]
        if style:
            args += ["--style", style]
        core_extra = ["--luacmd", luacmd] if luacmd else []
        start = time.perf_counter()
        proc = self.run(args, core_extra=core_extra)
        seconds = time.perf_counter() - start
        if not out.exists():
            raise DarktableCliError(f"darktable-cli wrote no output {out}", proc.stderr)
        return DarktableResult({out.stem: _read_tiff(out)}, proc.stdout, proc.stderr, seconds)

    def render_batch(
        self, items: Mapping[str, tuple[Path, str | None]], *, jobs: int = 1, max_size: int | None = None
    ) -> DarktableResult:
        """Render several (image, sidecar) pairs, one darktable-cli start per job.

        Each item is copied into a fresh batch folder as ``<name><ext>`` with its sidecar text written to
        ``<name><ext>.xmp`` (no sidecar: darktable's defaults for that file type). darktable spends about
        0.2-0.4 s per image building the pixelpipe, so with ``jobs`` > 1 the items are split over that many
        darktable-cli processes running at once (each with its own config and cache folders).

        Args:
            items: output name (``[A-Za-z0-9_-]+``, unique) -> (input photo, sidecar XML text or ``None``).
            jobs: number of darktable-cli processes (1 or more).
            max_size: export at most this many pixels wide and high (``--width``/``--height``), or full size.

        Returns:
            A result with one image per name (stderr/stdout of all processes concatenated).

        Raises:
            DarktableCliError: darktable-cli failed or an output is missing.
            ValueError: a bad name.
        """
        for name in items:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ValueError(f"bad batch item name {name!r}")
        names = list(items)
        jobs = max(1, min(jobs, len(names)))
        if jobs == 1:
            return self._render_batch_one(items, max_size)
        from concurrent.futures import ThreadPoolExecutor

        workers = [
            DarktableCli(
                self.scratch / f"worker{i}",
                timeout=self.timeout,
                exe=self.exe,
                threads=self.threads,
                extra_core=self.extra_core,
            )
            for i in range(jobs)
        ]
        parts = [{n: items[n] for n in names[i::jobs]} for i in range(jobs)]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(
                pool.map(lambda wp: wp[0]._render_batch_one(wp[1], max_size), zip(workers, parts, strict=True))
            )
        images = {n: r.images[n] for r in results for n in r.images}
        return DarktableResult(
            {n: images[n] for n in names},
            "\n".join(r.stdout for r in results),
            "\n".join(r.stderr for r in results),
            time.perf_counter() - start,
        )

    def _render_batch_one(
        self, items: Mapping[str, tuple[Path, str | None]], max_size: int | None = None
    ) -> DarktableResult:
        self._batch += 1
        batch = self.scratch / f"batch{self._batch:04d}"
        if batch.exists():
            shutil.rmtree(batch)
        src, dst = batch / "in", batch / "out"
        src.mkdir(parents=True)
        dst.mkdir()
        for name, (image, xmp_text) in items.items():
            target = src / (name + image.suffix.lower())
            shutil.copyfile(image, target)
            if xmp_text is not None:
                target.with_name(target.name + ".xmp").write_text(xmp_text, encoding="utf-8")
        start = time.perf_counter()
        size = ["--width", str(max_size), "--height", str(max_size)] if max_size else []
        proc = self.run([str(src), str(dst / "$(FILE_NAME)"), "--out-ext", "tif", "--icc-type", "LIN_REC2020", *size])
        seconds = time.perf_counter() - start
        images: dict[str, np.ndarray] = {}
        for name in items:
            out = dst / f"{name}.tif"
            if not out.exists():
                raise DarktableCliError(f"darktable-cli wrote no output for {name!r}", proc.stderr)
            images[name] = _read_tiff(out)
        return DarktableResult(images, proc.stdout, proc.stderr, seconds)
