"""BromcomSimulator: the simulated service on a loopback port, for tests, demo and the CLI.

    with BromcomSimulator(data_dir) as sim:      # port 0: any free port
        client.fetch(sim.url, ...)
        sim.inject(Fault.http_status(503))
        assert sim.requests[-1].entity_name == "Students"

`serve(data_dir, port)` runs one in the foreground for `bromsync simulate bromcom`. Only
loopback addresses are accepted: the simulator holds made-up but realistic pupil data and
has no business on a network.

`SimulatorBase` is the HTTP side both simulators share (life cycle, WSDL, envelopes, injected
faults, request log); a subclass only says how a parsed SOAP request is answered: from a
dataset folder here, from a recorded run in replay.py.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

from ..ports import PortUnavailable
from . import soap
from .faults import Fault, FaultQueue
from .handler import Handler
from .service import BromcomService
from .store import DataStore

SERVICE_PATH = "/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the simulator answered, for tests to assert what was fetched."""

    operation: str  # the SOAP operation, "WSDL" for the WSDL, "" when unreadable
    entity_name: str | None
    entity_filter: str | None
    soap_version: str  # "1.1", "1.2", or "" for the WSDL and non-SOAP requests
    school_id: str | None  # as sent
    status: int  # HTTP status sent; 0 when an injected fault cut the connection
    fault: str | None = None  # the kind of injected fault applied, if any


def _loopback(host: str) -> str:
    if host.lower() == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return host.strip("[]")
    except ValueError:
        pass
    raise ValueError(
        f"the Bromcom simulator only listens on a loopback address (127.0.0.1 or ::1), not {host!r}"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (timeout, injected reset) is routine here, not a crash.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Server6(_Server):
    address_family = socket.AF_INET6


class SimulatorBase:
    """A loopback TPReadOnlyDataService endpoint; subclasses answer the parsed SOAP requests."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.host = _loopback(host)
        self.faults = FaultQueue()
        self.verbose = verbose
        self._wanted_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._requests: list[LoggedRequest] = []
        self._connections: set[socket.socket] = set()

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is not None:
            return self
        handler = type("BoundHandler", (Handler,), {"sim": self})
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self._wanted_port), handler)
        except OSError as exc:
            raise PortUnavailable.from_bind(exc, self._wanted_port) from None
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
            name=f"bromcom-simulator-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes injected delays
        server.shutdown()
        server.server_close()
        with self._log_lock:
            open_connections = list(self._connections)
        for conn in open_connections:  # idle keep-alive connections would linger otherwise
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Bromcom simulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The service URL, as a school file's `bromcom.url` holds it."""
        return self.base_url + SERVICE_PATH

    # -- answering ----------------------------------------------------------------------------
    def answer(self, request: soap.SoapRequest) -> tuple[int, str, bytes]:
        """(HTTP status, Content-Type, body) for a well-formed SOAP request; raise
        soap.SoapFault for a fault in the request's SOAP version."""
        raise NotImplementedError

    # -- for tests --------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Queue a fault for the next matching request(s)."""
        self.faults.add(fault)

    @property
    def requests(self) -> list[LoggedRequest]:
        """A copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    # -- called by the handler --------------------------------------------------------------
    def _log(
        self,
        operation: str,
        entity: str | None,
        entity_filter: str | None,
        version: str,
        school_id: str | None,
        status: int,
        fault: Fault | None,
    ) -> None:
        record = LoggedRequest(
            operation,
            entity,
            entity_filter,
            version,
            school_id,
            status,
            fault.kind if fault else None,
        )
        with self._log_lock:
            self._requests.append(record)

    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._log_lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class BromcomSimulator(SimulatorBase):
    """A faithful loopback copy of Bromcom's TPReadOnlyDataService, serving `data_dir`."""

    def __init__(
        self, data_dir: Path, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
    ) -> None:
        super().__init__(host, port, verbose=verbose)
        self.store = DataStore(Path(data_dir))
        self.service = BromcomService(self.store)

    def answer(self, request: soap.SoapRequest) -> tuple[int, str, bytes]:
        result = self.service.call(request)
        return (
            200,
            soap.CONTENT_TYPES[request.version],
            soap.response(request.version, request.operation, result),
        )


def serve(data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    """Serve `data_dir` until Ctrl-C, printing the URL to put in a school file."""
    sim = BromcomSimulator(Path(data_dir), host, port, verbose=True)
    run_until_interrupted(sim, f"Bromcom simulator serving {data_dir}")


def run_until_interrupted(sim: SimulatorBase, what: str) -> None:
    """Start `sim`, print `what` and its URL, and serve until Ctrl-C (the CLI's `simulate`)."""
    sim.start()
    try:
        # Inside the try: Ctrl-C may come as soon as the URL is out, even mid-print.
        print(f"{what} at {sim.url}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopping the Bromcom simulator.", file=sys.stderr)
    finally:
        sim.stop()
