"""Where one place-order request's time goes, in-process, on the database bench/checkout.py made.

Run bench/checkout.py first (it seeds the store and its products), then:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pasar_bench_checkout \\
    BENCH_REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/profile_place.py --orders 100 [--profile]

Brings `--orders` guest shoppers to the review page through the Flask test client (production
mode: PostgreSQL and Redis), then places their orders one at a time and reports, per
place-order POST: wall ms, CPU ms of this process (`time.process_time`, which doesn't depend on
the machine's load), SQL statements and Redis commands. `--profile` adds a cProfile of the
place-order POSTs, sorted by cumulative time.
"""

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from bench.checkout import ADDRESS, CSRF_RE, HOST, KEY_RE  # noqa: E402


class Counts:
    statements = 0
    redis = 0


def count_redis(counts: Counts) -> None:
    """Count every command sent to Redis (pipelines count once per round trip)."""
    import redis.connection

    original = redis.connection.AbstractConnection.send_packed_command

    def send_packed_command(self, command, check_health=True):
        counts.redis += 1
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = send_packed_command


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--pyinstrument", action="store_true", help="if it is importable")
    parser.add_argument("--statements", action="store_true", help="print one request's SQL")
    args = parser.parse_args()
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pasar_bench_checkout"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.update(
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-secret-key-bench-secret-key",
            "PLATFORM_DOMAIN": "pasar.test",
            "ALLOW_TEST_PAYMENTS": "1",
            "TRUSTED_PROXIES": "1",
        }
    )
    from app import create_app
    from app.catalog.models import Variant
    from app.extensions import db

    app = create_app()
    counts = Counts()
    count_redis(counts)
    with app.app_context():
        variant_ids = sorted(db.session.scalars(select(Variant.id)).all())
        statements: list[str] = []

        def on_execute(conn, cursor, statement, parameters, context, executemany):
            counts.statements += 1
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", on_execute)

    def shopper(number: int):
        client = app.test_client()
        ip = f"10.9.{number // 256 % 256}.{number % 256 or 1}"
        base = {"HTTP_X_FORWARDED_FOR": ip, "REMOTE_ADDR": "127.0.0.1"}
        csrf = {}

        def get(path):
            page = client.get(path, base_url=f"http://{HOST}", environ_base=base)
            found = CSRF_RE.search(page.get_data(as_text=True))
            if found:
                csrf["token"] = found.group(1)
            return page

        def post(path, **form):
            form["csrf_token"] = csrf["token"]
            response = client.post(
                path,
                base_url=f"http://{HOST}",
                data=form,
                environ_base=base,
                headers={"Origin": f"http://{HOST}"},
            )
            assert response.status_code < 400, (path, response.status_code)
            return response

        get("/cart")
        post("/cart/items", variant_id=variant_ids[100 + number % 300], quantity=1)
        post("/cart/items", variant_id=variant_ids[number % 5], quantity=1)
        get("/checkout/contact")
        post("/checkout/contact", email=f"{uuid.uuid4().hex[:12]}@example.com")
        post("/checkout/address", **ADDRESS)
        post("/checkout/shipping", shipping_method="standard")
        key = KEY_RE.search(get("/checkout/review").get_data(as_text=True)).group(1)
        return lambda: post("/checkout/place", idempotency_key=key)

    places = [shopper(n) for n in range(args.orders)]
    walls, cpus, sqls, redises = [], [], [], []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if args.pyinstrument:
        from pyinstrument import Profiler
        from pyinstrument.stack_sampler import get_stack_sampler

        get_stack_sampler().timer_func = time.process_time  # CPU, not waiting
        profiler = Profiler(interval=0.0005)
    for n, place in enumerate(places):
        counts.statements = counts.redis = 0
        statements.clear()
        started, cpu = time.perf_counter(), time.process_time()
        if profiler and n >= 5:
            profiler.start() if args.pyinstrument else profiler.enable()
        response = place()
        if profiler and n >= 5:
            profiler.stop() if args.pyinstrument else profiler.disable()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - started) * 1000)
        sqls.append(counts.statements)
        redises.append(counts.redis)
        assert response.status_code == 303 and "/pay/test/" in response.location, response
        if args.statements and n == len(places) - 1:
            print("\n".join(s.split("\n")[0][:150] for s in statements))

    after = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"all {len(places)}: user {(after.ru_utime - usage.ru_utime) * 1000 / len(places):.1f} ms"
        f" + system {(after.ru_stime - usage.ru_stime) * 1000 / len(places):.1f} ms per POST"
    )
    rest = slice(5, None)  # the first few warm the caches and the pool
    print(
        f"{len(places) - 5} place-order POSTs (test client, one at a time): "
        f"wall p50 {statistics.median(walls[rest]):.1f} ms, "
        f"CPU p50 {statistics.median(cpus[rest]):.1f} ms (mean {statistics.mean(cpus[rest]):.1f}), "
        f"{statistics.median(sqls[rest]):.0f} SQL statements, "
        f"{statistics.median(redises[rest]):.0f} Redis round trips"
    )
    if args.profile:
        calls = pstats.Stats(profiler).total_calls / (len(places) - 5)
        print(f"{calls:,.0f} Python function calls per POST (deterministic, unlike CPU time)")
    if args.pyinstrument:
        print(
            profiler.output_text(
                unicode=False, show_all=bool(os.environ.get("PROFILE_ALL")), timeline=False
            )
        )
    elif profiler and os.environ.get("PROFILE_SORT"):
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
            60
        )


if __name__ == "__main__":
    main()
