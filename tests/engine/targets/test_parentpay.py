"""The ParentPay People API client against a tiny scripted HTTP server, then the simulator.

Each test of the first part scripts how the server answers, so the client's batching, retries
and error mapping are seen on the wire: what was sent, with which Idempotency-Key, how often.
The last part pushes to the real ParentPay simulator, whose injected faults (its Retry-After,
a lost answer) are the contract's and not this file's idea of them.
"""

from __future__ import annotations

import html
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest

from engine.errors import (
    ConfigError,
    ParentPayAuthError,
    ParentPaySiteNotFound,
    ParentPayUnavailable,
    TargetError,
)
from engine.targets import TARGETS, PushResult
from engine.targets.parentpay import ParentPayClient, duration
from simulators.parentpay import ParentPaySimulator

SITE = 5001


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] | None = None
    delay: float = 0.0  # seconds to wait before answering (cut short when the server stops)


DROP = Reply(status=-1)  # read the request, then close the connection without answering
Responder = Callable[[Seen], Reply]


class FakeParentPay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Seen] = []
        self.respond: Responder = lambda seen: Reply(500, {"message": "not scripted"})
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.stopping = threading.Event()  # ends delayed replies, unanswered, at teardown

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out leaves a broken pipe behind; expected here

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeParentPay

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        seen = Seen(
            self.command,
            url.path,
            dict(parse_qsl(url.query)),
            {k.lower(): v for k, v in self.headers.items()},
            json.loads(raw) if raw else None,
        )
        self.server.seen.append(seen)
        reply = self.server.respond(seen)
        if reply is DROP:
            self.close_connection = True
            return
        if reply.delay and self.server.stopping.wait(reply.delay):
            return
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in (reply.headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


class Uploads:
    """Answers uploads as docs/parentpay-api.md says: a repeated Idempotency-Key gets the first answer."""

    def __init__(self, reject: Callable[[dict[str, Any]], bool] = lambda op: False) -> None:
        self.reject = reject
        self.answers: dict[str, dict[str, Any]] = {}
        self.applied: Counter[str] = Counter()  # key -> times its batch was applied

    def __call__(self, seen: Seen) -> Reply:
        key = seen.headers["idempotency-key"]
        if key not in self.answers:
            self.applied[key] += 1
            results = [
                {
                    "index": i,
                    "mis_id": op["mis_id"],
                    "status": "applied",
                    "code": None,
                    "message": None,
                }
                if not self.reject(op)
                else {
                    "index": i,
                    "mis_id": op["mis_id"],
                    "status": "rejected",
                    "code": "invalid",
                    "message": "surname is empty",
                }
                for i, op in enumerate(seen.body["operations"])
            ]
            self.answers[key] = {"upload_id": f"up-{len(self.answers) + 1}", "results": results}
        return Reply(200, self.answers[key])


def then(*replies: Reply, after: Responder) -> Responder:
    """Answer the first requests with `replies`, in order, and the rest with `after`."""
    queue = list(replies)
    return lambda seen: queue.pop(0) if queue else after(seen)


def ops(n: int) -> list[dict[str, Any]]:
    return [
        {"op": "create", "type": "pupil", "mis_id": str(1000 + i), "fields": {"surname": "Ng"}}
        for i in range(n)
    ]


@pytest.fixture
def server() -> Iterator[FakeParentPay]:
    srv = FakeParentPay()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.stopping.set()
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: FakeParentPay, sleeps: list[float]) -> Iterator[ParentPayClient]:
    with ParentPayClient(
        server.url, "tok-1", timeout=2, max_attempts=3, backoff_base=0.01, sleep=sleeps.append
    ) as c:
        yield c


# -- batching ---------------------------------------------------------------------------


def test_push_sends_batches_of_500_with_deterministic_keys_and_reindexes(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    uploads = Uploads(reject=lambda op: op["mis_id"] in {"1003", "1700"})
    server.respond = uploads
    acks: list[tuple[int, int, int, int]] = []
    sent = ops(1201)

    result = client.push(
        SITE, sent, "run-7", on_batch=lambda i, n, rs: acks.append((i, n, rs[0]["index"], len(rs)))
    )

    posts = server.posts()
    assert [p.path for p in posts] == [f"/v1/sites/{SITE}/uploads"] * 3
    assert [len(p.body["operations"]) for p in posts] == [500, 500, 201]
    assert [p.headers["idempotency-key"] for p in posts] == [
        "run-7-0000",
        "run-7-0001",
        "run-7-0002",
    ]
    assert {p.headers["authorization"] for p in posts} == {"Bearer tok-1"}
    assert [op for p in posts for op in p.body["operations"]] == sent
    assert acks == [(0, 3, 0, 500), (1, 3, 500, 500), (2, 3, 1000, 201)]
    assert result.upload_ids == ("up-1", "up-2", "up-3")
    assert [r["index"] for r in result.results] == list(range(1201))
    assert [r["mis_id"] for r in result.results] == [op["mis_id"] for op in sent]
    assert (result.applied, result.rejected) == (1199, 2)
    assert result.results[700] == {
        "index": 700,
        "mis_id": "1700",
        "status": "rejected",
        "code": "invalid",
        "message": "surname is empty",
        "op": "create",
        "type": "pupil",
        "upload_id": "up-2",
        "idempotency_key": "run-7-0001",
        "operation": sent[700],
    }


def test_push_of_nothing_sends_nothing(server: FakeParentPay, client: ParentPayClient) -> None:
    assert client.push(SITE, [], "run-1") == PushResult()
    assert server.seen == []


# -- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["2", "600"], ids=["seconds", "ten minutes"])
def test_429_waits_retry_after_then_resends_the_same_key(
    server: FakeParentPay, sleeps: list[float], retry_after: str
) -> None:
    server.respond = then(Reply(429, {}, {"Retry-After": retry_after}), after=Uploads())
    client = ParentPayClient(server.url, "t", sleep=sleeps.append)
    waits: list[tuple[float, str]] = []

    result = client.push(SITE, ops(3), "run-2", on_wait=lambda s, why: waits.append((s, why)))

    assert sleeps == [float(retry_after)]
    assert [s for s, _ in waits] == sleeps
    first, second = server.posts()
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "run-2-0000"
    assert first.body == second.body
    assert result.applied == 3


def test_a_retry_after_beyond_the_limit_stops_at_once(
    server: FakeParentPay, sleeps: list[float]
) -> None:
    server.respond = then(Reply(429, {}, {"Retry-After": "3600"}), after=Uploads())
    client = ParentPayClient(server.url, "t", max_retry_after=5, sleep=sleeps.append)

    with pytest.raises(ParentPayUnavailable) as caught:
        client.push(SITE, ops(3), "run-2")

    assert str(caught.value) == (
        "ParentPay is busy (429) and asked bromsync to wait 60 min (Retry-After: 3600) before "
        "sending batch 1 of 1 (Idempotency-Key run-2-0000) for site 5001 again: longer than the "
        "5 s bromsync waits, so nothing more was sent"
    )
    assert sleeps == [] and len(server.posts()) == 1


def test_push_skips_the_batches_given_and_numbers_the_rest_as_in_the_whole(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    server.respond = Uploads()
    acks: list[tuple[int, int]] = []
    sent = ops(1201)

    result = client.push(
        SITE, sent, "run-8", on_batch=lambda i, n, rs: acks.append((i, n)), skip_batches={0, 2}
    )

    [post] = server.posts()
    assert post.headers["idempotency-key"] == "run-8-0001"
    assert post.body["operations"] == sent[500:1000]
    assert acks == [(1, 3)]
    assert [r["index"] for r in result.results] == list(range(500, 1000))


def test_503_is_retried_with_backoff_and_the_same_key(
    server: FakeParentPay, client: ParentPayClient, sleeps: list[float]
) -> None:
    server.respond = then(Reply(503, {"message": "busy"}), Reply(502, b"<html>"), after=Uploads())

    result = client.push(SITE, ops(2), "run-3")

    assert result.upload_ids == ("up-1",)
    assert {p.headers["idempotency-key"] for p in server.posts()} == {"run-3-0000"}
    assert len(server.posts()) == 3
    # backoff_base 0.01: attempt n waits between half and all of 0.01 * 2**(n-1)
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02


def test_connection_dropped_after_processing_is_retried_and_applied_once(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    uploads = Uploads()
    dropped: list[str] = []

    def process_then_hang_up(seen: Seen) -> Reply:
        reply = uploads(seen)
        if not dropped:
            dropped.append(seen.headers["idempotency-key"])
            return DROP
        return reply

    server.respond = process_then_hang_up
    result = client.push(SITE, ops(4), "run-4")

    assert [p.headers["idempotency-key"] for p in server.posts()] == ["run-4-0000"] * 2
    assert uploads.applied == {"run-4-0000": 1}
    assert result.upload_ids == ("up-1",) and result.applied == 4


def test_read_timeout_is_retried(server: FakeParentPay, sleeps: list[float]) -> None:
    uploads = Uploads()
    # The first answer never comes while the test runs, and the timeout leaves the retry's
    # answer ample time on a busy machine: a slow answer there must not become another retry.
    server.respond = then(Reply(200, {}, delay=60), after=uploads)
    client = ParentPayClient(server.url, "t", timeout=1.0, backoff_base=0.01, sleep=sleeps.append)

    assert client.push(SITE, ops(1), "run-5").applied == 1
    assert len(server.posts()) == 2 and len(sleeps) == 1


def test_failure_after_all_attempts_keeps_what_was_acknowledged(
    server: FakeParentPay, client: ParentPayClient, sleeps: list[float]
) -> None:
    uploads = Uploads()
    server.respond = lambda s: (
        uploads(s) if s.headers["idempotency-key"].endswith("0000") else Reply(503, {})
    )
    acks: list[int] = []

    with pytest.raises(ParentPayUnavailable) as caught:
        client.push(SITE, ops(1100), "run-6", on_batch=lambda i, n, rs: acks.append(i))

    err = caught.value
    assert err.transient
    assert err.acknowledged_batches == 1
    assert err.partial.upload_ids == ("up-1",)
    assert len(err.partial.results) == 500
    assert acks == [0]
    # one POST for batch 1, three attempts at batch 2, and batch 3 never sent
    assert [p.headers["idempotency-key"] for p in server.posts()] == ["run-6-0000"] + [
        "run-6-0001"
    ] * 3
    assert len(sleeps) == 2
    assert "batch 2 of 3 (Idempotency-Key run-6-0001)" in str(err)
    assert "after 3 attempts (last: HTTP 503" in str(err)
    assert "acknowledged 1 earlier batch (500 operations)" in str(err)


# -- errors that stop at once --------------------------------------------------------------


def test_401_is_an_auth_error_naming_the_token_variable(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    server.respond = lambda s: Reply(401, {"message": "bad token"})

    with pytest.raises(ParentPayAuthError, match="check BROMSYNC_PARENTPAY_TOKEN") as caught:
        client.push(SITE, ops(2), "run-8")

    assert len(server.seen) == 1
    assert caught.value.acknowledged_batches == 0


def test_404_is_site_not_found_naming_the_school_file_key(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    server.respond = lambda s: Reply(404, {"message": "no such site"})

    with pytest.raises(ParentPaySiteNotFound) as caught:
        client.people(SITE)

    assert "site 5001" in str(caught.value)
    assert "school.parentpay_site_id in the school file" in str(caught.value)
    assert len(server.seen) == 1


def test_400_is_a_target_error_with_the_servers_message(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    server.respond = lambda s: Reply(400, {"message": "Idempotency-Key header is required"})

    with pytest.raises(TargetError) as caught:
        client.push(SITE, ops(1), "run-9")

    assert not isinstance(caught.value, ParentPayUnavailable)
    assert str(caught.value).endswith("(HTTP 400): Idempotency-Key header is required")
    assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"results": []}, "without an upload_id and results"),
        (
            {"upload_id": "u", "results": [{"index": 0, "mis_id": "1000", "status": "applied"}]},
            "with 1 results for 2 operations",
        ),
        (
            {
                "upload_id": "u",
                "results": [
                    {"index": 0, "mis_id": "1000", "status": "applied"},
                    {"index": 1, "mis_id": "9999", "status": "applied"},
                ],
            },
            "does not match what was sent",
        ),
        (b"<html>Welcome</html>", "is not JSON"),
    ],
    ids=["no-upload-id", "too-few-results", "other-records", "not-json"],
)
def test_an_answer_that_does_not_fit_the_batch_is_a_target_error(
    server: FakeParentPay, client: ParentPayClient, body: Any, expected: str
) -> None:
    server.respond = lambda s: Reply(200, body)

    with pytest.raises(TargetError, match=expected):
        client.push(SITE, ops(2), "run-10")


# -- people --------------------------------------------------------------------------------


def test_people_asks_for_type_and_status_and_retries_5xx(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    person = {"mis_id": "1052", "type": "staff", "status": "archived", "fields": {}}
    server.respond = then(Reply(500, {}), after=lambda s: Reply(200, {"people": [person]}))

    assert client.people(SITE, type="staff", status="archived") == [person]
    assert [(s.method, s.path, s.query) for s in server.seen] == [
        ("GET", f"/v1/sites/{SITE}/people", {"type": "staff", "status": "archived"})
    ] * 2
    client.people(SITE)
    assert server.seen[-1].query == {"status": "all"}


def test_people_answer_without_a_list_is_a_target_error(
    server: FakeParentPay, client: ParentPayClient
) -> None:
    server.respond = lambda s: Reply(200, {"persons": []})

    with pytest.raises(TargetError, match="without a list of people"):
        client.people(SITE)


# -- configuration -------------------------------------------------------------------------


def test_from_env_names_every_missing_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        ParentPayClient.from_env({})

    assert caught.value.exit_code == 2
    assert [p.split(" is not set")[0] for p in caught.value.problems] == [
        "the environment variable BROMSYNC_PARENTPAY_URL",
        "the environment variable BROMSYNC_PARENTPAY_TOKEN",
    ]
    with pytest.raises(ConfigError, match="BROMSYNC_PARENTPAY_TOKEN is not set"):
        ParentPayClient.from_env({"BROMSYNC_PARENTPAY_URL": "https://pp.example"})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://pp.example/v1", "without /v1, i.e. 'https://pp.example'"),
        ("http://pp.example", "unencrypted"),
        ("pp.example", "is not a web address"),
    ],
)
def test_from_env_rejects_a_url_it_cannot_use(url: str, expected: str) -> None:
    env = {"BROMSYNC_PARENTPAY_URL": url, "BROMSYNC_PARENTPAY_TOKEN": "t"}
    with pytest.raises(ConfigError, match=expected):
        ParentPayClient.from_env(env)


TOKEN = "tok@en w&rd<\"'>/+=%"


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (f"https://bromsync:{TOKEN}@pp.example", "a password"),
        (f"http://x:{quote(TOKEN, safe='')}@127.0.0.1:8700", "a password"),
        ("https://tok-as-user@pp.example/v1", "a username"),  # before the /v1 message shows it
    ],
)
def test_a_url_holding_the_token_is_refused_without_showing_it(url: str, what: str) -> None:
    env = {"BROMSYNC_PARENTPAY_URL": url, "BROMSYNC_PARENTPAY_TOKEN": "tok-env"}
    with pytest.raises(ConfigError) as caught:
        ParentPayClient.from_env(env)

    message = str(caught.value)
    assert message.startswith(f"BROMSYNC_PARENTPAY_URL must not hold {what} (it reads http")
    assert "://***@" in message and "BROMSYNC_PARENTPAY_TOKEN" in message
    for secret in (TOKEN, quote(TOKEN, safe=""), "tok@en", "tok-as-user"):
        assert secret not in message
    with pytest.raises(ConfigError, match="must not hold a password"):
        ParentPayClient(f"https://u:{TOKEN}@pp.example", "tok-env")


def test_an_empty_variable_is_set_but_empty() -> None:
    with pytest.raises(ConfigError) as caught:
        ParentPayClient.from_env({"BROMSYNC_PARENTPAY_URL": "", "BROMSYNC_PARENTPAY_TOKEN": " "})
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "the environment variable BROMSYNC_PARENTPAY_URL is set but empty",
        "the environment variable BROMSYNC_PARENTPAY_TOKEN is set but empty",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(400, {"message": f"bad request; Authorization: Bearer {TOKEN}"}),
        Reply(500, f"<html>echo: {html.escape(TOKEN)} {quote_plus(TOKEN)}</html>".encode()),
        Reply(200, f"not json {json.dumps(TOKEN)} {'x' * 200}".encode()),
        Reply(302, {}, headers={"Location": f"https://pp.example/?t={quote(TOKEN, safe='')}"}),
    ],
)
def test_what_parentpay_echoes_is_told_without_the_token(
    server: FakeParentPay, sleeps: list[float], reply: Reply
) -> None:
    server.respond = lambda s: reply
    with (
        ParentPayClient(server.url, f" {TOKEN}\n", max_attempts=1, sleep=sleeps.append) as client,
        pytest.raises(TargetError) as caught,
    ):
        client.people(SITE)

    assert server.seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    message = str(caught.value)
    assert "<scrubbed>" in message
    for form in (TOKEN, html.escape(TOKEN), quote_plus(TOKEN), quote(TOKEN, safe=""), "tok@en"):
        assert form not in message


def test_registry_builds_the_client_from_the_environment(
    server: FakeParentPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROMSYNC_PARENTPAY_URL", server.url + "/")
    monkeypatch.setenv("BROMSYNC_PARENTPAY_TOKEN", " tok-env\n")
    server.respond = lambda s: Reply(200, {"people": []})

    target = TARGETS["parentpay"]()

    assert target.people(SITE) == []
    assert server.seen[0].headers["authorization"] == "Bearer tok-env"


# -- against the ParentPay simulator -------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[ParentPaySimulator]:
    with ParentPaySimulator(tmp_path / "parentpay", token="tok-s", sites=[SITE]) as sim:
        yield sim


def staff(n: int) -> list[dict[str, Any]]:
    fields = {"title": "Ms", "forename": "Ada", "surname": "Ng", "email": None, "mobile": None}
    return [
        {"op": "create", "type": "staff", "mis_id": f"S{100 + i}", "fields": fields}
        for i in range(n)
    ]


@dataclass
class Waits:
    slept: list[float]
    said: list[str]


@pytest.fixture
def waits() -> Waits:
    return Waits([], [])


def simulated(sim: ParentPaySimulator, waits: Waits, **options: Any) -> ParentPayClient:
    return ParentPayClient(
        sim.url, "tok-s", timeout=10, backoff_base=0.01, sleep=waits.slept.append, **options
    )


def push(client: ParentPayClient, waits: Waits, operations: Any, **kw: Any) -> PushResult:
    return client.push(SITE, operations, "sim", on_wait=lambda s, why: waits.said.append(why), **kw)


@pytest.mark.parametrize(
    ("fault", "seconds", "why"),
    [
        (429, 42, "ParentPay is busy (429); waiting 42 s as it asks, then retrying"),
        (503, 7, "ParentPay failed (HTTP 503); waiting 7 s as it asks, then retrying"),
        (429, 600, "ParentPay is busy (429); waiting 10 min as it asks, then retrying"),
    ],
    ids=["429", "503", "ten minutes"],
)
def test_the_simulators_retry_after_is_waited_and_said(
    simulator: ParentPaySimulator, waits: Waits, fault: int, seconds: int, why: str
) -> None:
    simulator.inject(fault, method="POST", retry_after=seconds)
    with simulated(simulator, waits) as client:
        result = push(client, waits, staff(3))
    assert (waits.slept, waits.said) == ([float(seconds)], [why])
    assert [r.status for r in simulator.requests] == [fault, 200]
    assert result.applied == 3 and len(simulator.people(SITE)) == 3


def test_a_backoff_without_retry_after_is_said_too(
    simulator: ParentPaySimulator, waits: Waits
) -> None:
    simulator.inject(500, method="POST")
    with simulated(simulator, waits) as client:
        push(client, waits, staff(1))
    [slept] = waits.slept
    assert waits.said == [
        f"ParentPay failed (HTTP 500); waiting {duration(slept)} before trying again, then retrying"
    ]


def test_the_simulators_retry_after_beyond_ten_minutes_stops_the_push(
    simulator: ParentPaySimulator, waits: Waits
) -> None:
    simulator.inject(429, method="POST", retry_after=601)
    with simulated(simulator, waits) as client, pytest.raises(ParentPayUnavailable) as caught:
        push(client, waits, staff(3))
    assert "asked bromsync to wait 10 min 1 s (Retry-After: 601)" in str(caught.value)
    assert "longer than the 10 min bromsync waits, so nothing more was sent" in str(caught.value)
    assert waits.slept == [] and len(simulator.requests) == 1
    assert simulator.people(SITE) == []


def test_finishing_a_push_whose_answer_was_lost_replays_it_and_sends_the_rest(
    simulator: ParentPaySimulator, waits: Waits
) -> None:
    sent = staff(12)

    def lose_the_next_answers(batch: int, batches: int, results: list[Any]) -> None:
        if batch == 0:  # ParentPay applies batch 2, and both answers to it are lost
            simulator.inject("drop", times=2, method="POST")

    with simulated(simulator, waits, batch_size=5, max_attempts=2) as client:
        with pytest.raises(ParentPayUnavailable) as caught:
            push(client, waits, sent, on_batch=lose_the_next_answers)
        assert caught.value.acknowledged_batches == 1
        assert len(simulator.people(SITE)) == 10
        simulator.clear_requests()

        rest = push(client, waits, sent, skip_batches={0})

    assert [(r.idempotency_key, r.op_count) for r in simulator.requests] == [
        ("sim-0001", 5),
        ("sim-0002", 2),
    ]
    assert [r["index"] for r in rest.results] == list(range(5, 12))
    assert (rest.applied, rest.rejected) == (7, 0)  # batch 2's first answer, not `exists`
    assert sorted(p["mis_id"] for p in simulator.people(SITE)) == [op["mis_id"] for op in sent]


def test_a_wait_is_told_in_words() -> None:
    assert [duration(s) for s in (0.25, 1, 42, 59.96, 60, 150, 601, 3600)] == [
        "0.2 s",
        "1 s",
        "42 s",
        "60 s",
        "1 min",
        "2 min 30 s",
        "10 min 1 s",
        "60 min",
    ]
