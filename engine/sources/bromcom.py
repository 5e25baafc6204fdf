"""Bromcom's third-party read-only SOAP service (TPReadOnlyDataService.asmx), as a `Source`.

What is confirmed and what is assumed about the service is in docs/bromcom.md. In short: zeep reads
the WSDL and writes the requests; the answers are read raw with lxml (`engine.sources.dataset`)
because zeep is slow on DataSets, returns empty ones unbound, and shifts dates to UTC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from engine.config.school import BromcomSettings, SchoolConfig
from engine.errors import (
    BromcomCredentialsError,
    BromcomDataError,
    BromcomFault,
    BromcomPermissionError,
    BromcomResponseError,
    BromcomSchoolIdError,
    BromcomServerError,
    BromcomUnreachable,
    SourceError,
)
from engine.secrets import scrub
from engine.sources import Table
from engine.sources.catalogue import spellings_of
from engine.sources.dataset import BadValue, DataSetError, read_dataset
from engine.sources.recording import Recorder

__all__ = ["BromcomSource", "sql_literal"]

log = logging.getLogger(__name__)

TNS = "http://tempuri.org/"
BINDINGS = {
    "1.2": f"{{{TNS}}}TPReadOnlyDataServiceSoap12",
    "1.1": f"{{{TNS}}}TPReadOnlyDataServiceSoap",
}

_GATEWAY_STATUSES = {502, 503, 504}
# Entities are fetched a few at once to overlap Bromcom's slow answers, but reading one is CPU
# work that threads only take turns at: one read at a time, as reads that contend for the
# interpreter cost twice the CPU each (measured on a 2,000-pupil secondary: 0.65 s against 0.31 s
# for its eight entities) and finish no sooner.
_READING = threading.Lock()
# IIS and ASP.NET answer an unhandled server exception with HTTP 500 and an HTML page
# ("Server Error in '/' Application", or "Runtime Error" with custom errors on): Bromcom's
# server failed, not the URL, and it may well answer the next call.
_SERVER_ERROR = 500
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_SHOWN_BAD = 5  # bad values named one by one in a message; the rest are counted
_SOAP12 = "{http://www.w3.org/2003/05/soap-envelope}"
_SOAP11 = "{http://schemas.xmlsoap.org/soap/envelope/}"
_FAULT_REASONS = (
    f"{_SOAP12}Body/{_SOAP12}Fault/{_SOAP12}Reason/{_SOAP12}Text",
    f"{_SOAP11}Body/{_SOAP11}Fault/faultstring",
)
_PERMISSION = re.compile(r"access to entity '([^']*)' is not permitted", re.IGNORECASE)
_TICK_ADVICE = (
    "in Bromcom, open Third Party Access Permissions for the web-service account {user!r} "
    '(ParentPay\'s set-up guide, steps 6-7: Third-Party Account = "ParentPay"), tick {names} '
    "under the API entities and save"
)

T = TypeVar("T")


def sql_literal(value: object) -> str:
    """`value` written for an entityFilter, which Bromcom runs as SQL Server WHERE text.

    Strings are quoted with ' doubled (O'Brien -> 'O''Brien'); dates as 'YYYYMMDD', the one
    format SQL Server reads the same under every language setting.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and math.isnan(value):  # NaN has no SQL spelling
            raise ValueError("NaN cannot be written into a Bromcom filter")
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return f"'{value:%Y%m%d}'"
        return f"'{value:%Y%m%d %H:%M:%S}'"
    if isinstance(value, dt.date):
        return f"'{value:%Y%m%d}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot write a {type(value).__name__} into a Bromcom filter")


class BromcomSource:
    """One school's Bromcom web service: lists the permitted entities and fetches their rows.

    Keeps one zeep client, so the WSDL is fetched and parsed once per source. Transient failures
    (no answer, 502/503/504, an unreadable answer) are retried with exponential backoff and full
    jitter; a refusal (wrong password, school ID, permission) is raised at once.
    """

    def __init__(
        self,
        settings: BromcomSettings,
        *,
        school_name: str | None = None,
        school_file: Path | str | None = None,
        soap_version: Literal["1.1", "1.2"] = "1.2",
        max_attempts: int = 3,
        base_delay: float = 0.5,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        record_dir: Path | str | None = None,
    ) -> None:
        if soap_version not in BINDINGS:
            raise ValueError(
                f"soap_version must be one of {sorted(BINDINGS)}, not {soap_version!r}"
            )
        self.settings = settings
        self.school_name = school_name
        self.school_file = str(school_file) if school_file is not None else None
        self.soap_version = soap_version
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self._timeouts = (connect_timeout, read_timeout)
        self._session = session or requests.Session()
        self._sleep = sleep
        self._service: Any = None
        self._client: zeep.Client | None = None
        self._entities: list[str] | None = None
        # `--record DIR`: every answer goes to DIR/<org_id>/, credentials scrubbed (recording.py).
        self._recorder: Recorder | None = None
        if record_dir is not None:
            self._recorder = Recorder(
                Path(record_dir) / str(settings.org_id),
                secrets=(settings.username, self._password_as_set()),
                about={"org_id": settings.org_id, "school": school_name, "url": settings.url},
                username=settings.username,
            )

    @classmethod
    def for_school(cls, school: SchoolConfig, **options: Any) -> BromcomSource:
        """The source for a loaded school file; `options` are the constructor's keywords."""
        return cls(school.bromcom, school_name=school.name, school_file=school.path, **options)

    def close(self) -> None:
        """Release the HTTP connections; the source must not be used afterwards."""
        self._session.close()

    # -- the Source protocol -------------------------------------------------------------

    def entities(self) -> list[str]:
        """Entity names the account may read, as Bromcom spells them (cached per source)."""
        if self._entities is None:
            table = self._call("findEntitiesBySchoolID", "the list of permitted entities")
            column = next((c for c in table.columns if c.lower() == "entityname"), None)
            if column is None:
                raise BromcomResponseError(
                    self._where("the list of permitted entities has no EntityName column "
                                f"(columns: {', '.join(table.columns) or 'none'})"),
                    school=self.school_name,
                )  # fmt: skip
            self._entities = [str(row[column]) for row in table.rows if row[column]]
        return list(self._entities)

    def fetch(self, entity: str, where: str = "") -> Table:
        """All rows of `entity`, filtered by `where` (a SQL Server WHERE fragment; build values
        into it with `sql_literal`). The Table carries the name as asked, not as Bromcom spells it.
        """
        name = self.resolve(entity)
        table = self._call("getEntityDataBySchoolID", f"entity {name}", name, where)
        return Table(entity, table.columns, table.rows, table.digest)

    # -- helpers other commands use (`bromsync check`) -----------------------------------

    def resolve(self, entity: str) -> str:
        """Bromcom's spelling of `entity`; BromcomPermissionError when it is not ticked."""
        permitted = {name.lower(): name for name in self.entities()}
        # Other integrators spell some differently from ParentPay's guide (the catalogue); case
        # alone never matters, since the service itself matches names case-insensitively.
        for candidate in spellings_of(entity):
            if candidate in permitted:
                return permitted[candidate]
        raise self._permission_error([entity])

    def missing(self, entities: Iterable[str]) -> list[str]:
        """Those of `entities` the account may not read, in the order given."""
        permitted = {name.lower() for name in self.entities()}
        return [e for e in entities if not any(c in permitted for c in spellings_of(e))]

    def require(self, entities: Iterable[str]) -> None:
        """Raise one BromcomPermissionError naming every entity the account may not read."""
        missing = self.missing(entities)
        if missing:
            raise self._permission_error(missing)

    # -- calling the service ---------------------------------------------------------------

    def _call(self, operation: str, what: str, entity: str = "", where: str = "") -> Table:
        def attempt() -> Table:
            service = self._bound_service()
            args: dict[str, Any] = {
                "schoolID": self.settings.org_id,
                "username": self.settings.username,
                "password": self.settings.password(),
            }
            if operation == "getEntityDataBySchoolID":
                args.update(entityName=entity, entityFilter=where)
            try:
                assert self._client is not None
                with self._client.settings(raw_response=True):
                    response = getattr(service, operation)(**args)
            except requests.RequestException as exc:
                raise self._unreachable(exc, what) from None
            if self._recorder is not None:  # before reading: faults are worth replaying too
                self._recorder.record(
                    operation=operation,
                    entity=entity or None,
                    entity_filter=where if operation == "getEntityDataBySchoolID" else None,
                    soap_version=self.soap_version,
                    status=response.status_code,
                    content_type=response.headers.get("Content-Type", ""),
                    body=response.content,
                )
            return self._read(response, what, entity)

        return self._retrying(attempt, what)

    def _retrying(self, attempt: Callable[[], T], what: str) -> T:
        for number in range(1, self.max_attempts + 1):
            try:
                return attempt()
            except SourceError as exc:
                if not exc.transient or number == self.max_attempts:
                    if exc.transient and self.max_attempts > 1:
                        exc.message = f"{exc.message} (tried {self.max_attempts} times)"
                    raise
                delay = random.uniform(0, self.base_delay * 2 ** (number - 1))
                # One short line per retry; the full advice comes once, if the last attempt fails.
                why = exc.short or (type(exc).__doc__ or "a passing failure").strip().rstrip(".")
                log.warning(
                    "%s: %s; retrying %s in %.1f s (attempt %d of %d)",
                    self.school_name or self.settings.url,
                    why[0].lower() + why[1:],
                    what,
                    delay,
                    number + 1,
                    self.max_attempts,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _bound_service(self) -> Any:
        if self._service is None:
            transport = Transport(  # type: ignore[no-untyped-call]
                session=self._session, timeout=self._timeouts, operation_timeout=self._timeouts
            )
            settings = zeep.Settings(xml_huge_tree=True)
            wsdl = f"{self.settings.url}?WSDL"
            try:
                client = zeep.Client(wsdl, transport=transport, settings=settings)  # type: ignore[no-untyped-call]
            except requests.HTTPError as exc:
                raise self._http_status(exc.response, f"{wsdl} (the service description)") from None
            except requests.RequestException as exc:
                raise self._unreachable(exc, "the service description") from None
            except (etree.XMLSyntaxError, zeep.exceptions.Error) as exc:
                raise BromcomResponseError(
                    self._where(f"{wsdl} did not return Bromcom's service description ({exc}); "
                                "check bromcom.url in the school file: it should end in "
                                "TPReadOnlyDataService.asmx"),
                    school=self.school_name,
                ) from None  # fmt: skip
            # The WSDL's own soap:address is whichever server it was published from; the
            # school file's URL is the one to call (docs/bromcom.md).
            self._client = client
            self._service = client.create_service(  # type: ignore[no-untyped-call]
                BINDINGS[self.soap_version], self.settings.url
            )
        return self._service

    def _read(self, response: requests.Response, what: str, entity: str) -> Table:
        if response.status_code == 200:
            try:
                with _READING:
                    columns, rows = read_dataset(response.content)
            except DataSetError as exc:
                if exc.bad:
                    raise self._data_error(exc, what, entity) from None
                reason = _fault_reason(response.content)  # a proxy may send a fault as 200
                if reason is not None:
                    raise self._fault(reason, what) from None
                if _is_html(response):
                    raise self._http_status(response, self.settings.url, what) from None
                raise BromcomResponseError(
                    self._where(f"Bromcom's answer for {what} could not be read: {exc}"),
                    school=self.school_name,
                ) from None
            digest = hashlib.sha256(response.content).hexdigest()
            return Table(entity, columns, rows, digest)
        reason = _fault_reason(response.content)
        if reason is None:
            raise self._http_status(response, self.settings.url, what)
        raise self._fault(reason, what)

    # -- errors, in the words of the Bromcom set-up steps ----------------------------------

    def _password_as_set(self) -> str:
        # The variable as it is now, unset or not: only to scrub it from what is written.
        return os.environ.get(self.settings.password_env, "")

    def _where(self, message: str) -> str:
        """Every message of this source: the school first, the password in no form at all
        (a fault or an error page may echo the request, docs/personal-data.md)."""
        message = scrub(message, [self._password_as_set()], username=self.settings.username)
        if self.school_name and self.school_file:
            return f"{self.school_name} ({self.school_file}): {message}"
        if self.school_name or self.school_file:
            return f"{self.school_name or self.school_file}: {message}"
        return message

    def _fault(self, reason: str, what: str) -> SourceError:
        s, school = self.settings, self.school_name
        low = reason.lower()
        if "invalid username or password" in low:
            return BromcomCredentialsError(
                self._where(
                    f"Bromcom refused the username or password: check bromcom.username "
                    f"({s.username!r}) in the school file, and the password in the environment "
                    f"variable {s.password_env}; they are the ones recorded at step 4 of the "
                    "Bromcom set-up. If the password was changed in Bromcom, put the new one in "
                    f"{s.password_env} and update it in ParentPay's MIS settings too "
                    '(tick "Change password" there)'
                ),
                school=school,
            )
        if "invalid school id" in low:
            return BromcomSchoolIdError(
                self._where(
                    f"Bromcom does not know school ID {s.org_id}: bromcom.org_id in the school "
                    "file must be the school's MIS OrgID, the unique number Bromcom provides "
                    "for the school"
                ),
                school=school,
            )
        match = _PERMISSION.search(reason)
        if match:
            return self._permission_error([match.group(1)])
        return BromcomFault(
            self._where(f"Bromcom refused the request for {what}: {reason}"), school=school
        )

    def _permission_error(self, entities: list[str]) -> BromcomPermissionError:
        names = ", ".join(repr(e) for e in entities)
        return BromcomPermissionError(
            self._where(
                f"the Bromcom web-service account may not read {names}: "
                + _TICK_ADVICE.format(user=self.settings.username, names=names)
            ),
            entities=entities,
            school=self.school_name,
        )

    def _unreachable(self, exc: requests.RequestException, what: str) -> SourceError:
        if isinstance(
            exc,
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
        ):
            return BromcomResponseError(
                self._where(
                    f"Bromcom's answer for {what} was cut off before it was complete (the "
                    "connection dropped mid-answer); this is usually temporary: try again later"
                ),
                school=self.school_name,
            )
        connect, read = self._timeouts
        if isinstance(exc, requests.ConnectTimeout):
            error = BromcomUnreachable(
                self._where(
                    f"the Bromcom URL {self.settings.url} did not accept a connection within "
                    f"{connect:g} s when asked for {what}. Check bromcom.url in the school file "
                    "(ParentPay's guide gives it as the MIS URL); if it is right, Bromcom may be "
                    "down for a while: try again later"
                ),
                school=self.school_name,
            )
            error.short = f"no connection in {connect:g} s"
            return error
        if isinstance(exc, requests.Timeout):
            error = BromcomUnreachable(
                self._where(
                    f"Bromcom accepted the connection but sent no answer for {what} within "
                    f"{read:g} s (the Bromcom timeout). Bromcom may be overloaded: try again later. "
                    "If this school's Bromcom is always this slow, raise timeouts.bromcom_seconds "
                    "in the school file (or give --bromcom-timeout SECONDS)"
                ),
                school=self.school_name,
            )
            error.short = f"no answer in {read:g} s"
            return error
        if isinstance(exc, requests.ConnectionError):
            why = "did not answer: the connection failed (the name does not resolve, or nothing listens there)"
        else:
            why = f"did not answer ({exc})"
        return BromcomUnreachable(
            self._where(
                f"the Bromcom URL {self.settings.url} {why} when asked for {what}. Check "
                "bromcom.url in the school file (ParentPay's guide gives it as the MIS URL); if it "
                "is right, Bromcom may be down for a while: try again later"
            ),
            school=self.school_name,
        )

    def _data_error(self, exc: DataSetError, what: str, entity: str) -> BromcomDataError:
        """Values Bromcom sent that cannot be read: which rows, which columns, what to fix.

        The school fails rather than read around them: the value cannot be read as Bromcom
        holds it, and a guess could change a name or, in a status or date column, who is on
        roll. A retry would get the same answer, so there is none.
        """
        places = [_place(bad) for bad in exc.bad]
        shown = "; ".join(f"{row}: {problem}" for row, problem in places[:_SHOWN_BAD])
        if exc.total > _SHOWN_BAD:
            shown += f"; and {exc.total - _SHOWN_BAD} more"
        several = exc.total != 1
        each = "each" if several else "that"
        if exc.kind == "character":
            why = f"{exc}, which Bromcom sent anyway"
            fix = (
                f"In Bromcom, open {each} record and type the value{'s' if several else ''} "
                "again (such a character is invisible there: delete the whole value and retype "
                "it; it usually comes with text pasted from another program)"
            )
        else:
            why = str(exc).partition(" (")[0]
            fix = (
                f"In Bromcom, correct {each} value on its record (a date must be a real date); "
                "if many rows are listed the same way, Bromcom's service is sending the column "
                "in another form: contact Bromcom support"
            )
        return BromcomDataError(
            self._where(
                f"Bromcom's answer for {what} cannot be read: {why}, so nothing was pushed for "
                f"this school. This is Bromcom data to correct: {shown}. {fix}, then run "
                "bromsync again"
            ),
            entity=entity,
            rows=[row for row, _ in places],
            school=self.school_name,
        )

    def _page_title(self, response: requests.Response | None) -> str | None:
        # An error page may echo what it was sent: the title is quoted with the credentials
        # scrubbed, as a recording of the page is.
        title = _page_title(response.content) if response is not None else None
        if not title:
            return None
        secrets = [self.settings.username, self._password_as_set()]
        return scrub(title, secrets, username=self.settings.username)

    def _http_status(
        self, response: requests.Response | None, url: str, what: str = "the service description"
    ) -> SourceError:
        status = response.status_code if response is not None else 0
        title = self._page_title(response)
        if status == _SERVER_ERROR and response is not None:
            page = f"the error page {title!r}" if title else "an error page"
            return BromcomServerError(
                self._where(
                    f"Bromcom's server failed when asked for {what}: it answered HTTP 500 "
                    f"with {page}, not a web-service reply. This is a fault on Bromcom's "
                    "side, not in the school file: try again later; if it keeps failing, "
                    "contact Bromcom support and quote that page"
                ),
                school=self.school_name,
            )
        if status in _GATEWAY_STATUSES:
            return BromcomUnreachable(
                self._where(
                    f"the Bromcom URL {url} did not answer: HTTP {status} from a gateway in "
                    "front of it. This is usually temporary: try again later; if it persists, "
                    "check bromcom.url in the school file"
                ),
                school=self.school_name,
            )
        return BromcomFault(
            self._where(
                f"{url} answered HTTP {status}, not a Bromcom web-service reply: check "
                "bromcom.url in the school file; it should be the MIS URL ending in "
                "TPReadOnlyDataService.asmx"
                + (f" (it sent a web page titled {title!r})" if title else "")
            ),
            school=self.school_name,
        )


def _fault_reason(content: bytes) -> str | None:
    """The reason of a SOAP 1.1 or 1.2 fault, without ASP.NET's wrapper; None if not a fault."""
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    for path in _FAULT_REASONS:
        text: str | None = root.findtext(path)
        if text is not None:
            # "Server was unable to process request. ---> Invalid username or password"
            return text.rpartition("--->")[2].strip() or text.strip()
    return None


def _is_html(response: requests.Response) -> bool:
    kind = response.headers.get("Content-Type", "").lower()
    return "html" in kind or response.content.lstrip()[:15].lower().startswith(
        (b"<!doctype", b"<html")
    )


def _page_title(content: bytes) -> str | None:
    """An HTML page's title (else its first heading), as a person reads it; None without one."""
    match = _TITLE.search(content[:65536])
    if match is None:
        return None
    raw = (match.group(1) or match.group(2) or b"").decode("utf-8", "replace")
    text = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", raw)).split())
    return (text[:150] + "...") if len(text) > 150 else text or None


def _place(bad: BadValue) -> tuple[str, str]:
    """("row 3 (StudentID 1003), column FirstName", "'Ol[U+0001]ivia' holds U+0001")."""
    who = ", ".join(f"{name} {value}" for name, value in bad.ids)
    where = f"row {bad.row}" + (f" ({who})" if who else "") if bad.row else "outside the rows"
    if bad.column:
        where += f", column {bad.column}"
    if bad.value is None:
        return where, f"something there {bad.problem}"
    return where, f"{_excerpt(bad.value)!r} {bad.problem}"


def _excerpt(value: str, around: int = 30) -> str:
    """A long value cut down to the first bad character and a little on either side."""
    at = value.find("[U+")
    if len(value) <= 2 * around + 10 or at == -1:
        return value
    start, end = max(0, at - around), min(len(value), at + around)
    return ("..." if start else "") + value[start:end] + ("..." if end < len(value) else "")
