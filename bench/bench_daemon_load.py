"""Load test of the daemon: concurrent gRPC clients sending Suggest for real photos to a local daemon.

What runs: ``autoretouch serve`` as its own process on loopback ports chosen by the OS (``--port 0``), with
``--root ../shared/data``, ``--workers W`` and a style folder holding the trained ``default`` style when one is
installed, else a randomly initialised one of the default size (same cost per photo; an untrained policy
takes all 5 steps, the worst case). ``--clients`` threads, each with its own channel, send ``--requests``
Suggest calls each, cycling through the photos (kodak24 PNGs, fivek_pairs/input PNG/TIFF, exposure_samples
JPEG/PNG), all hosts requested. Measured: errors by status code, latency percentiles (client wall clock,
including queueing in the daemon), throughput, and the daemon's RSS before the load (after one warm-up call),
after it, and its peak (VmHWM), from /proc.

    python bench/bench_daemon_load.py                       # 16 clients x 500 suggests
    python bench/bench_daemon_load.py --clients 4 --requests 20 --workers 2

The clients share this process (and the GIL) and the machine with the daemon, so on a small machine the
latencies include client-side contention; the throughput is the daemon's at saturation.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.rpc import PROTOCOL_VERSION, pb, pb_grpc  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SOURCES = (
    ("kodak24", ("*.png",)),
    ("fivek_pairs/input", ("*.png", "*.tif")),
    ("exposure_samples", ("*.jpg", "*.png")),
)


def photos(limit: int) -> list[Path]:
    groups = [sorted(p for pattern in patterns for p in (DATA / folder).glob(pattern)) for folder, patterns in SOURCES]
    # interleave the sources so that every client sees a mix
    mixed = [p for row in itertools.zip_longest(*groups) for p in row if p is not None]
    if not mixed:
        raise SystemExit(f"no photos under {DATA}; the benchmark needs ../shared/data")
    return mixed[:limit] if limit > 0 else mixed


def style_dir(tmp: Path) -> tuple[Path, str]:
    from backend.agent.style import StyleStore

    try:
        path = StyleStore().find("default")
        return path.parent, "trained default style"
    except Exception:  # no trained default installed: a random one of the same size
        import torch

        from backend.agent.network import AgentNet
        from backend.agent.style import Style, save_style

        torch.manual_seed(0)
        save_style(Style(name="default", net=AgentNet().eval(), description="bench"), tmp)
        return tmp, "random default-size style"


def rss_kib(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def start_daemon(styles: Path, workers: int, queue: int) -> tuple[subprocess.Popen[str], int]:
    cmd = [
        sys.executable, "-m", "backend.cli.main", "serve", "--port", "0", "--no-http", "--root", str(DATA),
        "--styles", str(styles), "--workers", str(workers), "--queue", str(queue),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(r"grpc=127\.0\.0\.1:(\d+)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
            return proc, int(match.group(1))
    proc.kill()
    raise SystemExit("the daemon did not start")


def wait_serving(port: int) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise SystemExit("the daemon never became SERVING")


def client(port: int, files: list[Path], offset: int, n: int, timeout: float, out: list[tuple[float, str]]) -> None:
    hosts = [pb.HOST_LIGHTROOM, pb.HOST_DARKTABLE]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.RetoucherStub(channel)
        for i in range(n):
            photo = files[(offset + i) % len(files)]
            req = pb.SuggestRequest(protocol_version=PROTOCOL_VERSION, path=str(photo), hosts=hosts)
            start = time.perf_counter()
            try:
                stub.Suggest(req, timeout=timeout)
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name  # type: ignore[attr-defined]
            out.append((time.perf_counter() - start, code))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--requests", type=int, default=500, help="Suggest calls per client (default 500)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="daemon --workers (default: CPUs)")
    parser.add_argument("--queue", type=int, default=32, help="daemon --queue (default 32)")
    parser.add_argument("--photos", type=int, default=0, help="use at most this many photos (0 = all)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-call deadline in seconds")
    args = parser.parse_args()

    files = photos(args.photos)
    with tempfile.TemporaryDirectory(prefix="bench_daemon_") as tmp:
        styles, what = style_dir(Path(tmp))
        proc, port = start_daemon(styles, args.workers, args.queue)
        try:
            wait_serving(port)
            warm: list[tuple[float, str]] = []
            client(port, files, 0, 1, args.timeout, warm)
            before = rss_kib(proc.pid)
            results: list[list[tuple[float, str]]] = [[] for _ in range(args.clients)]
            threads = [
                threading.Thread(target=client, args=(port, files, k * 7, args.requests, args.timeout, results[k]))
                for k in range(args.clients)
            ]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            after = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    flat = [r for rs in results for r in rs]
    codes = Counter(code for _, code in flat)
    ok = [lat * 1000 for lat, code in flat if code == "OK"]
    errors = sum(n for code, n in codes.items() if code != "OK")
    load = os.getloadavg()[0]
    rows = [
        ("daemon", f"workers={args.workers} queue={args.queue} torch_threads=1, {what}"),
        ("photos", f"{len(files)} (kodak24, fivek_pairs/input, exposure_samples)"),
        ("clients x requests", f"{args.clients} x {args.requests} = {len(flat)}"),
        ("ok / errors", f"{len(ok)} / {errors}" + (f"  {dict(codes)}" if errors else "")),
        ("throughput", f"{len(flat) / elapsed:.1f} suggests/s over {elapsed:.1f} s"),
        ("latency p50", f"{percentile(ok, 0.50):.0f} ms" if ok else "-"),
        ("latency p99", f"{percentile(ok, 0.99):.0f} ms" if ok else "-"),
        ("latency mean/max", f"{statistics.fmean(ok):.0f} / {max(ok):.0f} ms" if ok else "-"),
        ("daemon RSS before", f"{before['VmRSS'] / 1024:.0f} MiB"),
        ("daemon RSS after", f"{after['VmRSS'] / 1024:.0f} MiB (peak {after['VmHWM'] / 1024:.0f} MiB)"),
        ("load average (1 min)", f"{load:.2f} on {os.cpu_count()} CPUs"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
