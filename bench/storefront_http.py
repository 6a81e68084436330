"""HTTP benchmark of the storefront pages shoppers hit most, against a bare Flask ceiling.

Seeds one store with N products in a fresh PostgreSQL database, serves Pasar (production
mode: PostgreSQL and Redis, the page cache on unless --no-page-cache) and bench/bare_listing.py
(the ceiling: the same 24 products with a layout, nothing else) under gunicorn, then in
interleaved rounds runs wrk against each page and measures single requests one at a time:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_h4_bench \\
    BENCH_REDIS_URL=redis://127.0.0.1:6414/3 \\
        .venv/bin/python bench/storefront_http.py --products 2000 --rounds 5

Prints req/s (median of the rounds), the wrk p50, the single-request p50 and each page's
ratio to the ceiling's req/s. Needs `wrk` on the PATH. Results are recorded in
bench/RESULTS.md.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.catalog import seed, vacuum_analyze
from bench.setup import ROOT, prepare

HOST = "bench.pasar.test"
PAGES = {
    "listing": "/products/",
    "filtered listing": "/products/?category={category}&min=20&max=200&in_stock=1"
    "&tag=sale&sort=price-asc",
    "search": "/search?q=cotton+shirt",
    "store home": "/",
    "product page": "/products/{product}",
}
CEILING = "bare Flask listing"


def gunicorn(target: str, port: int, workers: int, env: dict, log: str) -> subprocess.Popen:
    """gunicorn serving `target` with sync workers, in a process group of its own."""
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--backlog",
        "2048",
        target,
    ]
    return subprocess.Popen(  # noqa: S603 (our own command line)
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(tempfile.gettempdir()) / log, "w"),
        start_new_session=True,
    )


def wait_for(url: str, limit: float = 60) -> None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if requests.get(url, headers={"Host": HOST}, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 in {limit}s")


def wrk(url: str, seconds: int, connections: int, threads: int) -> tuple[float, float, int]:
    """(requests/s, p50 ms, non-2xx count) of one wrk run."""
    out = subprocess.run(  # noqa: S603 (our own command line)
        [
            shutil.which("wrk") or "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Host: {HOST}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups()
    p50 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, int(bad.group(1)) if bad else 0


def single_p50(url: str, count: int) -> float:
    """Median time of `count` requests sent one after another on one keep-alive connection."""
    session = requests.Session()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url, headers={"Host": HOST}, timeout=10)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per page and round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--singles", type=int, default=100, help="single requests per round")
    parser.add_argument("--port", type=int, default=7540)
    parser.add_argument("--bare-port", type=int, default=7541)
    parser.add_argument("--no-page-cache", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_h4_bench"
    ).replace("postgresql://", "postgresql+psycopg://", 1)
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6414/3")
    extra = {"LOG_FORMAT": "json", "PAGE_CACHE_TTL": "0" if args.no_page_cache else "600"}
    app, env = prepare(url, redis_url, **extra)
    started = time.perf_counter()
    info = seed(app, args.products, "bench", 1, "bench@example.com")
    from app.extensions import db

    with app.app_context():
        from tenants.models import Store

        store = db.session.scalar(db.select(Store).where(Store.slug == "bench"))
        store_id = store.id
        vacuum_analyze(db.engine)
        db.engine.dispose()
    print(f"seeded {args.products:,} products in {time.perf_counter() - started:.1f}s")
    env = {**env, "BENCH_DATABASE_URL": url, "BENCH_STORE_ID": str(store_id)}
    servers = [
        gunicorn("wsgi:app", args.port, args.workers, env, f"pasar-http-{args.port}.log"),
        gunicorn("bench.bare_listing:app", args.bare_port, args.workers, env, "pasar-bare.log"),
    ]
    try:
        base, bare = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.bare_port}"
        targets = {name: base + path.format(**info) for name, path in PAGES.items()}
        targets[CEILING] = bare + "/"
        for target in targets.values():
            wait_for(target)
        results = {name: {"rps": [], "p50": [], "single": [], "bad": 0} for name in targets}
        names = list(targets)
        for round_ in range(args.rounds):
            # Interleaved, each round in another order, so a busy moment hits every page alike.
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                rps, p50, bad = wrk(targets[name], args.seconds, args.connections, args.threads)
                results[name]["rps"].append(rps)
                results[name]["p50"].append(p50)
                results[name]["bad"] += bad
                results[name]["single"].append(single_p50(targets[name], args.singles))
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
    ceiling = statistics.median(results[CEILING]["rps"])
    cache = "off" if args.no_page_cache else "on"
    print(
        f"\n{args.products:,} products, gunicorn {args.workers} sync workers, wrk -t{args.threads}"
        f" -c{args.connections} -d{args.seconds}s x {args.rounds} rounds, page cache {cache}\n"
    )
    print("| page | req/s | ratio to ceiling | wrk p50 (ms) | single-request p50 (ms) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, found in results.items():
        rps = statistics.median(found["rps"])
        note = f" ({found['bad']} non-2xx)" if found["bad"] else ""
        print(
            f"| {name}{note} | {rps:.0f} | {rps / ceiling:.2f} | "
            f"{statistics.median(found['p50']):.1f} | {statistics.median(found['single']):.1f} |"
        )


if __name__ == "__main__":
    main()
