"""Crash safety of the catalog batch: kill -9 at random moments, then check that nothing the user had is lost.

Setup (generated, nothing from ``../shared``): ``--photos`` photos (default 500): small JPEGs and raws
(a tiny DNG named ``.nef``, so both hosts take sidecars); a third of them carry the user's own darktable
sidecar (rating, keywords, a foreign namespace, a history of three modules), a sixth of the raws the user's
own Lightroom sidecar (settings, keywords, a foreign namespace).

Reference: one uninterrupted ``autoretouch catalog DIR --host both --jobs 2`` (per ``--overwrite`` mode).

Each trial, on a fresh copy: start the same command in its own process group, wait a random time (uniform
over 5-95 % of the reference run's duration, seeded), ``SIGKILL`` the whole group (main process and
workers, as a power cut would), then check:

* **parse**: every ``.xmp`` left is a well-formed XMP packet;
* **foreign kept**: every sidecar the user had still holds the user's metadata (rating, keywords, foreign
  namespace) and, for darktable, the user's three history entries;
* **temp / lock**: temp files (``.NAME.*.tmp``) and lock files left behind (harmless; counted);
* **resume = reference**: the same command run again to the end leaves every sidecar equal to the
  uninterrupted run's (XML compared canonically, timestamps ignored): nothing applied twice, nothing missing;
* **revert restores**: ``autoretouch revert`` on every photo brings each of the user's sidecars back to its
  original content (canonically) and removes every sidecar autoretouch created.

    python bench/bench_crash.py                   # 20 trials, 500 photos
    python bench/bench_crash.py --trials 3 --photos 60
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.batch.journal import DEFAULT_JOURNAL_NAME  # noqa: E402
from testing.fuzz import USER_DT, USER_LR  # noqa: E402

_IGNORED_ATTRS = ("Timestamp", "Software")


def make_template(folder: Path, count: int, seed: int) -> dict[str, str]:
    """Generate the photos and the user's sidecars; returns ``sidecar name -> original text``."""
    import cv2
    import numpy as np

    from testing.fixtures import make_dng

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    dng = make_dng(folder.parent, "template.dng")
    foreign: dict[str, str] = {}
    for i in range(count):
        sub = folder / f"day{i % 5}"
        sub.mkdir(exist_ok=True)
        if i % 4 == 3:
            photo = sub / f"raw{i:04d}.nef"
            shutil.copyfile(dng, photo)
            if i % 24 == 3:
                side = photo.with_suffix(".xmp")
                side.write_text(USER_LR, encoding="utf-8")
                foreign[str(side.relative_to(folder))] = USER_LR
        else:
            photo = sub / f"img{i:04d}.jpg"
            h, w = 64, 96
            base = rng.uniform(0.05, 0.8, 3)
            yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
            rgb = base + rng.uniform(0.1, 0.5, 3) * np.stack((xx, yy, xx * yy), -1) + 0.03 * rng.random((h, w, 3))
            cv2.imwrite(str(photo), np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))
        if i % 3 == 0:
            side = photo.with_name(photo.name + ".xmp")
            side.write_text(USER_DT, encoding="utf-8")
            foreign[str(side.relative_to(folder))] = USER_DT
    return foreign


def canonical(data: bytes) -> Any:
    """Whitespace- and order-insensitive structure of an XMP packet, without timestamps."""
    from backend.sidecar.xmp import parse_sidecar

    root = parse_sidecar(data, "<compare>").root

    def walk(e: ET.Element) -> Any:
        attrs = sorted((k, v) for k, v in e.attrib.items() if not k.endswith(_IGNORED_ATTRS))
        text = (e.text or "").strip()
        return (str(e.tag), attrs, text, [walk(c) for c in e if isinstance(c.tag, str)])

    return walk(root)


def _catalog(folder: Path, overwrite: bool) -> list[str]:
    cmd = [sys.executable, "-m", "backend", "catalog", str(folder), "--host", "both", "--jobs", "2", "--json"]
    return cmd + (["--overwrite"] if overwrite else [])


def run_full(folder: Path, overwrite: bool) -> float:
    """Run the catalog to the end; returns its wall time."""
    start = time.perf_counter()
    proc = subprocess.run(_catalog(folder, overwrite), cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 9):
        raise SystemExit(f"catalog failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def sidecars(folder: Path) -> dict[str, bytes]:
    """Every ``.xmp`` under ``folder``: relative name -> bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.xmp"))}


def _user_items(text: bytes) -> list[str]:
    """What of the user's must survive in a sidecar: rating, keyword, foreign namespace, darktable entries."""
    out = []
    for needle in (b'xmp:Rating="4"', b'xmp:Rating="3"', b"acme", b"fjord"):
        if needle in text:
            out.append(needle.decode())
    return out


def check_after_kill(folder: Path, foreign: dict[str, str]) -> tuple[bool, bool, int, int]:
    """(every sidecar parses, the user's sidecars keep their metadata and history, temp files, lock files)."""
    from backend.sidecar.xmp import parse_sidecar

    parse_ok = True
    for name, data in sidecars(folder).items():
        try:
            parse_sidecar(data, name)
        except Exception:  # any failure to parse is the finding
            parse_ok = False
    kept = True
    for name, original in foreign.items():
        path = folder / name
        if not path.exists():
            kept = False
            continue
        now = path.read_bytes()
        if any(item not in now.decode("utf-8", "replace") for item in _user_items(original.encode())):
            kept = False
        if name.endswith(".jpg.xmp") or name.endswith(".nef.xmp"):
            for op in (b'darktable:operation="flip"', b'darktable:operation="vignette"', b"00000000000000000000803f"):
                if op not in now:
                    kept = False
    temps = sum(1 for p in folder.rglob(".*.tmp"))
    locks = sum(1 for p in folder.rglob("*.lock"))
    return parse_ok, kept, temps, locks


def journal_done(folder: Path) -> int:
    """Photos the journal records as finished."""
    journal = folder / DEFAULT_JOURNAL_NAME
    if not journal.exists():
        return 0
    done = 0
    for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the line being written when the process died
        done += isinstance(entry, dict) and "photo" in entry
    return done


def revert_all(folder: Path) -> None:
    photos = [str(p) for p in sorted(folder.rglob("*")) if p.suffix.lower() in (".jpg", ".nef")]
    for i in range(0, len(photos), 200):
        cmd = [sys.executable, "-m", "backend", "revert", *photos[i : i + 200], "--host", "both", "--json"]
        subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--photos", type=int, default=500)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench_crash_"))
    rng = random.Random(args.seed)
    template = scratch / "template"
    foreign = make_template(template, args.photos, args.seed)
    reference: dict[bool, tuple[dict[str, Any], float]] = {}
    for overwrite in (False, True):
        ref = scratch / f"reference{int(overwrite)}"
        shutil.copytree(template, ref)
        seconds = run_full(ref, overwrite)
        reference[overwrite] = ({k: canonical(v) for k, v in sidecars(ref).items()}, seconds)
        shutil.rmtree(ref)
    print(
        f"{args.photos} photos, {len(foreign)} of the user's sidecars; uninterrupted run "
        f"{reference[False][1]:.1f} s (keep edits) / {reference[True][1]:.1f} s (--overwrite); "
        f"load {os.getloadavg()[0]:.2f}\n"
    )
    print(
        "| trial | --overwrite | killed at s | journal done | sidecars | all parse | user's kept | temp files "
        "| lock files | resume = uninterrupted | revert restores |"
    )
    print("|---:|---|---:|---:|---:|---|---|---:|---:|---|---|")
    failures = 0
    for trial in range(args.trials):
        overwrite = trial % 2 == 1
        work = scratch / f"trial{trial}"
        shutil.copytree(template, work)
        full = reference[overwrite][1]
        delay = rng.uniform(0.05, 0.95) * full
        proc = subprocess.Popen(
            _catalog(work, overwrite), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        time.sleep(delay)
        kill_group(proc)
        done = journal_done(work)
        count = len(sidecars(work))
        parse_ok, kept, temps, locks = check_after_kill(work, foreign)
        run_full(work, overwrite)
        resumed = {k: canonical(v) for k, v in sidecars(work).items()} == reference[overwrite][0]
        revert_all(work)
        after = sidecars(work)
        restored = set(after) == set(foreign) and all(
            canonical(after[k]) == canonical(v.encode()) for k, v in foreign.items()
        )
        ok = parse_ok and kept and resumed and restored
        failures += not ok
        print(
            f"| {trial} | {'yes' if overwrite else 'no'} | {delay:.1f} | {done} | {count} | {_yn(parse_ok)} "
            f"| {_yn(kept)} | {temps} | {locks} | {_yn(resumed)} | {_yn(restored)} |"
        )
        shutil.rmtree(work)
    print(f"\n{args.trials} trials: {args.trials - failures} lost nothing, {failures} lost something")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if failures == 0 else 1


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of ``proc`` (the catalog and its workers) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _yn(flag: bool) -> str:
    return "yes" if flag else "**NO**"


if __name__ == "__main__":
    raise SystemExit(main())
