"""The HTTP side: what an IIS-hosted .asmx answers to GET ?WSDL and to SOAP POSTs.

Any path behaves the same (the documented one is SERVICE_PATH). Headers mimic IIS/ASP.NET.
Injected faults (faults.py) are applied here, after the request is read and the real answer
built, so a cut-off answer is a cut-off copy of the real one.
"""

from __future__ import annotations

import re
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from . import soap
from .faults import Fault
from .wsdl import operations, wsdl_for

if TYPE_CHECKING:
    from .server import SimulatorBase

_MAX_BODY = 10 * 1024 * 1024
_HOST = re.compile(r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is dropped after this many seconds
    sim: SimulatorBase  # set on the subclass the simulator makes

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def log_message(self, fmt: str, *args: object) -> None:
        if self.sim.verbose:
            sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def setup(self) -> None:
        super().setup()
        self.sim._track(self.connection, True)

    def finish(self) -> None:
        self.sim._track(self.connection, False)
        super().finish()

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {key.lower() for key in parse_qs(split.query, keep_blank_values=True)}
        if "wsdl" not in query:
            self._send(200, "text/html; charset=utf-8", _help_page().encode("utf-8"), None)
            return
        host = self.headers.get("Host", "")
        base = f"http://{host}" if _HOST.fullmatch(host) else self.sim.base_url
        fault = self.sim.faults.take("WSDL", None)
        self.sim._log("WSDL", None, None, "", None, _status(200, fault), fault)
        self._send(200, "text/xml; charset=utf-8", wsdl_for(base + split.path), fault)

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        content_type = self.headers.get("Content-Type", "")
        version = soap.version_of(content_type)
        if version is None:
            # ASP.NET does not treat such a POST as SOAP at all.
            text = f"Request format is invalid: {content_type}.".encode()
            fault = self.sim.faults.take(None, None)
            self.sim._log("", None, None, "", None, _status(500, fault), fault)
            self._send(500, "text/plain; charset=utf-8", text, fault)
            return
        action: str | None
        if version == "1.1":
            action = self.headers.get("SOAPAction", "")
        else:
            action = soap.soap12_action(content_type)
        request: soap.SoapRequest | None = None
        try:
            request = soap.parse_request(body, version, action)
            status, content_type, payload = self.sim.answer(request)
        except soap.SoapFault as error:
            status, content_type = 500, soap.CONTENT_TYPES[version]
            payload = soap.fault(version, error)
        params = request.params if request else {}
        operation = request.operation if request else None
        entity = params.get("entityName")
        fault = self.sim.faults.take(operation, entity)
        self.sim._log(
            operation or "",
            entity,
            params.get("entityFilter"),
            version,
            params.get("schoolID"),
            _status(status, fault),
            fault,
        )
        self._send(status, content_type, payload, fault)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if sum(map(len, chunks)) > _MAX_BODY:
                    break
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= _MAX_BODY:
                return self.rfile.read(length)
        self.close_connection = True
        self._send(413, "text/plain; charset=utf-8", b"Request too large.", None)
        return None

    def _send(self, status: int, content_type: str, payload: bytes, fault: Fault | None) -> None:
        if fault is not None and fault.kind == "delay":
            self.sim._sleep(fault.seconds)
        extra: tuple[tuple[str, str], ...] = ()
        if fault is not None and fault.kind == "status":
            status, content_type, payload = fault.status, "text/html", fault.html()
            extra = fault.headers
        if fault is not None and fault.kind == "malformed":
            status, payload = 200, payload[: len(payload) // 2]
        cut = fault is not None and fault.kind in ("reset", "truncate")
        self.send_response(status)
        self.send_header("Cache-Control", "private, max-age=0")
        self.send_header("Content-Type", content_type)
        self.send_header("X-AspNet-Version", "4.0.30319")
        self.send_header("X-Powered-By", "ASP.NET")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if not cut:
            self.wfile.write(payload)
            return
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        if fault is not None and fault.kind == "reset":
            # Linger 0 makes close() send a TCP RST instead of a FIN: "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


def _status(status: int, fault: Fault | None) -> int:
    """The status the client will see (0: none, the connection is cut before the end)."""
    if fault is None or fault.kind == "delay":
        return status
    return {"status": fault.status, "malformed": 200}.get(fault.kind, 0)


def _help_page() -> str:
    items = "".join(f"<li>{name}</li>" for name in sorted(operations()))
    return (
        "<html><head><title>TPReadOnlyDataService Web Service</title></head><body>"
        "<h1>TPReadOnlyDataService (bromsync's Bromcom simulator)</h1>"
        "<p>The following operations are described in the "
        '<a href="?WSDL">service description</a>:</p>'
        f"<ul>{items}</ul></body></html>"
    )
