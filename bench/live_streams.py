"""Live updates under load: how many idle streams one `stream` process holds, and the delay from
a change to its event on 1,000 open streams.

Starts the Procfile's `stream` process (gunicorn, one gevent worker) on PostgreSQL and Redis,
opens Server-Sent Events streams to a store's public stock channel from one asyncio client, and
at each level reports the worker's memory and how long a plain request (`/healthz`) to the same
process takes meanwhile. Then, with `--delay-streams` open, publishes `--events` stock events
through the live layer (as a domain function's commit does) and measures, for every stream and
event, the time from publish to the event arriving.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/live_streams.py --port 7641 --levels 1000 2000 4000 \\
        --delay-streams 1000 --events 40
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.setup import ROOT, bench_store, prepare

HOST = "bench.pasar.test"


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's worker processes."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text()
    return [int(pid) for pid in children.split()]


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stream:
    """One open SSE connection; keeps the delays of the timed events it receives."""

    def __init__(self):
        self.open = False
        self.delays: list[float] = []
        self.writer = None

    async def run(self, port: int, opened: asyncio.Event):
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=2**16)
        self.writer.write(
            f"GET /live/stock HTTP/1.1\r\nHost: {HOST}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await self.writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        async for raw in reader:
            line = raw.decode(errors="replace").strip()
            if line.startswith("retry:") and not self.open:
                self.open = True
                opened.set()
            elif line.startswith("data: {"):
                data = json.loads(line[6:])
                if "sent" in data:
                    self.delays.append(time.time() - data["sent"])


async def open_streams(port: int, streams: list, count: int, tasks: list):
    """Open streams until there are `count`, in batches; wait until each has its first bytes."""
    while len(streams) < count:
        batch = []
        for _ in range(min(100, count - len(streams))):
            stream, opened = Stream(), asyncio.Event()
            streams.append(stream)
            tasks.append(asyncio.create_task(stream.run(port, opened)))
            batch.append(opened.wait())
        await asyncio.wait_for(asyncio.gather(*batch), timeout=120)


async def healthz_ms(port: int) -> float:
    """One plain request to the stream process, timed (median of 5)."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: pasar.test\r\nConnection: close\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(args):
    url = os.environ["BENCH_DATABASE_URL"]
    redis_url = os.environ["BENCH_REDIS_URL"]
    app, env = prepare(url, redis_url)
    with app.app_context():
        store, _ = bench_store()
        store_id = store.id
    env = {**env, "LIVE_HEARTBEAT_SECONDS": "15"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [
        sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
        "--worker-class", "gevent", "--workers", "1", "--worker-connections", "20000",
        "--bind", f"127.0.0.1:{args.port}", "--no-control-socket", "wsgi:app",
    ]  # fmt: skip
    server = subprocess.Popen(  # noqa: S603 (our own command line)
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    streams, tasks = [], []
    try:
        for _ in range(100):
            try:
                await healthz_ms(args.port)
                break
            except OSError:
                await asyncio.sleep(0.2)
        worker = worker_pids(server.pid)[0]
        print(f"stream process up; worker {worker}: {rss_mb(worker):.0f} MB with no stream")
        print("| open streams | worker RSS (MB) | KB per stream | /healthz meanwhile (ms) |")
        print("| ---: | ---: | ---: | ---: |")
        base = rss_mb(worker)
        for level in sorted(set(args.levels) | {args.delay_streams}):
            await open_streams(args.port, streams, level, tasks)
            await asyncio.sleep(1)
            alive = sum(1 for s in streams if s.open)
            rss = rss_mb(worker)
            print(
                f"| {alive:,} | {rss:.0f} | {(rss - base) * 1024 / max(alive, 1):.1f} "
                f"| {await healthz_ms(args.port):.1f} |"
            )
            if level == args.delay_streams:
                await measure_delay(app, store_id, streams, args)
    finally:
        for task in tasks:
            task.cancel()
        server.terminate()
        server.wait(30)


async def measure_delay(app, store_id, streams, args):
    """Publish timed events while `streams` are open; print the delay percentiles."""
    from app.live import publish, stock_channel

    for stream in streams:
        stream.delays.clear()
    with app.app_context():
        for _ in range(args.events):
            publish(stock_channel(store_id), "stock", {"variants": [1], "sent": time.time()})
            await asyncio.sleep(args.gap)
    await asyncio.sleep(3)
    delays = sorted(d for s in streams for d in s.delays)
    expected = len(streams) * args.events
    if not delays:
        print("no event arrived")
        return
    p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000  # noqa: E731
    print(
        f"\n{len(streams):,} open streams, {args.events} events {args.gap * 1000:.0f} ms apart: "
        f"{len(delays):,} of {expected:,} deliveries; delay p50 {p(0.5):.1f} ms, "
        f"p95 {p(0.95):.1f} ms, p99 {p(0.99):.1f} ms, max {delays[-1] * 1000:.1f} ms\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7641)
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--delay-streams", type=int, default=1000)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between events")
    asyncio.run(main(parser.parse_args()))
