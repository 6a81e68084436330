"""Shoppers, browsers and a fake payment provider driving a running Pasar over HTTP, and the
checks that nothing they did was lost or doubled.

Shared by the Redis outage soak (tests/integration/test_redis_outage_soak.py) and the cluster
test (tests/deploy/test_cluster.py). A shopper browses, fills a cart, checks out on the test
gateway and approves (or leaves the order to the provider, whose signed webhooks arrive at
least once); `lost()` lists what is not yet as it must end.
"""

import http.client
import json
import queue
import random
import re
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie

import requests
import urllib3
from requests.adapters import HTTPAdapter
from sqlalchemy import func, select

from app.extensions import db
from app.notifications.models import EmailMessage
from app.orders.models import Order
from app.payments.models import GatewayDelivery, WebhookEvent
from app.payments.signatures import stripe_signature
from app.payments.webhooks import gateway_secret
from tests.web.order_helpers import ADDRESS

# What a bare nginx (or any proxy's) error page says; Pasar's own pages never do.
BARE_PROXY_PAGE = re.compile(r"<center>nginx|<hr><center>|502 Bad Gateway</h1>", re.I)


# Whether this thread's last request went out on a kept-alive connection (see Shopper.request).
_SENT = threading.local()


class _Connection(urllib3.connection.HTTPConnection):
    """Notes, for the thread sending, whether a request goes on an already open connection."""

    def request(self, *args, **kwargs):
        _SENT.reused = self.sock is not None
        return super().request(*args, **kwargs)


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class SourceAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.0.0/8 is all local on Linux), so a proxy in
    front sees each shopper as a client of its own, as the per-address rate limits expect."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": _Pool,
        }


def closed_while_idle(exc: requests.RequestException) -> bool:
    """The server closed a kept-alive connection before answering the request sent on it
    (nginx does that to idle connections when it reloads): nothing of the request was
    processed, and a browser sends it again on a new connection, whatever its method."""
    return (
        isinstance(exc, requests.ConnectionError)
        and getattr(_SENT, "reused", False)
        and bool(exc.args)
        and isinstance(exc.args[0], urllib3.exceptions.ProtocolError)
        and bool(exc.args[0].args)
        and isinstance(exc.args[0].args[-1], ConnectionResetError | http.client.RemoteDisconnected)
    )


class Shopper:
    """One person's browser: its own cookies and address, the store's Host header."""

    def __init__(self, base: str, host: str, ip: str, log, source: str | None = None):
        """`ip` is sent as X-Forwarded-For (straight to gunicorn); behind a proxy that sets it
        itself, give `source`: the loopback address this shopper connects from."""
        self.base, self.host, self.ip, self.log = base, host, ip, log
        self.cookies: dict[str, str] = {}
        self.token = ""
        self.http = requests  # a new connection per request, unless it must come from `source`
        if source:
            self.http = requests.Session()
            self.http.mount("http://", SourceAddress(source))
        self.name = ""  # with a name, each request carries X-Request-ID "<name>-<count>"
        self.count = 0
        self.resent = 0  # requests sent again after a kept-alive connection closed (see below)
        self.source = source
        self.cut_short: list[str] = []  # "METHOD /path?query" of answers whose body broke off

    def request(self, method: str, path: str, data: dict | None = None) -> requests.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {"Host": self.host, "X-Forwarded-For": self.ip, "Cookie": cookie}
        if self.name:
            self.count += 1
            headers["X-Request-ID"] = f"{self.name}-{self.count}"
        if data is not None:
            data = {**data, "csrf_token": self.token}
        _SENT.reused = False
        try:
            response = self.http.request(
                method,
                self.base + path,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
        except requests.exceptions.ChunkedEncodingError:
            # The headers came and the body broke off: the server died mid-answer (nginx has
            # sent the headers on, so it can't answer with anything else any more).
            self.cut_short.append(f"{method} {path}")
            raise
        except requests.ConnectionError as exc:
            if not closed_while_idle(exc):
                raise
            # As a browser does: once, on a new connection (the pool dropped the closed one).
            self.resent += 1
            response = self.http.request(
                method,
                self.base + path,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
        self.log(method, path, response.status_code, response)
        # The cookies are scoped to the platform's domain, which requests won't send to 127.0.0.1.
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        found = re.search(r'"X-CSRFToken": "([^"]+)"', response.text)
        if found:
            self.token = found.group(1)
        return response


class Load:
    """The shoppers, browsers and fake provider, and what each of them saw."""

    def __init__(
        self,
        port: int | str,
        host: str,
        app,
        store,
        variant_id: int,
        product_slug: str,
        *,
        shoppers: int = 3,
        browsers: int = 2,
        pause: float = 1.0,
        approve_share: float = 0.6,
        hot_variant_id: int | None = None,
        persistent: bool = False,
    ):
        """`port`: gunicorn's on 127.0.0.1, or a base URL. `pause`: seconds a shopper waits
        between two checkouts. `approve_share`: of placed orders, approved by the shopper (the
        rest are paid by the provider's webhook). `hot_variant_id`: a scarce item half the
        shoppers also try to buy. `persistent`: each shopper keeps one browser (cookies) for
        the whole run, connects from a loopback address of its own and names its requests
        (X-Request-ID "shopper<i>-<n>"), for running behind a proxy."""
        self.base = port if isinstance(port, str) else f"http://127.0.0.1:{port}"
        self.host, self.app, self.store = host, app, store
        self.variant_id, self.product_slug = variant_id, product_slug
        self.shoppers, self.browsers, self.pause = shoppers, browsers, pause
        self.approve_share, self.hot_variant_id = approve_share, hot_variant_id
        self.persistent = persistent
        self.people: dict[int, Shopper] = {}  # persistent shoppers by seed
        self.bare_pages: list[str] = []  # 5xx answered by a proxy's own page, not Pasar's
        self.running = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.failures: list[str] = []  # 500s, 503s and connection errors, with their paths
        self.exceptions: list[str] = []  # the connection errors' own words
        self.placed: list[int] = []
        self.approved: list[int] = []  # orders whose approval the shopper saw succeed
        self.unfinished: Counter = Counter()  # checkouts a shopper gave up on, by step
        self.to_provider: queue.Queue = queue.Queue()
        self.webhooks_sent: dict[int, str] = {}  # order number -> event id (answered 200)
        self.webhook_posts = 0
        self.duplicates = 0
        self.threads: list[threading.Thread] = []
        self.browsing: list[Shopper] = []  # the browsers' own connections

    def note(self, method: str, path: str, status: int, response=None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 500:
                self.failures.append(f"{status} {method} {path.split('?')[0]}")
            if status >= 400 and response is not None and BARE_PROXY_PAGE.search(response.text):
                self.bare_pages.append(f"{status} {method} {path.split('?')[0]}")

    def person(self, seed: int, n: int, rng: random.Random) -> Shopper:
        """The shopper for checkout `n`: a new browser each time, or the seed's own one."""
        if not self.persistent:
            ip = f"10.{n % 250}.{rng.randrange(250)}.{rng.randrange(1, 250)}"
            return Shopper(self.base, self.host, ip, self.note)
        if seed not in self.people:
            source = f"127.1.{seed // 250}.{seed % 250 + 1}"
            shopper = Shopper(self.base, self.host, source, self.note, source=source)
            shopper.name = f"shopper{seed}"
            self.people[seed] = shopper
        return self.people[seed]

    # --- shoppers -------------------------------------------------------------------------

    def checkout(self, rng: random.Random, n: int, seed: int = 0) -> None:
        """Browse, add to the cart, check out and approve (or leave it to the provider)."""
        shopper = self.person(seed, n, rng)
        if self.persistent:
            # What an earlier, interrupted checkout left in the cart (perhaps the scarce item,
            # sold out since) goes first.
            cart = shopper.request("GET", "/cart")
            for item in set(re.findall(r"/cart/items/(\d+)/delete", cart.text)):
                shopper.request("POST", f"/cart/items/{item}/delete", {})
        steps = [
            ("GET", "/", None, 200),
            ("GET", f"/products/{self.product_slug}", None, 200),
            ("POST", "/cart/items", {"variant_id": self.variant_id, "quantity": 1}, 303),
        ]
        if self.hot_variant_id and rng.random() < 0.5:
            # Scarce: once it is sold out the cart says so (any answer below 500) and the
            # shopper checks out without it, or is refused at the review or the order.
            steps.append(("POST", "/cart/items", {"variant_id": self.hot_variant_id}, None))
        steps += [
            ("GET", "/cart", None, 200),
            ("POST", "/checkout/contact", {"email": f"shopper{n}@example.com"}, 303),
            ("POST", "/checkout/address", ADDRESS, 303),
            ("POST", "/checkout/shipping", {"shipping_method": "standard"}, 303),
        ]
        for method, path, data, expected in steps:
            status = shopper.request(method, path, data).status_code
            if status != expected and (expected is not None or status >= 500):
                self.unfinished[path] += 1
                return
        review = shopper.request("GET", "/checkout/review")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', review.text)
        if review.status_code != 200 or not key:
            self.unfinished["/checkout/review"] += 1
            return
        placed = shopper.request("POST", "/checkout/place", {"idempotency_key": key.group(1)})
        found = re.match(r"/pay/test/(\d+)\?key=([^&#]+)", placed.headers.get("Location", ""))
        if placed.status_code != 303 or not found:
            self.unfinished["/checkout/place"] += 1
            return
        number, order_key = int(found.group(1)), found.group(2)
        with self.lock:
            self.placed.append(number)
        if rng.random() >= self.approve_share:
            self.to_provider.put(number)
            return
        if shopper.request("GET", f"/pay/test/{number}?key={order_key}").status_code != 200:
            self.unfinished["/pay/test page"] += 1
            self.to_provider.put(number)
            return
        approve = shopper.request("POST", f"/pay/test/{number}/approve?key={order_key}", {})
        if approve.status_code == 303:
            with self.lock:
                self.approved.append(number)
        else:
            self.unfinished["/pay/test approve"] += 1
            self.to_provider.put(number)

    def shopper(self, seed: int) -> None:
        rng = random.Random(seed)
        n = seed * 100_000
        while self.running.is_set():
            n += 1
            try:
                self.checkout(rng, n, seed)
            except requests.RequestException as exc:
                self.note("?", f"checkout ({type(exc).__name__})", 599)
                self.exceptions.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(self.pause)

    def browser(self, seed: int) -> None:
        rng = random.Random(seed)
        paths = ["/", "/products/", f"/products/{self.product_slug}", "/cart", "/products/?q=lamp"]
        address = f"127.2.0.{seed + 1}" if self.persistent else None
        shopper = Shopper(self.base, self.host, f"10.251.0.{seed + 1}", self.note, address)
        self.browsing.append(shopper)
        while self.running.is_set():
            try:
                shopper.request("GET", rng.choice(paths))
            except requests.RequestException as exc:
                self.note("GET", f"browse ({type(exc).__name__})", 599)
                self.exceptions.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(0.2)

    # --- the fake provider ----------------------------------------------------------------

    def post_event(self, number: int, event_id: str) -> int:
        with self.app.app_context():
            total = db.session.scalar(
                select(Order.total).where(Order.store_id == self.store.id, Order.number == number)
            )
            secret = gateway_secret(self.store.id)
            db.session.remove()
        event = {
            "id": event_id,
            "type": "payment.succeeded",
            "order_number": number,
            "amount": total,
            "currency": "USD",
            "payment_id": f"pay_soak_{number}",
        }
        raw = json.dumps(event).encode()
        t = int(time.time())
        response = requests.post(
            f"{self.base}/webhooks/test",
            data=raw,
            headers={
                "Host": self.host,
                "Content-Type": "application/json",
                "Pasar-Signature": f"t={t},v1={stripe_signature(raw, secret, t)}",
            },
            timeout=30,
        )
        with self.lock:
            self.webhook_posts += 1
        self.note("POST", "/webhooks/test", response.status_code)
        return response.status_code

    def provider(self, stop_at: threading.Event) -> None:
        """Deliver an event for each order handed over; retry until 200, as providers do.

        Some events are delivered twice (providers deliver at least once).
        """
        rng = random.Random(7)
        pending: list[tuple[int, str, int]] = []  # (order number, event id, attempts)
        while not (stop_at.is_set() and not pending and self.to_provider.empty()):
            try:
                while True:
                    number = self.to_provider.get_nowait()
                    pending.append((number, f"evt_soak_{number}", 0))
            except queue.Empty:
                pass
            retry = []
            for number, event_id, attempts in pending:
                try:
                    status = self.post_event(number, event_id)
                except requests.RequestException as exc:
                    self.note("POST", f"/webhooks/test ({type(exc).__name__})", 599)
                    self.exceptions.append(f"{type(exc).__name__}: {exc}"[:300])
                    status = 0
                if status == 200:
                    self.webhooks_sent[number] = event_id
                    try:
                        if rng.random() < 0.25 and self.post_event(number, event_id) == 200:
                            self.duplicates += 1
                    except requests.RequestException as exc:  # noted; the thread goes on
                        self.note("POST", f"/webhooks/test ({type(exc).__name__})", 599)
                        self.exceptions.append(f"{type(exc).__name__}: {exc}"[:300])
                elif attempts < 60:
                    retry.append((number, event_id, attempts + 1))
                else:
                    self.unfinished["webhook gave up"] += 1
            pending = retry
            time.sleep(0.5 if pending else 0.1)

    def start(self, provider_done: threading.Event) -> None:
        self.running.set()
        self.threads = [
            *(threading.Thread(target=self.shopper, args=(i,)) for i in range(self.shoppers)),
            *(threading.Thread(target=self.browser, args=(i,)) for i in range(self.browsers)),
        ]
        self.provider_thread = threading.Thread(target=self.provider, args=(provider_done,))
        for thread in [*self.threads, self.provider_thread]:
            thread.start()

    def stop(self, provider_done: threading.Event) -> None:
        self.running.clear()
        for thread in self.threads:
            thread.join(timeout=60)
        provider_done.set()
        self.provider_thread.join(timeout=90)


def scalar(app, query):
    with app.app_context():
        value = db.session.scalar(query)
        db.session.remove()
        return value


def rows(app, query) -> list:
    with app.app_context():
        found = list(db.session.execute(query).all())
        db.session.remove()
        return found


def lost(app, load: Load, smtp=None) -> list[str]:
    """Everything not (yet) as it must end: an empty list once nothing is lost or doubled."""
    problems = []
    status_of = dict(
        rows(
            app,
            select(Order.number, Order.status).where(
                Order.number.in_([*load.approved, *load.webhooks_sent])
            ),
        )
    )
    unpaid = [n for n in load.approved if status_of.get(n) != "paid"]
    if unpaid:
        problems.append(f"{len(unpaid)} approved orders not paid: {sorted(unpaid)[:20]}")
    unpaid = [n for n in load.webhooks_sent if status_of.get(n) != "paid"]
    if unpaid:
        problems.append(f"{len(unpaid)} orders paid by webhook not paid: {sorted(unpaid)[:20]}")
    events = Counter(
        dict(rows(app, select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)))
    )
    # A provider may send a second, distinct event for an order another event already paid
    # (the fake provider posts again when its connection broke after the first one landed):
    # that one is rightly ignored ("order is paid"). Anything else not applied is a problem.
    applied = {
        (store, number)
        for store, number in rows(
            app,
            select(WebhookEvent.store_id, WebhookEvent.order_number).where(
                WebhookEvent.status == "applied"
            ),
        )
    }
    not_applied = rows(
        app,
        select(
            WebhookEvent.status, WebhookEvent.store_id, WebhookEvent.order_number, WebhookEvent.note
        ).where(WebhookEvent.status != "applied"),
    )
    unexplained = [
        (status, number, note)
        for status, store, number, note in not_applied
        if not (status == "ignored" and note.startswith("order is ") and (store, number) in applied)
    ]
    if unexplained:
        problems.append(f"webhook events not applied: {dict(events)}: {unexplained[:10]}")
    deliveries = Counter(
        dict(
            rows(app, select(GatewayDelivery.status, func.count()).group_by(GatewayDelivery.status))
        )
    )
    if set(deliveries) - {"delivered"}:
        problems.append(f"test-gateway deliveries not delivered: {dict(deliveries)}")
    if smtp is None:  # emails not checked (no SMTP server: they are only logged)
        return problems
    emails = Counter(
        dict(rows(app, select(EmailMessage.status, func.count()).group_by(EmailMessage.status)))
    )
    if set(emails) - {"sent"}:
        problems.append(f"emails not sent: {dict(emails)}")
    sent = Counter(str(m["Message-ID"]) for m in list(smtp.messages))
    doubled = [mid for mid, count in sent.items() if count > 1]
    if doubled:
        problems.append(f"{len(doubled)} emails delivered more than once: {doubled[:5]}")
    if sum(sent.values()) != sum(emails.values()):
        problems.append(f"{sum(sent.values())} emails delivered for {sum(emails.values())} rows")
    return problems
