"""The load's shoppers behave as a browser when a server closes a kept-alive connection.

nginx closes its idle keep-alive connections whenever it reloads (the cluster launcher reloads
it each time an instance goes down or comes back); a request sent on such a connection just as
it closes gets no answer at all. Browsers send it again on a new connection, and so must the
shoppers of tests/integration/shop_load.py, or the cluster test counts a failure no user would
have seen. A connection closed without an answer that was *not* reused is still a failure.
"""

import socket
import threading

import pytest
import requests

from tests.integration.shop_load import Shopper

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


class Server:
    """Answers the first request of each connection; then closes it when the next one comes
    (`close_reused`), or closes every connection unanswered (`close_all`)."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            answered = 0
            while True:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                if self.mode == "close_all" or answered:
                    return  # closed without a byte of answer
                if self.mode == "cut_short":
                    conn.sendall(OK.replace(b"Length: 2", b"Length: 9000"))
                    return  # the headers, then the connection ends mid-body
                self.requests += 1
                answered += 1
                conn.sendall(OK)


def _shopper(port: int) -> Shopper:
    seen = []
    shopper = Shopper(
        f"http://127.0.0.1:{port}",
        "shop.test",
        "127.3.0.1",
        lambda *a: seen.append(a[2]),
        source="127.3.0.1",
    )
    shopper.seen = seen
    return shopper


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_on_a_kept_alive_connection_closed_unanswered_is_sent_again(method):
    server = Server("close_reused")
    shopper = _shopper(server.port)
    data = {"a": "b"} if method == "POST" else None
    assert shopper.request(method, "/", data).status_code == 200
    assert shopper.request(method, "/", data).status_code == 200  # resent on a new connection
    assert shopper.resent == 1
    assert server.connections == 2 and server.requests == 2
    assert shopper.seen == [200, 200]


def test_a_new_connection_closed_unanswered_is_a_failure():
    server = Server("close_all")
    shopper = _shopper(server.port)
    with pytest.raises(requests.ConnectionError):
        shopper.request("POST", "/", {"a": "b"})
    assert shopper.resent == 0 and server.connections == 1


def test_an_answer_that_breaks_off_is_a_failure_noted_with_its_request():
    """What a killed instance leaves when nginx has passed its headers on: never resent."""
    server = Server("cut_short")
    shopper = _shopper(server.port)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        shopper.request("POST", "/cart/items?x=1", {"a": "b"})
    assert shopper.cut_short == ["POST /cart/items?x=1"] and shopper.resent == 0
