"""Programmed faults and the request log, so tests can make ParentPay misbehave on cue.

A fault is taken by the next request it matches (optionally only GETs or only POSTs) and
is used once; `times=3` queues three. Real overload (too many requests at once) is separate:
it comes from the server's limit on concurrent requests, not from this queue.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

# "429": answer 429 with Retry-After, touch nothing.
# "500", "503": do the work, roll it back, answer the error (docs/parentpay-api.md: any 5xx,
# nothing applied).
# "delay": wait `seconds`, then answer normally (holds a concurrency slot meanwhile).
# "drop": do the work, commit, then close the connection without answering.
FAULT_KINDS = ("429", "500", "503", "delay", "drop")


@dataclass(frozen=True)
class Fault:
    kind: str
    method: str | None = None
    seconds: float = 0.0
    retry_after: int = 1


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it; `status` is None when the connection was dropped."""

    method: str
    path: str
    idempotency_key: str | None
    op_count: int | None
    status: int | None
    fault: str | None


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []

    def add(self, fault: Fault, times: int) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault.kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if fault.method not in (None, "GET", "POST"):
            raise ValueError(f"method must be GET, POST or None, not {fault.method!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.extend([fault] * times)

    def take(self, method: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._queue):
                if fault.method in (None, method):
                    return self._queue.pop(i)
        return None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)


class Delays:
    """Requests held back by a "delay" fault: counted, and woken early by release() or close().

    Tests wait on `held()` rather than on the clock, and end a delay when they are done with
    it, so a slow moment on a busy machine cannot turn "still held" into "already answered".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[threading.Event] = set()
        self._closed = False

    def hold(self, seconds: float) -> None:
        wake = threading.Event()
        with self._lock:
            if self._closed:
                return
            self._held.add(wake)
        try:
            wake.wait(seconds)
        finally:
            with self._lock:
                self._held.discard(wake)

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def release(self) -> None:
        with self._lock:
            for wake in self._held:
                wake.set()

    def open(self) -> None:
        with self._lock:
            self._closed = False

    def close(self) -> None:
        """Wake every held request and hold no new ones (the simulator is stopping)."""
        with self._lock:
            self._closed = True
            for wake in self._held:
                wake.set()


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
