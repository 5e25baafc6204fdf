"""ParentPaySimulator: the People API (docs/parentpay-api.md) on loopback, backed by sqlite.

Used by `bromsync demo`, `bromsync simulate parentpay` and the tests. It shares no code with
the engine's ParentPay client (CONTRIBUTING.md: a client tested only against its own model proves
nothing), and it refuses to listen anywhere but loopback: it holds children's data and has
one shared token.
"""

from __future__ import annotations

import ipaddress
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from ..ports import PortUnavailable
from . import store as db
from .faults import Fault, FaultQueue, RequestLog, RequestRecord
from .formats import FIELDS, STATUSES, TYPES, mis_id_problem, problems
from .handler import Context, Server

DEFAULT_MAX_CONCURRENT = 16


def _check_loopback(host: str) -> None:
    if host.lower() == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"the ParentPay simulator only listens on loopback (127.0.0.1, ::1, localhost), "
            f"not {host!r}"
        )


class ParentPaySimulator:
    """The simulated ParentPay People API. Use as a context manager, or start() and stop()."""

    def __init__(
        self,
        data_dir: Path,
        token: str | None = None,
        sites: Iterable[int] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        any_site: bool = False,
    ) -> None:
        """`token=None` keeps the token stored in `data_dir` (or makes a new one); a given
        token replaces the stored one. `sites` are added to those already stored. With
        `any_site`, every site id is served, added the first time a request names it;
        without it, a site neither given nor stored is 404 `unknown_site`."""
        _check_loopback(host)
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.data_dir = Path(data_dir)
        self._store = db.Store(self.data_dir)
        if token is not None and not token.strip():
            raise ValueError("the token must not be empty")
        self.token: str = token or self._store.token() or secrets.token_urlsafe(24)
        self._store.set_token(self.token)
        self._store.add_sites(sites)
        self.host = host.strip("[]")
        self._port = port
        self._faults = FaultQueue()
        self._log = RequestLog()
        self._ctx = Context(
            store=self._store,
            token=self.token,
            faults=self._faults,
            log=self._log,
            slots=threading.BoundedSemaphore(max_concurrent),
            any_site=any_site,
        )
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ParentPaySimulator:
        if self._server is not None:
            raise RuntimeError("the ParentPay simulator is already running")
        self._ctx.delays.open()
        try:
            self._server = Server((self.host, self._port), self._ctx, ipv6=":" in self.host)
        except OSError as exc:
            raise PortUnavailable.from_bind(exc, self._port) from None
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"parentpay-simulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._ctx.delays.close()  # wakes injected delays
        self._server.shutdown()
        self._server.server_close()
        self._server.cut_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def wait(self) -> None:
        """Block until stopped (or Ctrl+C); join in slices so KeyboardInterrupt gets through."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """Base URL without /v1, as BROMSYNC_PARENTPAY_URL wants it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    # -- faults and the request log ----------------------------------------------------------

    def inject(
        self, fault: str | int, times: int = 1, *, method: str | None = None,
        seconds: float = 0.0, retry_after: int = 1,
    ) -> None:  # fmt: skip
        """Make the next `times` requests (only GETs or POSTs if `method` says) misbehave.

        `fault`: 429 (answer 429 + Retry-After: `retry_after`, touch nothing), 500 or 503
        (apply, roll back, answer the error), "delay" (wait `seconds`, then answer), or
        "drop" (apply and commit, then close the connection without answering).
        """
        kind = str(fault)
        self._faults.add(Fault(kind, method, seconds, retry_after), times)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def pending_faults(self) -> int:
        return self._faults.pending()

    @property
    def held_requests(self) -> int:
        """How many requests an injected "delay" is holding back right now."""
        return self._ctx.delays.held()

    def release_delays(self) -> None:
        """End the injected delays now holding requests back: they answer at once."""
        self._ctx.delays.release()

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered (or dropped) so far, oldest first. A request is logged
        before its answer goes out, so a client that has its answer finds it here."""
        return self._log.snapshot()

    def clear_requests(self) -> None:
        self._log.clear()

    # -- direct access to the store, for tests and the demo ------------------------------------

    @property
    def sites(self) -> list[int]:
        return self._store.sites()

    def add_site(self, site_id: int) -> None:
        self._store.add_sites([site_id])

    def people(
        self, site_id: int, type: str | None = None, status: str = "all"
    ) -> list[dict[str, Any]]:
        """The site's people as GET /people shows them, read straight from the store."""
        if type is not None and type not in TYPES:
            raise ValueError(f"type must be one of {TYPES}, not {type!r}")
        if status not in (*STATUSES, "all"):
            raise ValueError(f"status must be active, archived or all, not {status!r}")
        with closing(self._store.connect()) as conn:
            return db.list_people(conn, site_id, type, None if status == "all" else status)

    def operations(self, site_id: int) -> list[dict[str, Any]]:
        """Every operation the site's uploads worked on, oldest first: `upload_id`, `index`,
        `op`, `type`, `mis_id`, `status` and `code`. A replayed Idempotency-Key adds nothing
        (nothing was applied again), and an upload answered 5xx left nothing."""
        with closing(self._store.connect()) as conn:
            return db.list_operations(conn, site_id)

    def account_id(self, site_id: int, mis_id: str) -> int | None:
        """ParentPay's account behind a record: unchanged by convert and rekey."""
        with closing(self._store.connect()) as conn:
            person = db.get_person(conn, site_id, mis_id)
        return None if person is None else int(person["account_id"])

    def seed(self, site_id: int, people: Iterable[Mapping[str, Any]]) -> None:
        """Put records straight into a site, as if ParentPay already held them (for the
        data-matching exercise). All or nothing; raises ValueError naming the bad record."""
        self.add_site(site_id)
        with closing(self._store.connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for person in people:
                    self._seed_one(conn, site_id, person)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def edit_by_hand(
        self, site_id: int, mis_id: str, *, status: str | None = None, **fields: Any
    ) -> None:
        """Change a record as a school's ParentPay administrator would in the web site: no
        upload, no Idempotency-Key. Raises ValueError for an unknown record or a bad value."""
        with closing(self._store.connect()) as conn:
            person = db.get_person(conn, site_id, mis_id)
            if person is None:
                raise ValueError(f"no record {mis_id!r} on site {site_id}")
            new = {**person["fields"], **fields}
            found = problems(person["type"], new, whole=True)
            if status is not None and status not in STATUSES:
                found.append(f"status must be one of {STATUSES}")
            if found:
                raise ValueError(f"cannot edit {mis_id!r}: {'; '.join(found)}")
            db.update_person(
                conn, site_id, mis_id, type_=person["type"],
                status=status or person["status"], fields=new,
            )  # fmt: skip
            conn.commit()

    def delete_by_hand(self, site_id: int, mis_id: str) -> None:
        """Delete a record (and its account) as an administrator would in the web site."""
        with closing(self._store.connect()) as conn:
            if db.get_person(conn, site_id, mis_id) is None:
                raise ValueError(f"no record {mis_id!r} on site {site_id}")
            conn.execute("DELETE FROM people WHERE site_id = ? AND mis_id = ?", (site_id, mis_id))
            conn.commit()

    @staticmethod
    def _seed_one(conn: sqlite3.Connection, site_id: int, person: Mapping[str, Any]) -> None:
        mis_id, type_ = person.get("mis_id"), person.get("type")
        status, fields = person.get("status", "active"), person.get("fields")
        problem = mis_id_problem(mis_id)
        if problem or not isinstance(mis_id, str):
            raise ValueError(f"cannot seed {mis_id!r}: {problem}")
        if type_ not in TYPES or status not in STATUSES or not isinstance(fields, dict):
            raise ValueError(f"cannot seed {mis_id!r}: it needs a type, a status and fields")
        found = problems(type_, fields, whole=True)
        if db.get_person(conn, site_id, mis_id) is not None:
            found.append("mis_id is already used on this site")
        if found:
            raise ValueError(f"cannot seed {mis_id!r}: {'; '.join(found)}")
        ordered = {name: fields[name] for name in FIELDS[type_]}
        db.insert_person(conn, site_id, mis_id, type_, status, ordered)


def serve(
    data_dir: Path, port: int, token: str | None = None, sites: Iterable[int] = (),
    host: str = "127.0.0.1", *, max_concurrent: int = DEFAULT_MAX_CONCURRENT,
    out: TextIO | None = None,
) -> None:  # fmt: skip
    """Run the simulator until Ctrl+C, printing where it listens and its token.

    With no `sites`, every site id is served (added the first time a request names it); with
    some, only those and the ones stored before are, and any other is 404 `unknown_site`.
    Raises PortUnavailable when the port is taken."""
    out = out or sys.stdout
    sites = list(sites)
    sim = ParentPaySimulator(
        Path(data_dir), token, sites, host, port, max_concurrent=max_concurrent,
        any_site=not sites,
    )  # fmt: skip
    sim.start()
    try:
        # Inside the try: Ctrl+C may come as soon as the URL is out, even mid-print.
        stored = ", ".join(str(s) for s in sim.sites)
        if sites:
            known = f"{stored} (any other site id is 404 unknown_site)"
        else:
            known = "any site id, each added the first time a request names it" + (
                f" (stored: {stored})" if stored else ""
            )
        print(f"ParentPay simulator listening on {sim.url}", file=out)
        print(f"  BROMSYNC_PARENTPAY_URL={sim.url}", file=out)
        print(f"  BROMSYNC_PARENTPAY_TOKEN={sim.token}", file=out)
        print(f"  sites: {known}", file=out)
        print(f"  data: {sim.data_dir / db.DB_NAME}", file=out)
        print("Press Ctrl+C to stop.", file=out, flush=True)
        sim.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
