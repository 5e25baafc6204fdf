"""Faults through the whole pipeline: Bromcom and ParentPay misbehave, bromsync copes.

Each Bromcom fault must end in the right error with advice a data manager can act on, be
retried only when a retry can cure it, and push nothing once a fetch has failed. ParentPay
faults must keep whatever ParentPay acknowledged before them. The real simulators inject the
faults (simulators/bromcom/faults.py, simulators/parentpay/README.md "Faults"); the clients
are the real ones, built with short timeouts and backoff so the file stays fast.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from bromsync import cli
from engine.config.school import load_school
from engine.errors import (
    BromcomCredentialsError,
    BromcomFault,
    BromcomPermissionError,
    BromcomResponseError,
    BromcomSchoolIdError,
    BromcomServerError,
    BromcomUnreachable,
    SourceError,
)
from engine.sources import SOURCES, Table
from engine.sources.bromcom import BromcomSource
from engine.targets import TARGETS
from engine.targets.parentpay import ParentPayClient
from simulators.bromcom import Fault
from tests.conftest import SITE_ID, Stack

ATTEMPTS = 3  # per Bromcom call, and per ParentPay batch
# A read timeout short enough to test, used only where a timeout is the point: elsewhere a
# slow moment on a busy machine must not turn into a retry the test did not expect.
SHORT_READ_TIMEOUT = 0.5
SLOW = 1.5  # seconds an injected delay holds the answer back: longer than SHORT_READ_TIMEOUT
DATA = "getEntityDataBySchoolID"
LIST = "findEntitiesBySchoolID"


def bromsync(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@dataclass
class Clients:
    """What the short-fused clients did: each backoff they waited, each error the source raised."""

    waits: list[float] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    read_timeout: float = 10.0  # read when the CLI builds its source, so a test may shorten it


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> Clients:
    """Both clients built with short timeouts and backoff, and watched.

    The CLI builds its source and target through the registries, so swapping the factories is
    how a test shortens their timeouts without changing what they do.
    """
    seen = Clients()

    def sleep(seconds: float) -> None:
        seen.waits.append(seconds)
        time.sleep(min(seconds, 0.05))

    class Watched(BromcomSource):
        def require(self, entities: Iterable[str]) -> None:
            try:
                super().require(entities)
            except SourceError as exc:
                seen.errors.append(exc)
                raise

        def fetch(self, entity: str, where: str = "") -> Table:
            try:
                return super().fetch(entity, where)
            except SourceError as exc:
                seen.errors.append(exc)
                raise

    def source(school: Any, **options: Any) -> BromcomSource:
        options.pop("read_timeout", None)  # the school file's; the test's short one wins
        return Watched.for_school(
            school,
            connect_timeout=1.0,
            read_timeout=seen.read_timeout,
            max_attempts=ATTEMPTS,
            base_delay=0.02,
            sleep=sleep,
            **options,
        )

    def target(**options: Any) -> ParentPayClient:
        return ParentPayClient.from_env(
            max_attempts=ATTEMPTS, backoff_base=0.02, sleep=sleep, **options
        )

    monkeypatch.setitem(SOURCES, "bromcom", source)
    monkeypatch.setitem(TARGETS, "parentpay", target)
    return seen


def calls(stack: Stack, operation: str, entity: str | None = None) -> list[Any]:
    return [
        r
        for r in stack.bromcom.requests
        if r.operation == operation
        and (entity is None or (r.entity_name or "").lower() == entity.lower())
    ]


def posts(stack: Stack) -> list[Any]:
    return [r for r in stack.parentpay.requests if r.method == "POST"]


def people(stack: Stack) -> dict[str, dict[str, Any]]:
    return {p["mis_id"]: p for p in stack.parentpay.people(SITE_ID, status="all")}


def first_sync(stack: Stack) -> dict[str, dict[str, Any]]:
    """Sync once (1007 is held back by its "Year 1" check, hence exit 3), then change one
    surname in Bromcom, so that a later run has something it could push."""
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3 and "12 applied" in result.output, result.output
    stack.edit_row("Students", "StudentID", 1003, LastName="O'Brien-Walsh")
    stack.bromcom.clear_requests()
    stack.parentpay.clear_requests()
    return people(stack)


def assert_nothing_pushed(stack: Stack, before: dict[str, dict[str, Any]]) -> None:
    assert posts(stack) == []
    assert people(stack) == before


# -- terminal Bromcom faults: told at once, never retried --------------------------------------


def wrong_password(stack: Stack) -> None:
    stack.account(password="changed-in-bromcom")


def wrong_school_id(stack: Stack) -> None:
    text = stack.school_file.read_text(encoding="utf-8")
    stack.school_file.write_text(text.replace("org_id: 20001", "org_id: 20099"), encoding="utf-8")


def two_entities_unticked(stack: Stack) -> None:
    stack.account(
        permitted=[e for e in stack.permitted() if e not in ("StudentContacts", "Emails")]
    )


@pytest.mark.parametrize(
    ("break_it", "error", "advice"),
    [
        (
            wrong_password,
            BromcomCredentialsError,
            [
                "refused the username or password",
                "bromcom.username",
                "BROMCOM_PASSWORD_OAKFIELD",
                '"Change password"',
            ],
        ),
        (
            wrong_school_id,
            BromcomSchoolIdError,
            ["does not know school ID 20099", "bromcom.org_id", "MIS OrgID"],
        ),
        (
            two_entities_unticked,
            BromcomPermissionError,
            [
                "'StudentContacts'",
                "'Emails'",
                "Third Party Access Permissions",
                "parentpay_oakfield",
            ],
        ),
    ],
    ids=["invalid username or password", "invalid school ID", "entities not permitted"],
)
def test_a_refusal_of_the_account_is_reported_once_with_its_fix(
    stack: Stack, fast: Clients, break_it: Any, error: type[SourceError], advice: list[str]
) -> None:
    before = first_sync(stack)
    break_it(stack)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 1, result.output
    for words in advice:
        assert words in result.output
    assert [type(e) for e in fast.errors] == [error]
    # The list of entities is asked for once and the refusal is final: no retry, no data.
    assert len(calls(stack, LIST)) == 1 and calls(stack, DATA) == []
    assert fast.waits == []
    assert_nothing_pushed(stack, before)


def test_a_permission_refused_while_fetching_names_the_entity_and_is_not_retried(
    stack: Stack, fast: Clients
) -> None:
    # The account lost its tick between the list and the fetch: Bromcom answers the fetch
    # with its permission fault (as IIS sends it: HTTP 500, a SOAP 1.2 fault).
    fault = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
        "<soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason>"
        '<soap:Text xml:lang="en">Server was unable to process request. ---&gt; Access to '
        "entity 'Students' is not permitted</soap:Text></soap:Reason><soap:Detail />"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    before = first_sync(stack)
    stack.bromcom.inject(Fault.http_status(500, fault, operation=DATA, entity="Students"))
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 1, result.output
    assert "'Students'" in result.output and "Third Party Access Permissions" in result.output
    assert len(calls(stack, DATA, "Students")) == 1
    assert_nothing_pushed(stack, before)


def test_any_other_bromcom_fault_carries_its_reason_and_is_not_retried(
    stack: Stack, fast: Clients
) -> None:
    before = first_sync(stack)
    content = stack.entity("Students")
    content["rows"][0]["NoSuchColumn"] = 1  # the simulator answers a broken file with a fault
    stack.save_entity("Students", content)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 1, result.output
    assert "Bromcom refused the request for entity Students" in result.output
    assert "NoSuchColumn" in result.output
    assert len(calls(stack, DATA, "Students")) == 1 and fast.waits == []
    assert_nothing_pushed(stack, before)


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("FirstName LIKE", "Incorrect syntax near"),
        ("Nickname = 'Alex'", "Invalid column name 'Nickname'"),
    ],
)
def test_a_filter_bromcom_refuses_is_a_fault_with_sql_servers_words(
    stack: Stack, where: str, reason: str
) -> None:
    # The pipeline fetches whole entities; filters come from callers of the source.
    source = BromcomSource.for_school(
        load_school(stack.school_file), max_attempts=ATTEMPTS, base_delay=0.01
    )
    try:
        with pytest.raises(BromcomFault, match=re.escape(reason)) as caught:
            source.fetch("Students", where)
    finally:
        source.close()
    assert not caught.value.transient
    assert "Oakfield Primary School" in str(caught.value)
    assert [r.entity_filter for r in calls(stack, DATA)] == [where]


# -- transient Bromcom faults: retried with backoff ------------------------------------------


def _students(make: Any) -> Any:
    return lambda n: make(operation=DATA, entity="Students", times=n)


# kind -> (the fault, n times; the errors it may give; words its message must hold)
TRANSIENT: dict[str, tuple[Any, tuple[type[SourceError], ...], list[str]]] = {
    "503": (
        _students(lambda **kw: Fault.http_status(503, **kw)),
        (BromcomUnreachable,),
        ["did not answer", "HTTP 503", "try again later"],
    ),
    # IIS's HTML 500 page is Bromcom's server failing, not a wrong URL: retried like a 503.
    "500 page": (
        _students(Fault.server_error),
        (BromcomServerError,),
        ["Bromcom's server failed", "HTTP 500", "'Runtime Error'", "contact Bromcom support"],
    ),
    "timeout": (
        _students(lambda **kw: Fault.delay(SLOW, **kw)),
        (BromcomUnreachable,),
        [
            "sent no answer for entity Students within",
            "the Bromcom timeout",
            "timeouts.bromcom_seconds",
        ],
    ),
    # The answer started, then the connection died: a dropped connection or a cut-off answer
    # are both fair descriptions, but the message must say which answer.
    "connection reset": (
        _students(Fault.connection_reset),
        (BromcomUnreachable, BromcomResponseError),
        ["Students"],
    ),
    "truncated": (_students(Fault.truncated), (BromcomResponseError,), ["Students"]),
    "malformed": (
        _students(Fault.malformed),
        (BromcomResponseError,),
        ["Students", "could not be read"],
    ),
}


@pytest.mark.parametrize("kind", list(TRANSIENT))
def test_a_transient_fault_is_retried_and_the_run_succeeds(
    stack: Stack, fast: Clients, kind: str
) -> None:
    before = first_sync(stack)
    make, _, _ = TRANSIENT[kind]
    if kind == "timeout":
        fast.read_timeout = SHORT_READ_TIMEOUT
    stack.bromcom.inject(make(1))
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3, result.output  # 1007 is still held back by its check
    assert "1 applied" in result.output
    students = calls(stack, DATA, "Students")
    assert [r.fault for r in students] == [make(1).kind, None]  # the fault, then the retry
    assert len(fast.waits) == 1 and 0 <= fast.waits[0] <= 0.02
    assert fast.errors == []  # the retry cured it: nothing reached the pipeline
    after = people(stack)
    assert {m for m in after if after[m] != before[m]} == {"1003"}
    assert after["1003"]["fields"]["surname"] == "O'Brien-Walsh"


@pytest.mark.parametrize("kind", TRANSIENT)
def test_a_fault_on_every_attempt_gives_up_and_pushes_nothing(
    stack: Stack, fast: Clients, kind: str
) -> None:
    before = first_sync(stack)
    make, errors, words = TRANSIENT[kind]
    if kind == "timeout":
        fast.read_timeout = SHORT_READ_TIMEOUT
    stack.bromcom.inject(make(ATTEMPTS))
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 1, result.output
    assert len(calls(stack, DATA, "Students")) == ATTEMPTS
    # Backoff doubles: the wait after attempt n is at most base_delay * 2 ** (n - 1).
    assert len(fast.waits) == ATTEMPTS - 1
    assert all(w <= 0.02 * 2**i for i, w in enumerate(fast.waits))
    assert_nothing_pushed(stack, before)
    [error] = fast.errors
    assert isinstance(error, errors) and error.transient
    [line] = [line for line in result.output.splitlines() if line.startswith("✘")]
    for text in [*words, f"tried {ATTEMPTS} times"]:
        assert text in line
    # Written for a data manager: no Python exception names.
    assert not re.search(r"\b[A-Z][A-Za-z]+(Error|Exception)\b", line), line


def test_a_503_on_the_service_description_is_retried(stack: Stack, fast: Clients) -> None:
    stack.bromcom.inject(Fault.http_status(503, operation="WSDL"))
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3 and "12 applied" in result.output, result.output
    assert [r.status for r in calls(stack, "WSDL")] == [503, 200]


# -- ParentPay faults -------------------------------------------------------------------------


def test_parentpay_429_waits_for_retry_after_then_pushes_once(stack: Stack, fast: Clients) -> None:
    stack.parentpay.inject(429, method="POST", retry_after=2)
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 3 and "12 applied" in result.output, result.output
    uploads = posts(stack)
    assert [r.status for r in uploads] == [429, 200]
    assert uploads[0].idempotency_key == uploads[1].idempotency_key  # the same upload, retried
    assert fast.waits == [2.0]  # ParentPay's Retry-After, not our own backoff
    assert len(people(stack)) == 12


def test_parentpay_down_mid_push_keeps_what_it_acknowledged(
    stack: Stack, fast: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    pp = stack.parentpay
    fell_over: list[bool] = []

    class DownAfterFirstUpload(requests.Session):
        """ParentPay falls over once, as soon as it has answered the first batch."""

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
            response = super().request(method, url, *args, **kwargs)
            if method == "POST" and response.status_code == 200 and not fell_over:
                fell_over.append(True)
                pp.inject(503, times=ATTEMPTS, method="POST")
            return response

    monkeypatch.setitem(
        TARGETS,
        "parentpay",
        lambda **options: ParentPayClient.from_env(
            **options,
            max_attempts=ATTEMPTS,
            backoff_base=0.01,
            batch_size=5,
            session=DownAfterFirstUpload(),
            sleep=fast.waits.append,
        ),
    )
    failed = bromsync("run", str(stack.school_file))
    assert failed.exit_code == 1, failed.output
    assert (
        "did not accept batch 2 of 3" in failed.output
        and f"after {ATTEMPTS} attempts" in failed.output
    )
    assert "acknowledged 1 earlier batch (5 operations)" in failed.output
    assert [r.status for r in posts(stack)] == [200] + [503] * ATTEMPTS
    assert len(people(stack)) == 5
    kept = bromsync("sql", str(stack.school_file), "SELECT count(*) AS n FROM uploaded")
    assert re.search(r"^5$", kept.output, re.MULTILINE), kept.output

    # ParentPay is back: the re-run sends only the 7 records it never acknowledged.
    pp.clear_requests()
    again = bromsync("run", str(stack.school_file))
    assert again.exit_code == 3 and "7 applied" in again.output, again.output
    assert "rejected" not in again.output
    assert sum(r.op_count for r in posts(stack)) == 7
    assert len(people(stack)) == 12
    assert "nothing to push" in bromsync("run", str(stack.school_file)).output


def test_parentpay_503_on_every_attempt_exits_1_and_nothing_is_acknowledged(
    stack: Stack, fast: Clients
) -> None:
    stack.parentpay.inject(503, times=ATTEMPTS, method="POST")
    result = bromsync("run", str(stack.school_file))
    assert result.exit_code == 1, result.output
    assert "ParentPay" in result.output and "try again later" in result.output
    assert [r.status for r in posts(stack)] == [503] * ATTEMPTS
    assert people(stack) == {}
    again = bromsync("run", str(stack.school_file))
    assert again.exit_code == 3 and "12 applied" in again.output, again.output
    assert len(people(stack)) == 12
