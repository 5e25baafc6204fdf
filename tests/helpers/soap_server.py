"""A tiny scripted HTTP server for the Bromcom client's tests: serves a WSDL and canned replies.

Deliberately not the Bromcom simulator (CONTRIBUTING.md: the engine's reader must not be tested only
against the simulator's writer): every reply here is a hand-written file from
tests/fixtures/soap/, and the server records each request so tests can check what was sent.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from engine.config.school import BromcomSettings, SchoolConfig
from tests.helpers import FIXTURES as _FIXTURES

FIXTURES = _FIXTURES / "soap"

# The real, published WSDL of Bromcom's service, vendored so that a plain clone tests against it.
WSDL = _FIXTURES / "reference" / "TPReadOnlyDataService.wsdl"

PASSWORD_ENV = "BROMSYNC_TEST_BROMCOM_PASSWORD"


def make_school(url: str) -> SchoolConfig:
    """A pupils-only school file whose Bromcom URL is `url`, its password in PASSWORD_ENV."""
    return SchoolConfig(
        path=Path("schools/oakfield.yaml"),
        name="Oakfield Primary",
        urn=100001,
        parentpay_site_id=5001,
        bromcom=BromcomSettings(
            url=url, org_id=20001, username="parentpay_oakfield", password_env=PASSWORD_ENV
        ),
        options=("pupils",),
        lawful_basis="legitimate_interest",
        ufsm_year_codes=("R", "1", "2"),
    )


ASMX_PATH = "/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx"
SOAP12_NS = b"http://www.w3.org/2003/05/soap-envelope"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml; charset=utf-8"
    delay: float = 0.0  # seconds to wait before answering (for timeouts)


def fixture(name: str, status: int = 200) -> Reply:
    """A reply from tests/fixtures/soap/<name>, typed as ASP.NET types that envelope."""
    body = (FIXTURES / name).read_bytes()
    soap12 = SOAP12_NS in body[:400]
    content_type = "application/soap+xml; charset=utf-8" if soap12 else "text/xml; charset=utf-8"
    return Reply(status, body, content_type)


def gateway_error(status: int = 503) -> Reply:
    return Reply(status, b"<html><body><h1>Service Unavailable</h1></body></html>", "text/html")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def operation(self) -> str:
        """The SOAP operation, from SOAPAction (1.1) or the action parameter of Content-Type (1.2)."""
        action = self.headers.get("soapaction", "")
        if not action:
            for part in self.headers.get("content-type", "").split(";"):
                key, _, value = part.strip().partition("=")
                if key == "action":
                    action = value
        return action.strip('"').rpartition("/")[2]


@dataclass
class _Script:
    wsdl: bytes
    posts: dict[str, deque[Reply]] = field(default_factory=dict)
    wsdl_replies: deque[Reply] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def next_reply(self, queue: deque[Reply] | None) -> Reply | None:
        with self.lock:
            if not queue:
                return None
            # The last scripted reply repeats, so "then succeed" needs no counting.
            return queue.popleft() if len(queue) > 1 else queue[0]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean

    def _record(self, body: bytes) -> Received:
        parts = urlsplit(self.path)
        received = Received(
            self.command,
            parts.path,
            parts.query,
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        with self.server.script.lock:
            self.server.script.received.append(received)
        return received

    def _send(self, reply: Reply) -> None:
        if reply.delay and self.server.script.stopping.wait(reply.delay):
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def do_GET(self) -> None:
        received = self._record(b"")
        script = self.server.script
        if received.path != ASMX_PATH or received.query.lower() != "wsdl":
            self._send(Reply(404, b"not found", "text/plain"))
            return
        reply = script.next_reply(script.wsdl_replies) or Reply(body=script.wsdl)
        self._send(reply)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        received = self._record(body)
        script = self.server.script
        reply = None
        if received.path == ASMX_PATH:
            reply = script.next_reply(script.posts.get(received.operation))
        self._send(reply or Reply(418, f"no reply scripted for {received.operation!r}".encode()))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: _Script

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is expected in some tests


class SoapServer:
    """Serves `wsdl` at <url>?WSDL and scripted replies to SOAP posts, on 127.0.0.1, port 0."""

    def __init__(self, wsdl: bytes) -> None:
        self._script = _Script(wsdl)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.script = self._script
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{ASMX_PATH}"

    def on(self, operation: str, *replies: Reply) -> None:
        """Answer `operation` with `replies` in turn; the last one repeats."""
        with self._script.lock:
            self._script.posts[operation] = deque(replies)

    def on_wsdl(self, *replies: Reply) -> None:
        """Answer the WSDL request with `replies` in turn (default: the WSDL itself)."""
        with self._script.lock:
            self._script.wsdl_replies = deque(replies)

    @property
    def received(self) -> list[Received]:
        with self._script.lock:
            return list(self._script.received)

    def posts(self, operation: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.method == "POST" and (operation is None or r.operation == operation)
        ]

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._script.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
