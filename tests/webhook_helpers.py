"""A local receiver for outbound webhook tests: an HTTP server on loopback that answers with
the status codes it is given and keeps every request it got (verified with the spec's own
library when it knows the endpoint's secret)."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from app.extensions import db
from app.webhooks.models import WebhookEndpoint
from app.webhooks.signing import new_secret


class Receiver:
    """What the server answers (`codes`, then 200 when they run out) and what it got."""

    def __init__(self, port: int):
        self.port = port
        self.codes: list[int] = []
        self.requests: list[dict] = []
        self.secret: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/pasar"

    def verified(self) -> list[bool]:
        """For each request, whether Standard Webhooks' Webhook(secret).verify accepts it."""
        results = []
        for got in self.requests:
            try:
                Webhook(self.secret).verify(got["body"], got["headers"])
                results.append(True)
            except WebhookVerificationError:
                results.append(False)
        return results


@contextmanager
def running_receiver(port: int = 0):
    """Serve a Receiver on 127.0.0.1:`port` (by default one the system picks: parallel test
    workers each get their own) for the block."""
    receiver = Receiver(port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            receiver.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            code = receiver.codes.pop(0) if receiver.codes else 200
            answer = f'{{"received": true, "code": {code}}}'.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.port = server.server_address[1]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def add_endpoint(
    store, url: str, events=("order.created", "order.paid"), *, enabled: bool = True
) -> dict:
    """An endpoint row written directly (any URL, the form's checks skipped); id and secret."""
    endpoint = WebhookEndpoint(
        store_id=store.id, url=url, events=list(events), secret=new_secret(), enabled=enabled
    )
    db.session.add(endpoint)
    db.session.flush()
    made = {"id": endpoint.id, "secret": endpoint.secret}
    # Read before the commit: reading after it would begin a transaction that, on SQLite
    # (BEGIN IMMEDIATE), holds the write lock the next request needs.
    db.session.commit()
    return made
