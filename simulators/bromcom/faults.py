"""Failures a test can inject: the ways a real Bromcom server or the network lets a client down.

Faults wait in a queue on the simulator; each request takes the first one that matches it (by
operation and entity name, when given), and a fault is used up after `times` requests. The
WSDL download counts as operation "WSDL" and only a fault that names it matches it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_UNAVAILABLE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
    "<HTML><HEAD><TITLE>Service Unavailable</TITLE>"
    '<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>'
    "<BODY><h2>Service Unavailable</h2><hr><p>HTTP Error {status}. The service is unavailable."
    "</p></BODY></HTML>"
)
# What IIS sends when ASP.NET itself fails (an unhandled exception, with remote errors off):
# HTTP 500, text/html, the "yellow screen" page, no SOAP fault. A retry may well get through.
SERVER_ERROR_PAGE = (
    "<!DOCTYPE html>\r\n<html>\r\n    <head>\r\n        <title>Runtime Error</title>\r\n"
    '        <meta name="viewport" content="width=device-width" />\r\n    </head>\r\n'
    '    <body bgcolor="white">\r\n'
    "            <span><H1>Server Error in '/' Application.<hr width=100% size=1 color=silver></H1>"
    "\r\n            <h2> <i>Runtime Error</i> </h2></span>\r\n"
    "            <b> Description: </b>An application error occurred on the server. The current "
    "custom error settings for this application prevent the details of the application error "
    "from being viewed remotely (for security reasons).\r\n    </body>\r\n</html>\r\n"
)
KINDS = ("status", "reset", "truncate", "delay", "malformed")


@dataclass(frozen=True)
class Fault:
    """One injected failure; build it with the class methods below.

    - status: answer `status` with an HTML `body` (IIS's "Service Unavailable" page by default;
      `server_error()` is ASP.NET's HTTP 500 "Server Error in '/' Application" page)
    - reset: send the headers and half the body, then reset the connection (TCP RST)
    - truncate: announce the full Content-Length, send half the body, close normally
    - delay: wait `seconds`, then answer normally
    - malformed: answer 200 with the normal body cut in half, so it is not well-formed XML
    """

    kind: str
    status: int = 503
    body: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    operation: str | None = None  # e.g. "getEntityDataBySchoolID"; None: any SOAP call
    entity: str | None = None  # entityName, any case; None: any
    times: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.times < 1:
            raise ValueError("a fault must apply to at least one request")

    @classmethod
    def http_status(
        cls,
        status: int = 503,
        body: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        operation: str | None = None,
        entity: str | None = None,
        times: int = 1,
    ) -> Fault:
        return cls(
            "status",
            status,
            body,
            tuple((headers or {}).items()),
            operation=operation,
            entity=entity,
            times=times,
        )

    @classmethod
    def server_error(
        cls, *, operation: str | None = None, entity: str | None = None, times: int = 1
    ) -> Fault:
        """ASP.NET's "Server Error in '/' Application" page with HTTP 500, as IIS sends it."""
        return cls(
            "status", 500, SERVER_ERROR_PAGE, operation=operation, entity=entity, times=times
        )

    @classmethod
    def connection_reset(
        cls, *, operation: str | None = None, entity: str | None = None, times: int = 1
    ) -> Fault:
        return cls("reset", operation=operation, entity=entity, times=times)

    @classmethod
    def truncated(
        cls, *, operation: str | None = None, entity: str | None = None, times: int = 1
    ) -> Fault:
        return cls("truncate", operation=operation, entity=entity, times=times)

    @classmethod
    def delay(
        cls,
        seconds: float,
        *,
        operation: str | None = None,
        entity: str | None = None,
        times: int = 1,
    ) -> Fault:
        return cls("delay", seconds=seconds, operation=operation, entity=entity, times=times)

    @classmethod
    def malformed(
        cls, *, operation: str | None = None, entity: str | None = None, times: int = 1
    ) -> Fault:
        return cls("malformed", operation=operation, entity=entity, times=times)

    def html(self) -> bytes:
        text = self.body if self.body is not None else _UNAVAILABLE.format(status=self.status)
        return text.encode("utf-8")

    def matches(self, operation: str | None, entity: str | None) -> bool:
        if self.operation is None:
            if operation == "WSDL":
                return False
        elif operation is None or self.operation.lower() != operation.lower():
            return False
        if self.entity is None:
            return True
        return entity is not None and self.entity.lower() == entity.lower()


class FaultQueue:
    """Thread-safe queue of injected faults, consumed in order by matching requests."""

    def __init__(self) -> None:
        self._items: list[list[object]] = []  # [fault, uses left]
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._items.append([fault, fault.times])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [item[0] for item in self._items]  # type: ignore[misc]

    def take(self, operation: str | None, entity: str | None) -> Fault | None:
        with self._lock:
            for item in self._items:
                fault = item[0]
                assert isinstance(fault, Fault)
                if fault.matches(operation, entity):
                    item[1] = int(item[1]) - 1  # type: ignore[call-overload]
                    if item[1] == 0:
                        self._items.remove(item)
                    return fault
        return None
