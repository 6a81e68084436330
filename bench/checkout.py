"""Checkout benchmark: many guest shoppers placing orders at once, in production mode.

Makes a store with N single-variant products in its own PostgreSQL database, starts Pasar under
gunicorn (sync workers or gthread) with a real `flask worker` on Redis, and a bare Flask +
SQLAlchemy app doing one INSERT per POST (bench/bare_app.py) on the same database, served the
same way. Each shopper has its own cookie jar and its own client address (X-Forwarded-For, as
behind a proxy, so the per-address rate limits apply per shopper as they would in production):
it adds one to three items to its cart (most shoppers buy different items, about a third also
one of a few "hot" items everybody wants), goes through contact, address and shipping, opens
the review and places the order.

Two measurements, both at `--concurrency` shoppers at a time:
- *place*: every shopper is first brought to the review page; then all the place-order POSTs are
  sent and timed on their own (orders/s, p50/p95/max of the POST);
- *flow*: shoppers do the whole flow from the first page to the order (flows/s and the
  place-order POST's latency while other shoppers browse and fill in forms).
Then the bare app receives as many POSTs at the same concurrency, for the ceiling.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench_checkout \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/checkout.py --shoppers 200 --concurrency 32

Results are recorded in bench/RESULTS.md.
"""

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.catalog import as_admin, vacuum_analyze  # noqa: E402
from bench.setup import bench_store, prepare  # noqa: E402

HOST = "bench.pasar.test"
ADDRESS = {
    "country": "US",
    "full_name": "Bench Shopper",
    "line1": "1 Market St",
    "city": "San Francisco",
    "region": "US-CA",
    "postal_code": "94105",
}
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')


class Shopper:
    """One browser: its own cookies, its own address, the CSRF token of the last page."""

    def __init__(self, base: str, number: int):
        self.base = base
        self.http = requests.Session()
        self.cookies: dict[str, str] = {}
        self.ip = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256 or 1}"
        self.csrf = ""

    def request(self, method: str, path: str, **form) -> requests.Response:
        headers = {
            "Host": HOST,
            "X-Forwarded-For": self.ip,
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if method == "POST":
            headers["Origin"] = f"http://{HOST}"
            form["csrf_token"] = self.csrf
        response = self.http.request(
            method, self.base + path, data=form or None, headers=headers, allow_redirects=False
        )
        # The cookies' Domain is the platform's, not 127.0.0.1: keep them by hand.
        for raw in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = raw.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        found = CSRF_RE.search(response.text) if method == "GET" else None
        if found:
            self.csrf = found.group(1)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response

    def to_review(self, variant_ids: list[int]) -> str:
        self.request("GET", "/cart")
        for variant_id in variant_ids:
            self.request("POST", "/cart/items", variant_id=variant_id, quantity=1)
        self.request("GET", "/checkout/contact")
        self.request("POST", "/checkout/contact", email=f"{uuid.uuid4().hex[:12]}@example.com")
        self.request("POST", "/checkout/address", **ADDRESS)
        self.request("POST", "/checkout/shipping", shipping_method="standard")
        page = self.request("GET", "/checkout/review")
        return KEY_RE.search(page.text).group(1)

    def place(self, key: str) -> float:
        started = time.perf_counter()
        response = self.request("POST", "/checkout/place", idempotency_key=key)
        elapsed = time.perf_counter() - started
        if response.status_code != 303 or "/pay/test/" not in response.headers["Location"]:
            raise RuntimeError(f"place: {response.status_code} {response.headers.get('Location')}")
        return elapsed


def basket(rng: random.Random, products: list[int], hot: list[int]) -> list[int]:
    """One to three different items; about a third of shoppers also take a hot one."""
    chosen = set(rng.sample(products, rng.randint(1, 2)))
    if rng.random() < 0.35:
        chosen.add(rng.choice(hot))
    return sorted(chosen)


def summary(label: str, latencies: list[float], wall: float) -> str:
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"{label}: {len(ordered)} in {wall:.2f}s = {len(ordered) / wall:.1f}/s · "
        f"p50 {statistics.median(ordered) * 1000:.0f} ms · p95 {p95 * 1000:.0f} ms · "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


def run_pool(concurrency: int, jobs) -> tuple[list, float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda job: job(), jobs))
    return results, time.perf_counter() - started


def wait_for(url: str, host: str, limit: float = 60) -> None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            requests.get(url, headers={"Host": host}, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer in {limit}s")


def gunicorn(app: str, port: int, args, env: dict) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread" if args.threads > 1 else "sync",
        "--backlog",
        "2048",
        app,
    ]
    return subprocess.Popen(  # noqa: S603 (our own command line)
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(tempfile.gettempdir()) / f"pasar-bench-gunicorn-{port}.log", "w"),
        start_new_session=True,
    )


TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (gunicorn's master and its workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


class CpuMeter:
    """CPU seconds used by Pasar's web processes, its worker, the PostgreSQL backends serving
    the benchmark's database, Redis and this client, between `start()` and `stop()`."""

    def __init__(self, engine, redis_client, web_pgid: int, worker_pgid: int):
        self.engine, self.redis = engine, redis_client
        self.web_pgid, self.worker_pgid = web_pgid, worker_pgid

    def _backends(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            )

    def _read(self) -> dict:
        info = self.redis.info("cpu")
        return {
            "web": {pid: process_cpu(pid) for pid in group_pids(self.web_pgid)},
            "worker": {pid: process_cpu(pid) for pid in group_pids(self.worker_pgid)},
            "postgres": {pid: process_cpu(pid) for pid in self._backends()},
            "redis": {0: info["used_cpu_user"] + info["used_cpu_sys"]},
            "client": {0: sum(os.times()[:2])},
        }

    def start(self) -> None:
        self.before = self._read()

    def stop(self, count: int) -> str:
        """CPU ms per request for each part since `start()`, as one line."""
        after = self._read()
        parts = {}
        for name, now in after.items():
            then = self.before[name]
            parts[name] = sum(cpu - then.get(pid, 0.0) for pid, cpu in now.items())
        server = parts["web"] + parts["worker"] + parts["postgres"] + parts["redis"]
        detail = ", ".join(f"{name} {cpu * 1000 / count:.1f}" for name, cpu in parts.items())
        return f"CPU ms per request: {server * 1000 / count:.1f} on the server side ({detail})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--hot", type=int, default=5, help="items many shoppers buy")
    # One process per core of this 2-core machine: 2 x 8 placed about twice the orders per
    # second of 4 x 4 with a third of PostgreSQL's CPU per order (fewer backends, each warmer).
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--port", type=int, default=8801)
    parser.add_argument("--bare-port", type=int, default=8802)
    args = parser.parse_args()
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench_checkout"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    app, env = prepare(
        url,
        redis_url,
        BENCH_DATABASE_URL=url,
        ALLOW_TEST_PAYMENTS="1",
        TRUSTED_PROXIES="1",
    )
    import redis

    from app.catalog.models import Variant
    from app.extensions import db
    from bench import bare_app
    from tests.bulk import bulk_variants

    with as_admin(app):
        store, _ = bench_store()
        bulk_variants(store.id, args.products, stock=100_000)
        db.session.commit()
        variant_ids = sorted(db.session.scalars(db.select(Variant.id)).all())
    with app.app_context():
        vacuum_analyze(db.engine)
    bare_app.create_table()
    rng = random.Random(14)
    hot, products = variant_ids[: args.hot], variant_ids[args.hot :]

    processes = [
        gunicorn("wsgi:app", args.port, args, env),
        gunicorn("bench.bare_app:app", args.bare_port, args, env),
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
    ]
    bench_engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    base = f"http://127.0.0.1:{args.port}"
    bare = f"http://127.0.0.1:{args.bare_port}"
    try:
        wait_for(base + "/healthz", HOST)
        wait_for(bare + "/", "x")
        print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
        # Warm every worker's connections and caches.
        warm = [Shopper(base, 60_000 + n) for n in range(args.concurrency)]
        run_pool(args.concurrency, [lambda s=s: s.request("GET", "/cart") for s in warm])

        # 1. Place only: everybody at the review page, then all the POSTs.
        shoppers = [Shopper(base, n) for n in range(args.shoppers)]
        baskets = [basket(rng, products, hot) for _ in shoppers]
        keys, prepared = run_pool(
            args.concurrency,
            [lambda s=s, b=b: s.to_review(b) for s, b in zip(shoppers, baskets, strict=True)],
        )
        print(f"prepared {len(shoppers)} shoppers in {prepared:.1f}s")
        meter = CpuMeter(
            bench_engine, redis.Redis.from_url(redis_url), processes[0].pid, processes[2].pid
        )
        meter.start()
        latencies, wall = run_pool(
            args.concurrency,
            [lambda s=s, k=k: s.place(k) for s, k in zip(shoppers, keys, strict=True)],
        )
        place_line = summary("place-order POST", latencies, wall)
        place_cpu = meter.stop(len(latencies))

        # 2. The whole flow, place-order POSTs timed among the other steps.
        flow_shoppers = [Shopper(base, 100_000 + n) for n in range(args.shoppers)]
        flow_baskets = [basket(rng, products, hot) for _ in flow_shoppers]
        flow_places: list[float] = []
        lock = threading.Lock()

        def flow(shopper: Shopper, items: list[int]) -> float:
            started = time.perf_counter()
            elapsed = shopper.place(shopper.to_review(items))
            with lock:
                flow_places.append(elapsed)
            return time.perf_counter() - started

        flows, flow_wall = run_pool(
            args.concurrency,
            [lambda s=s, b=b: flow(s, b) for s, b in zip(flow_shoppers, flow_baskets, strict=True)],
        )
        flow_line = summary("whole flow (8 requests)", flows, flow_wall)
        flow_place_line = summary("  its place-order POSTs", flow_places, flow_wall)

        # 3. The ceiling: the bare app, as many POSTs at the same concurrency.
        sessions = [requests.Session() for _ in range(args.shoppers)]

        def bare_post(n: int) -> float:
            started = time.perf_counter()
            response = sessions[n].post(
                bare + "/place",
                data={"email": f"b{n}@example.com", "key": uuid.uuid4().hex},
                allow_redirects=False,
            )
            assert response.status_code == 303, response.status_code
            return time.perf_counter() - started

        meter = CpuMeter(
            bench_engine, redis.Redis.from_url(redis_url), processes[1].pid, processes[2].pid
        )
        meter.start()
        bare_latencies, bare_wall = run_pool(
            args.concurrency, [lambda n=n: bare_post(n) for n in range(args.shoppers)]
        )
        bare_line = summary("bare Flask INSERT POST", bare_latencies, bare_wall)
        bare_cpu = meter.stop(len(bare_latencies))
        load = os.getloadavg()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    with as_admin(app):
        from app.orders.models import Order

        placed = db.session.scalar(db.select(db.func.count()).select_from(Order))
    mode = f"gthread {args.workers}x{args.threads}" if args.threads > 1 else "sync"
    print(
        f"{args.shoppers} shoppers, {args.concurrency} at a time, {args.products} products "
        f"({args.hot} hot), gunicorn {mode}; {placed} orders in the database"
    )
    print(place_line)
    print(f"  {place_cpu}")
    print(flow_line)
    print(flow_place_line)
    print(bare_line)
    print(f"  {bare_cpu}")
    ratio = (len(latencies) / wall) / (len(bare_latencies) / bare_wall)
    print(f"place-order throughput is {ratio:.2f} of the bare ceiling")
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
