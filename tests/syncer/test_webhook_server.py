"""The webhook over real sockets: headers checked before the body is read, bounded reads,
replays refused, a backlog that takes a burst, slow clients cut off."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from csops.syncer import webhook
from csops.syncer.endpoints import Endpoints, hook_route
from csops.syncer.httpserver import HttpServer
from csops.syncer.metrics import Metrics

pytestmark = pytest.mark.integration

SECRET = b"s3cret"
BODY = b'{"ref": "refs/heads/main", "after": "feedface"}'


class Hooked:
    """An endpoint with the webhook, counting the wake-ups it causes."""

    def __init__(self, *, timeout: float = 10.0, max_body: int = webhook.MAX_BODY) -> None:
        self.metrics = Metrics()
        self.wakeups = 0
        self._lock = threading.Lock()
        receiver = webhook.Receiver(SECRET, max_body=max_body)
        route = hook_route(receiver, self.metrics, self.wake)
        self.http = HttpServer(("127.0.0.1", 0), {("POST", "/hook"): route}, timeout=timeout)

    def wake(self) -> None:
        with self._lock:
            self.wakeups += 1

    def count(self, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "csops_webhook_requests_total", {"result": result}
        )
        return value or 0.0


@pytest.fixture
def hooked() -> Iterator[Hooked]:
    server = Hooked()
    server.http.start()
    yield server
    server.http.stop()


def request(port: int, head: str, body: bytes = b"", *, timeout: float = 10.0) -> bytes:
    """Send a raw request (``head`` without the blank line) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)
        return read_answer(conn)


def read_answer(conn: socket.socket) -> bytes:
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def post(content_length: str, signature: str = "sha256=00") -> str:
    return (
        "POST /hook HTTP/1.1\nHost: x\n"
        f"Content-Length: {content_length}\nX-Hub-Signature-256: {signature}"
    )


def test_negative_content_length_is_refused_without_reading(
    hooked: Hooked, capfd: pytest.CaptureFixture[str]
) -> None:
    # The body announced by -1 would be read until the client closes; it is never sent here,
    # so only an answer given before reading arrives before the timeout.
    answer = request(hooked.http.port, post("-1"), timeout=5)
    assert status_of(answer) == 400
    assert hooked.count("malformed") == 1 and hooked.wakeups == 0
    assert "Traceback" not in capfd.readouterr().err


def test_content_length_that_is_not_a_number_is_a_clean_400(
    hooked: Hooked, capfd: pytest.CaptureFixture[str]
) -> None:
    assert status_of(request(hooked.http.port, post("abc"), b"{}")) == 400
    assert "Traceback" not in capfd.readouterr().err


def test_oversized_body_is_refused_unread() -> None:
    small = Hooked(max_body=1024)
    small.http.start()
    try:
        answer = request(small.http.port, post("1025"), timeout=5)  # body never sent
    finally:
        small.http.stop()
    assert status_of(answer) == 413 and small.count("too_large") == 1


def test_unsigned_request_is_refused_before_its_body(hooked: Hooked) -> None:
    head = "POST /hook HTTP/1.1\nHost: x\nContent-Length: 5000000"
    assert status_of(request(hooked.http.port, head, timeout=5)) == 401  # body never sent


def test_signed_delivery_wakes_once_and_its_replay_is_refused(hooked: Hooked) -> None:
    head = post(str(len(BODY)), webhook.sign(SECRET, BODY)) + "\nX-GitHub-Delivery: d-1"
    assert status_of(request(hooked.http.port, head, BODY)) == 202
    assert status_of(request(hooked.http.port, head, BODY)) == 409
    renamed = head.replace("d-1", "d-2")  # GitHub does not sign the delivery id
    assert status_of(request(hooked.http.port, renamed, BODY)) == 409
    assert hooked.wakeups == 1
    assert (hooked.count("accepted"), hooked.count("replayed")) == (1, 2)


def test_a_slow_body_is_cut_off_at_the_timeout() -> None:
    slow = Hooked(timeout=1.0)
    slow.http.start()
    try:
        with socket.create_connection(("127.0.0.1", slow.http.port), timeout=10) as conn:
            head = post("100", webhook.sign(SECRET, b"x" * 100))
            conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + b"x" * 10)
            answer = read_answer(conn)  # the rest of the body never comes
    finally:
        slow.http.stop()
    assert status_of(answer) == 408 and slow.wakeups == 0


def test_a_burst_of_connections_waits_in_the_backlog() -> None:
    """200 clients connect while the server accepts nobody: all are queued, none is reset,
    and each gets its answer once serving starts."""
    endpoints = Endpoints(("127.0.0.1", 0), Metrics(), ready=lambda: True)
    port = endpoints.port
    clients: list[socket.socket] = []
    try:
        for _ in range(200):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(conn)
        endpoints.start()
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(read_answer, clients))
    finally:
        for conn in clients:
            conn.close()
        endpoints.stop()
    assert [status_of(a) for a in answers] == [200] * 200


def test_unknown_paths_and_methods() -> None:
    endpoints = Endpoints(("127.0.0.1", 0), Metrics(), ready=lambda: False)
    endpoints.start()
    try:
        port = endpoints.port
        assert status_of(request(port, "GET /nope HTTP/1.1\nHost: x")) == 404
        assert status_of(request(port, "POST /healthz HTTP/1.1\nHost: x\nContent-Length: 0")) == 405
        assert status_of(request(port, "GET /readyz HTTP/1.1\nHost: x")) == 503
        # without a hook route, /hook is not served at all
        assert status_of(request(port, post("2"), b"{}")) == 404
    finally:
        endpoints.stop()
