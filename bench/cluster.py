"""Throughput through nginx with one and with two gunicorn instances, in the same run.

Sets up a fresh database with one store of N products (bench/setup.py), then starts the local
cluster (scripts/cluster.py: nginx, the instances, two workers, cron) twice: with `--web 1`,
then with `--web 2`. Against each it measures, through nginx:
- *orders/s*: `--shoppers` guest shoppers are brought to the review page (bench/checkout.py's
  Shopper), then all their place-order POSTs are sent, `--concurrency` at a time;
- *listing req/s*: `--concurrency` clients request `/products/` (pages 1-5) for `--seconds`.
Each shopper connects from a loopback address of its own, so nginx's X-Forwarded-For gives the
app one client per shopper (the per-address rate limits apply per shopper, as in production).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench_cluster \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/cluster.py --port 8090

Results are recorded in bench/RESULTS.md.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.catalog import as_admin, vacuum_analyze  # noqa: E402
from bench.checkout import HOST, Shopper, basket, run_pool, summary  # noqa: E402
from bench.setup import bench_store, prepare  # noqa: E402


def source_for(number: int) -> str:
    return f"127.3.{number // 250 % 250}.{number % 250 + 1}"


def shopper(base: str, number: int) -> Shopper:
    from tests.integration.shop_load import SourceAddress

    person = Shopper(base, number)
    person.http.mount("http://", SourceAddress(source_for(number)))
    return person


def start_cluster(args, instances: int, run_dir: Path, env: dict) -> subprocess.Popen:
    log = open(run_dir / f"launcher-{instances}.log", "wb")  # noqa: SIM115 (the process's)
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [
            sys.executable,
            str(ROOT / "scripts" / "cluster.py"),
            *("--port", str(args.port), "--web", str(instances)),
            *("--web-workers", str(args.workers), "--web-threads", str(args.threads)),
            *("--database-url", env["DATABASE_URL"], "--redis-url", env["REDIS_URL"]),
            *("--run-dir", str(run_dir / f"web{instances}")),
            "--no-setup",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    ports = [args.port + 1 + i for i in range(instances)] + [args.port]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if all(
                requests.get(
                    f"http://127.0.0.1:{port}/readyz", headers={"Host": HOST}, timeout=2
                ).ok
                for port in ports
            ):
                return process
        except requests.RequestException:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"the cluster with {instances} instance(s) did not get ready")


def stop_cluster(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()


def orders_per_second(args, base: str, offset: int, products, hot, rng) -> tuple[str, float]:
    shoppers = [shopper(base, offset + n) for n in range(args.shoppers)]
    baskets = [basket(rng, products, hot) for _ in shoppers]
    keys, prepared = run_pool(
        args.concurrency,
        [lambda s=s, b=b: s.to_review(b) for s, b in zip(shoppers, baskets, strict=True)],
    )
    latencies, wall = run_pool(
        args.concurrency,
        [lambda s=s, k=k: s.place(k) for s, k in zip(shoppers, keys, strict=True)],
    )
    flow_rate = args.shoppers * 7 / prepared  # requests/s while filling carts and forms
    line = summary("place-order POST", latencies, wall)
    return f"{line} (carts and forms before it: {flow_rate:.0f} req/s)", len(latencies) / wall


def listing_per_second(args, base: str, offset: int) -> tuple[str, float]:
    stop_at = time.monotonic() + args.seconds
    counts, errors, latencies = [0] * args.concurrency, [0], []
    lock = threading.Lock()

    def client(i: int) -> None:
        person = shopper(base, offset + i)
        rng = random.Random(i)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            response = person.http.get(
                f"{base}/products/?page={rng.randint(1, 5)}", headers={"Host": HOST}, timeout=30
            )
            elapsed = time.perf_counter() - started
            with lock:
                if response.status_code == 200:
                    counts[i] += 1
                    latencies.append(elapsed)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    line = summary("listing GET /products/", latencies, wall)
    return f"{line}, {errors[0]} errors", sum(counts) / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--hot", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20, help="listing load per phase")
    parser.add_argument("--workers", type=int, default=2, help="processes per instance")
    parser.add_argument("--threads", type=int, default=8, help="threads per process")
    parser.add_argument("--port", type=int, default=8090, help="nginx; instances on the next")
    parser.add_argument(
        "--order", default="1,2", help="instance counts in the order measured (2,1: reversed)"
    )
    args = parser.parse_args()
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench_cluster"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    app, env = prepare(
        url,
        redis_url,
        ALLOW_TEST_PAYMENTS="1",
        PLATFORM_DOMAIN=f"pasar.test:{args.port}",
        SHUTDOWN_DRAIN_SECONDS="0",
    )

    from app.catalog.models import Variant
    from app.extensions import db
    from tests.bulk import bulk_variants

    with as_admin(app):
        store, _ = bench_store()
        bulk_variants(store.id, args.products, stock=1_000_000)
        db.session.commit()
        variant_ids = sorted(db.session.scalars(db.select(Variant.id)).all())
        vacuum_analyze(db.engine)
    hot, products = variant_ids[: args.hot], variant_ids[args.hot :]
    global HOST  # bench/checkout.py's Shopper reads its module's HOST
    import bench.checkout

    HOST = bench.checkout.HOST = f"bench.pasar.test:{args.port}"
    rng = random.Random(18)
    base = f"http://127.0.0.1:{args.port}"
    run_dir = Path(tempfile.mkdtemp(prefix="pasar-bench-cluster-"))
    results = {}
    print(f"load before: {os.getloadavg()[0]:.2f}")
    for phase, instances in enumerate(int(count) for count in args.order.split(",")):
        cluster = start_cluster(args, instances, run_dir, env)
        try:
            offset = 10_000 * (phase + 1)
            warm = [shopper(base, offset + 9_000 + n) for n in range(args.concurrency)]
            run_pool(args.concurrency, [lambda s=s: s.request("GET", "/cart") for s in warm])
            order_line, orders = orders_per_second(args, base, offset, products, hot, rng)
            list_line, listing = listing_per_second(args, base, offset + 5_000)
        finally:
            stop_cluster(cluster)
        results[instances] = (orders, listing)
        print(f"== {instances} instance(s) of {args.workers}x{args.threads} behind nginx")
        print(f"  {order_line}")
        print(f"  {list_line}")
    (o1, l1), (o2, l2) = results[1], results[2]
    print(f"orders/s: {o1:.1f} -> {o2:.1f} ({o2 / o1:.2f}x)")
    print(f"listing req/s: {l1:.1f} -> {l2:.1f} ({l2 / l1:.2f}x)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; logs {run_dir}")


if __name__ == "__main__":
    main()
