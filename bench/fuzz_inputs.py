"""Long fuzzing run: every input autoretouch reads from users, mutated, for a fixed time; prints the tally.

The same targets and invariants as the CI module (``tests/test_fuzz.py``, :mod:`testing.fuzz`), run for
longer and with a real daemon process: ``autoretouch serve`` is started as a child process on free loopback
ports (root: a scratch folder with raw-named photos and the user's own sidecars; styles: the shipped
ones), and every bridge request is followed by a check that the process is still alive and answers
``/healthz`` (a death is counted and the daemon restarted). The local targets (photos, sidecars, Lightroom
settings text, recipes) run in this process.

Goal (issue: hardening): >= 10,000 inputs, 0 untyped errors, 0 daemon deaths, 0 changed sidecars.

    python bench/fuzz_inputs.py --minutes 10            # about 60,000 inputs on 2 cores
    python bench/fuzz_inputs.py --minutes 1 --seed 7
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.fuzz import (  # noqa: E402
    USER_DT,
    USER_LR,
    Failure,
    Mutator,
    Tally,
    bridge_healthy,
    format_tally,
    fuzz_bridge,
    make_world,
    run_fuzz,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaemonProcess:
    """``autoretouch serve`` as a child process on free loopback ports."""

    def __init__(self, root: Path, styles: Path, log: Path) -> None:
        self.root, self.styles, self.log = root, styles, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = 0
        self.starts = 0

    def start(self) -> None:
        """Start (or restart) the daemon and wait until ``/healthz`` answers."""
        self.http = _free_port()
        cmd = [sys.executable, "-m", "backend", "serve", "--root", str(self.root), "--styles", str(self.styles),
               "--port", str(_free_port()), "--http-port", str(self.http), "--workers", "2"]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited at start-up (status {self.proc.returncode}); see {self.log}")
            if bridge_healthy(self.http):
                return
            time.sleep(0.2)
        raise SystemExit(f"the daemon did not become healthy in 60 s; see {self.log}")

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Terminate the daemon."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget")
    p.add_argument("--seed", type=int, default=2026, help="mutation seed (a run is reproducible from it)")
    p.add_argument("--styles", type=Path, default=ROOT / "backend" / "styles", help="the daemon's style folder")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (failing inputs, daemon log)")
    args = p.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="fuzz_inputs_"))
    world = make_world(scratch / "world")
    root = scratch / "root"
    root.mkdir()
    photos = []
    for i in range(3):
        photo = root / f"p{i}.nef"
        shutil.copyfile(world.photo, photo)
        photos.append(photo)
    photos[0].with_suffix(".xmp").write_text(USER_LR, encoding="utf-8")
    photos[1].with_name(photos[1].name + ".xmp").write_text(USER_DT, encoding="utf-8")
    daemon = DaemonProcess(root, args.styles, scratch / "daemon.log")
    daemon.start()

    def bridge(m: Mutator, tally: Tally) -> None:
        seen = len(tally.failures)
        fuzz_bridge(m, tally, port=daemon.http, photos=photos, recipe=world.recipes[1])
        reported = any(f.kind == "dead" for f in tally.failures[seen:])
        if not daemon.alive() and not reported:
            status = daemon.proc.returncode if daemon.proc else "?"
            tally.failures.append(Failure("bridge", "dead", f"daemon exited with status {status}", ""))
            reported = True
        if reported:
            daemon.stop()
            daemon.start()

    start = time.perf_counter()
    try:
        tally = run_fuzz(
            world,
            seed=args.seed,
            targets=("image", "sidecar", "settings", "recipe", "bridge"),
            seconds=args.minutes * 60,
            bridge=bridge,
        )
    finally:
        daemon.stop()
    wall = time.perf_counter() - start
    total = sum(tally.tries.values())
    print(
        f"\nfuzz: seed {args.seed}, {wall:.0f} s wall, {total} inputs ({total / wall:.0f}/s), load "
        f"{os.getloadavg()[0]:.2f}; daemon started {daemon.starts} time(s)\n"
    )
    print(format_tally(tally))
    for f in tally.failures[:20]:
        print(f"- {f.target} {f.kind}: {f.detail} <- {f.sample}")
    goal = total >= 10_000 and not tally.failures
    print(f"\ngoal (>= 10,000 inputs, no failures): {'met' if goal else 'NOT met'}")
    if args.keep:
        print(f"scratch kept: {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if goal else 1


if __name__ == "__main__":
    raise SystemExit(main())
