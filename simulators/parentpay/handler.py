"""HTTP side of the simulator: auth, routing, request checks, faults and the request log."""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import socket
import sqlite3
import sys
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import store as db
from .faults import Delays, Fault, FaultQueue, RequestLog, RequestRecord
from .formats import STATUSES, TYPES
from .uploads import process_upload

MAX_OPERATIONS = 500
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_KEY_LENGTH = 200
_ROUTE = re.compile(r"/v1/sites/(\d{1,18})/(people|uploads)")
_METHODS = {"people": "GET", "uploads": "POST"}


@dataclass
class Context:
    """What every request handler shares: the store, the token, the faults and the log."""

    store: db.Store
    token: str
    faults: FaultQueue
    log: RequestLog
    slots: threading.BoundedSemaphore
    delays: Delays = field(default_factory=Delays)
    any_site: bool = False  # serve every site id, creating it the first time it is named


@dataclass
class Reply:
    status: int
    body: bytes | None  # None: close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, message: str, **headers: str) -> Reply:
    body = json.dumps({"error": code, "message": message}).encode()
    return Reply(status, body, headers)


def _json(payload: Any) -> Reply:
    return Reply(200, json.dumps(payload, ensure_ascii=False).encode())


class Server(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so stop() can cut them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], ctx: Context, ipv6: bool = False) -> None:
        self.address_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.ctx = ctx
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API behind a load balancer
    server_version = "ParentPaySimulator/1"
    timeout = 60  # an idle keep-alive connection is closed after this
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the record; stderr noise would bury test output

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        ctx = self.server.ctx
        self._op_count: int | None = None
        fault: Fault | None = None
        body, reply = self._read_body()
        if reply is None:
            if not ctx.slots.acquire(blocking=False):
                reply = _error(
                    429, "overloaded", "Too many requests at once; retry after 1 second.",
                    **{"Retry-After": "1"},
                )  # fmt: skip
            else:
                try:
                    fault = ctx.faults.take(method)
                    reply = self._answer(method, body, fault)
                except Exception:  # noqa: BLE001 - the simulator must answer, and say where it broke
                    traceback.print_exc(file=sys.stderr)
                    reply = _error(
                        500, "server_error", "The simulator failed; nothing was applied."
                    )
                finally:
                    ctx.slots.release()
        # Logged before the answer goes out: a client holding the answer (or the dropped
        # connection) must find its request in the log, with no window where it is missing.
        ctx.log.add(
            RequestRecord(
                method=method,
                path=self.path,
                idempotency_key=self.headers.get("Idempotency-Key"),
                op_count=self._op_count,
                status=reply.status if reply.body is not None else None,
                fault=fault.kind if fault else None,
            )
        )
        self._send(reply)

    def _read_body(self) -> tuple[bytes, Reply | None]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return b"", _error(400, "bad_request", "Content-Length is not a number.")
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would be taken for the next request
            return b"", _error(413, "too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length) if length > 0 else b"", None

    def _send(self, reply: Reply) -> None:
        if reply.body is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def _answer(self, method: str, body: bytes, fault: Fault | None) -> Reply:
        ctx = self.server.ctx
        if fault and fault.kind == "delay":
            ctx.delays.hold(fault.seconds)
        if fault and fault.kind == "429":
            return _error(
                429, "overloaded", f"ParentPay is busy; retry after {fault.retry_after} seconds.",
                **{"Retry-After": str(fault.retry_after)},
            )  # fmt: skip
        if not self._authorised(ctx.token):
            return _error(
                401, "unauthorized",
                "The bearer token is missing or wrong; check BROMSYNC_PARENTPAY_TOKEN.",
                **{"WWW-Authenticate": 'Bearer realm="parentpay"'},
            )  # fmt: skip
        url = urlsplit(self.path)
        route = _ROUTE.fullmatch(url.path)
        if route is None:
            return _error(404, "not_found", f"There is no endpoint {url.path}.")
        site_id, resource = int(route.group(1)), route.group(2)
        if method != _METHODS[resource]:
            return _error(
                405, "method_not_allowed", f"{url.path} takes {_METHODS[resource]}, not {method}.",
                Allow=_METHODS[resource],
            )  # fmt: skip
        with ctx.store.connection() as conn:
            if not db.site_exists(conn, site_id) and ctx.any_site and site_id > 0:
                conn.execute("INSERT OR IGNORE INTO sites (site_id) VALUES (?)", (site_id,))
            if not db.site_exists(conn, site_id):
                return _error(
                    404, "unknown_site", f"ParentPay site {site_id} is not known here; "
                    "check parentpay_site_id in the school file.",
                )  # fmt: skip
            if resource == "people":
                if fault and fault.kind in ("500", "503"):
                    return _fault_reply(fault)
                reply = _people(conn, site_id, url.query)
            else:
                reply = self._upload(conn, site_id, body, fault)
        if fault and fault.kind == "drop":
            return Reply(reply.status, None)
        return reply

    def _authorised(self, token: str) -> bool:
        given = self.headers.get("Authorization") or ""
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        )

    def _upload(
        self, conn: sqlite3.Connection, site_id: int, body: bytes, fault: Fault | None
    ) -> Reply:
        key = (self.headers.get("Idempotency-Key") or "").strip()
        if not key:
            return _error(
                400, "bad_request", "The Idempotency-Key header is required: send a new unique "
                "string for each upload, and the same one when retrying that upload.",
            )  # fmt: skip
        if len(key) > MAX_KEY_LENGTH:
            return _error(
                400, "bad_request", f"Idempotency-Key is over {MAX_KEY_LENGTH} characters."
            )
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _error(400, "bad_request", f"The body is not JSON ({exc}).")
        operations = payload.get("operations") if isinstance(payload, dict) else None
        if not isinstance(operations, list) or set(payload) != {"operations"}:
            return _error(
                400, "bad_request", 'The body must be {"operations": [...]} and nothing else.'
            )
        self._op_count = len(operations)
        if len(operations) > MAX_OPERATIONS:
            return _error(
                413, "too_large", f"An upload holds at most {MAX_OPERATIONS} operations; this one "
                f"has {len(operations)}. Split it into several uploads.",
            )  # fmt: skip
        not_objects = [i for i, op in enumerate(operations) if not isinstance(op, dict)]
        if not_objects:
            return _error(
                400, "bad_request", f"operations[{not_objects[0]}] is not an object; each "
                "operation is {\"op\", \"type\", \"mis_id\", \"fields\"}.",
            )  # fmt: skip
        failing = fault is not None and fault.kind in ("500", "503")
        answer, _replay = process_upload(conn, site_id, key, operations, commit=not failing)
        if failing and fault is not None:
            return _fault_reply(fault)
        return Reply(200, answer.encode())


def _people(conn: sqlite3.Connection, site_id: int, query: str) -> Reply:
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return _error(400, "bad_request", f"The query string {query!r} cannot be read.")
    unknown = sorted(set(params) - {"type", "status"})
    if unknown:
        return _error(400, "bad_request", f"Unknown query parameter {', '.join(unknown)}; "
                      "use type and status.")  # fmt: skip
    if any(len(values) > 1 for values in params.values()):
        return _error(400, "bad_request", "Give type and status at most once each.")
    type_ = params.get("type", [None])[0]
    status = params.get("status", ["active"])[0]
    if type_ is not None and type_ not in TYPES:
        return _error(400, "bad_request", f"type must be one of {', '.join(TYPES)}, not {type_!r}.")
    if status not in (*STATUSES, "all"):
        return _error(
            400, "bad_request", f"status must be active, archived or all, not {status!r}."
        )
    people = db.list_people(conn, site_id, type_, None if status == "all" else status)
    return _json({"people": people})


def _fault_reply(fault: Fault) -> Reply:
    if fault.kind == "503":
        return _error(
            503, "unavailable", "ParentPay is unavailable (injected); nothing was applied.",
            **{"Retry-After": str(fault.retry_after)},
        )  # fmt: skip
    return _error(500, "server_error", "ParentPay failed (injected); nothing was applied.")
