"""Webhook deliveries decided without a server: headers, signatures of every scheme, replays."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from csops.cli import cli
from csops.syncer.webhook import (
    MAX_BODY,
    Receiver,
    ReplayGuard,
    Result,
    Scheme,
    Verdict,
    sign,
    sign_standard,
    verify,
)
from tests.fakes import FakeClock

pytestmark = pytest.mark.unit

SECRET = b"s3cret"
BODY = b'{"ref": "refs/heads/main", "after": "0123abcd"}'
NOW = 1_700_000_000.0


def receiver(**kwargs: object) -> Receiver:
    return Receiver(SECRET, clock=FakeClock(NOW), **kwargs)  # type: ignore[arg-type]


def github(body: bytes = BODY, delivery: str = "d-1") -> list[tuple[str, str]]:
    return [
        ("Content-Length", str(len(body))),
        ("X-Hub-Signature-256", sign(SECRET, body)),
        ("X-GitHub-Delivery", delivery),
    ]


def standard(
    body: bytes = BODY, delivery: str = "msg_1", at: float = NOW, secret: bytes = SECRET
) -> list[tuple[str, str]]:
    return [
        ("Content-Length", str(len(body))),
        ("webhook-id", delivery),
        ("webhook-timestamp", str(int(at))),
        ("webhook-signature", sign_standard(secret, delivery, int(at), body)),
    ]


# ------------------------------------------------------------------ signatures


def test_github_signature() -> None:
    signature = sign(SECRET, BODY)
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature)
    assert verify(SECRET, BODY, [("X-Hub-Signature-256", signature)]) == Scheme.GITHUB
    assert verify(SECRET, BODY, [("x-hub-signature-256", signature)]) == Scheme.GITHUB


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("X-Hub-Signature-256", "")],
        [("X-Hub-Signature-256", sign(b"other", BODY))],
        [("X-Hub-Signature-256", sign(SECRET, BODY + b" "))],
        [("X-Hub-Signature-256", sign(SECRET, BODY)[7:])],  # no sha256= prefix
        [("X-Hub-Signature-256", "sha1=" + sign(SECRET, BODY)[7:])],
        [("X-Hub-Signature", sign(SECRET, BODY))],  # the SHA-1 header is not accepted
        [("X-Gitea-Signature", "")],
        [("X-Gitea-Signature", sign(SECRET, BODY))],  # Gitea sends no prefix
        [("X-Gitea-Signature", sign(b"other", BODY)[7:])],
        [("X-Gitlab-Token", "wrong")],
        [("X-Gitlab-Token", "")],
        [("webhook-id", "m"), ("webhook-timestamp", "1"), ("webhook-signature", "v1,AAAA")],
        [  # a valid signature of another id
            ("webhook-id", "other"),
            ("webhook-timestamp", str(int(NOW))),
            ("webhook-signature", sign_standard(SECRET, "msg_1", int(NOW), BODY)),
        ],
        [  # a timestamp that is not a number
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", "soon"),
            ("webhook-signature", sign_standard(SECRET, "msg_1", 0, BODY)),
        ],
    ],
)
def test_bad_signatures(headers: list[tuple[str, str]]) -> None:
    assert verify(SECRET, BODY, headers) is None


def test_gitea_signature_and_a_bad_github_header_beside_it() -> None:
    good = ("X-Gitea-Signature", sign(SECRET, BODY)[7:])
    assert verify(SECRET, BODY, [good]) == Scheme.GITEA
    assert verify(SECRET, BODY, [("X-Hub-Signature-256", "sha256=00"), good]) == Scheme.GITEA


def test_gitlab_token() -> None:
    assert verify(SECRET, BODY, [("X-Gitlab-Token", SECRET.decode())]) == Scheme.GITLAB


def test_standard_webhooks_signature_with_a_whsec_secret() -> None:
    key = b"a 24-byte key for tests!"
    secret = b"whsec_" + base64.b64encode(key)
    headers = standard(secret=secret)
    assert verify(secret, BODY, headers) == Scheme.STANDARD
    signature = dict(headers)["webhook-signature"]
    # the same key given raw verifies the same signature: the prefix only says "base64"
    assert verify(key, BODY, headers) == Scheme.STANDARD
    # several signatures (key rotation): any one of them may match
    rotated = [(k, f"v1,bm9wZQ== {v}" if k == "webhook-signature" else v) for k, v in headers]
    assert verify(secret, BODY, rotated) == Scheme.STANDARD
    assert signature.startswith("v1,")


# ------------------------------------------------------------------ admit: before the body


@pytest.mark.parametrize(
    ("headers", "status", "result"),
    [
        ([("X-Hub-Signature-256", "sha256=00")], 411, Result.MALFORMED),
        ([("Content-Length", "-1"), ("X-Hub-Signature-256", "x")], 400, Result.MALFORMED),
        ([("Content-Length", "abc"), ("X-Hub-Signature-256", "x")], 400, Result.MALFORMED),
        ([("Content-Length", "1e3"), ("X-Hub-Signature-256", "x")], 400, Result.MALFORMED),
        ([("Content-Length", ""), ("X-Hub-Signature-256", "x")], 400, Result.MALFORMED),
        (
            [("Content-Length", "5"), ("Content-Length", "7"), ("X-Hub-Signature-256", "x")],
            400,
            Result.MALFORMED,
        ),
        (
            [("Transfer-Encoding", "chunked"), ("X-Hub-Signature-256", "x")],
            411,
            Result.MALFORMED,
        ),
        (
            [("Content-Length", str(MAX_BODY + 1)), ("X-Hub-Signature-256", "x")],
            413,
            Result.TOO_LARGE,
        ),
        ([("Content-Length", "10")], 401, Result.REJECTED),  # no signature header at all
    ],
)
def test_admit_refuses_before_reading(
    headers: list[tuple[str, str]], status: int, result: Result
) -> None:
    verdict = receiver().admit(headers)
    assert isinstance(verdict, Verdict)
    assert (verdict.status, verdict.result) == (status, result)


def test_admit_gives_the_length_to_read() -> None:
    assert receiver().admit(github()) == len(BODY)
    assert receiver(max_body=len(BODY)).admit(github()) == len(BODY)
    assert isinstance(receiver(max_body=len(BODY) - 1).admit(github()), Verdict)


def test_without_a_secret_the_webhook_is_disabled() -> None:
    off = Receiver(None)
    for verdict in (off.admit(github()), off.receive(github(), BODY)):
        assert isinstance(verdict, Verdict)
        assert (verdict.status, verdict.result) == (404, Result.DISABLED)


# ------------------------------------------------------------------ receive: replays


def test_accepted_once_then_replayed() -> None:
    hooks = receiver()
    assert hooks.receive(github(), BODY).accepted
    again = hooks.receive(github(), BODY)
    assert (again.status, again.result) == (409, Result.REPLAYED)


def test_a_replayed_github_body_with_a_new_delivery_id_is_refused() -> None:
    hooks = receiver()
    assert hooks.receive(github(delivery="d-1"), BODY).accepted
    assert hooks.receive(github(delivery="d-2"), BODY).result == Result.REPLAYED
    other = BODY.replace(b"0123abcd", b"4567ef01")
    assert hooks.receive(github(other, delivery="d-3"), other).accepted


def test_gitlab_replays_by_event_uuid_and_by_body() -> None:
    hooks = receiver()
    token = [("Content-Length", "2"), ("X-Gitlab-Token", SECRET.decode())]
    assert hooks.receive([*token, ("X-Gitlab-Event-UUID", "u-1")], b"{}").accepted
    assert hooks.receive([*token, ("X-Gitlab-Event-UUID", "u-1")], b"[]").result == (
        Result.REPLAYED
    )
    assert hooks.receive([*token, ("X-Gitlab-Event-UUID", "u-2")], b"{}").result == (
        Result.REPLAYED
    )


def test_standard_webhooks_replay_and_timestamp_window() -> None:
    hooks = receiver(tolerance=300.0)
    assert hooks.receive(standard(delivery="m-1"), BODY).accepted
    assert hooks.receive(standard(delivery="m-1"), BODY).result == Result.REPLAYED
    # the id and time are signed: the same body under a new id is a new delivery
    assert hooks.receive(standard(delivery="m-2"), BODY).accepted
    for at in (NOW - 301, NOW + 301):
        stale = hooks.receive(standard(delivery="m-3", at=at), BODY)
        assert (stale.status, stale.result) == (401, Result.STALE)
    assert hooks.receive(standard(delivery="m-3", at=NOW - 299), BODY).accepted


def test_bad_signature_is_rejected_and_not_remembered() -> None:
    hooks = receiver()
    forged = [(k, sign(b"x", BODY) if k == "X-Hub-Signature-256" else v) for k, v in github()]
    assert hooks.receive(forged, BODY).result == Result.REJECTED
    assert hooks.receive(github(), BODY).accepted


def test_replay_memory_forgets_after_its_time_and_beyond_its_capacity() -> None:
    clock = FakeClock(NOW)
    guard = ReplayGuard(clock=clock, memory=60.0, capacity=3)
    assert guard.first_time(["a"])
    assert not guard.first_time(["a"])
    clock.advance(61)
    assert guard.first_time(["a"])
    for key in "bcd":
        assert guard.first_time([key])
    assert guard.first_time(["a"])  # pushed out by b, c and d
    assert not guard.first_time(["d"])


# ------------------------------------------------------------------ the command line


def test_sync_refuses_an_empty_secret_and_a_webhook_port_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSOPS_WEBHOOK_SECRET", raising=False)
    empty = tmp_path / "secret"
    empty.write_bytes(b"\n")
    base = ["sync", "--repo", str(tmp_path), "--once"]
    result = CliRunner().invoke(cli, [*base, "--webhook-secret-file", str(empty)])
    assert result.exit_code == 2 and "secret is empty" in result.output
    result = CliRunner().invoke(cli, [*base, "--webhook-listen", "127.0.0.1:0"])
    assert result.exit_code == 2 and "--webhook-listen needs a secret" in result.output
