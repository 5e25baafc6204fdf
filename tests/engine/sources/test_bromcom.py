"""The Bromcom client against a tiny scripted server that serves the real, published WSDL.

Replies are hand-written ASP.NET responses (tests/fixtures/soap/); the server records every
request, so what the client sent (where, how often, with which SOAPAction) is checked on the wire.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from lxml import etree

from engine.errors import (
    BromcomCredentialsError,
    BromcomDataError,
    BromcomFault,
    BromcomPermissionError,
    BromcomResponseError,
    BromcomSchoolIdError,
    BromcomServerError,
    BromcomUnreachable,
    MissingSecretError,
    SourceError,
)
from engine.sources import SOURCES, Table
from engine.sources.bromcom import BromcomSource, sql_literal
from tests.helpers.soap_server import (
    ASMX_PATH,
    PASSWORD_ENV,
    WSDL,
    Reply,
    SoapServer,
    fixture,
    gateway_error,
    make_school,
)

TNS = "{http://tempuri.org/}"


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret'pw")
    return "s3cret'pw"


@pytest.fixture
def server() -> Iterator[SoapServer]:
    with SoapServer(WSDL.read_bytes()) as srv:
        srv.on("findEntitiesBySchoolID", fixture("entities.xml"))
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def source(server: SoapServer, password: str, sleeps: list[float]) -> BromcomSource:
    return BromcomSource.for_school(
        make_school(server.url),
        base_delay=0.01,
        connect_timeout=2,
        read_timeout=5,
        sleep=sleeps.append,
    )


def body_value(received_body: bytes, name: str) -> str | None:
    return etree.fromstring(received_body).findtext(f".//{TNS}{name}")


def test_registry_builds_a_bromcom_source(server: SoapServer, password: str) -> None:
    assert isinstance(SOURCES["bromcom"](make_school(server.url)), BromcomSource)


def test_fetch_reads_types_nulls_and_dates_as_written(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on("getEntityDataBySchoolID", fixture("students.xml"))

    table = source.fetch("Students")

    assert isinstance(table, Table) and table.entity == "Students"
    assert list(table.columns)[:4] == ["StudentID", "PersonID", "UPN", "AdmissionNumber"]
    assert table.columns["DateOfBirth"] == "dateTime"
    assert table.columns["DataProcessingConsent"] == "boolean"
    first, second, third = table.rows
    assert first["StudentID"] == 1001 and first["AdmissionNumber"] == "000123"
    assert first["LastName"] == "O'Brien" and first["FirstName"] == "Siobhán"
    # 2016-06-02T00:00:00+01:00: a BST date of birth stays on 2 June, not 1 June 23:00 UTC.
    assert first["DateOfBirth"] == dt.datetime(2016, 6, 2)
    assert second["DateOfBirth"] == dt.datetime(2015, 1, 15)  # written +00:00 (GMT)
    assert first["MiddleName"] is None and first["EndDate"] is None and first["House"] is None
    assert third["MiddleName"] == ""  # present but empty is not NULL
    assert (first["DataProcessingConsent"], second["DataProcessingConsent"]) == (True, False)
    assert third["EndDate"] == dt.datetime(2024, 7, 19, 15, 30, 0, 123456)


def test_requests_go_to_the_school_url_with_the_school_credentials(
    server: SoapServer, source: BromcomSource, password: str
) -> None:
    server.on("getEntityDataBySchoolID", fixture("students.xml"))

    source.fetch("Students")

    # The WSDL says bromcom.ashbyschool.org.uk; the conftest guard would fail any try to go there.
    gets = [r for r in server.received if r.method == "GET"]
    assert [(g.path, g.query) for g in gets] == [(ASMX_PATH, "WSDL")]
    posts = server.posts()
    assert [p.operation for p in posts] == ["findEntitiesBySchoolID", "getEntityDataBySchoolID"]
    assert all(p.path == ASMX_PATH for p in posts)
    data = posts[1].body
    assert body_value(data, "schoolID") == "20001"
    assert body_value(data, "username") == "parentpay_oakfield"
    assert body_value(data, "password") == password
    assert body_value(data, "entityName") == "Students"


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("empty_no_table.xml", {}),
        (
            "empty_with_columns.xml",
            {
                "StudentID": "int",
                "FSMType": "string",
                "StartDate": "dateTime",
                "EndDate": "dateTime",
            },
        ),
    ],
)
def test_empty_dataset_is_an_empty_table(
    server: SoapServer, source: BromcomSource, name: str, columns: dict[str, str]
) -> None:
    server.on("getEntityDataBySchoolID", fixture(name))

    table = source.fetch("StudentMeals")

    assert table == Table(entity="StudentMeals", columns=columns, rows=[])


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ("students", "Students"),
        ("PersonAddress", "PersonAddresses"),
        ("personaddresses", "PersonAddresses"),
        ("School", "Schools"),
        ("Timetable", "TimeTable"),
        ("TIMETABLE", "TimeTable"),
    ],
)
def test_entity_names_resolve_case_insensitively_and_by_other_spellings(
    server: SoapServer, source: BromcomSource, asked: str, sent: str
) -> None:
    server.on("getEntityDataBySchoolID", fixture("empty_no_table.xml"))

    table = source.fetch(asked)

    assert table.entity == asked
    assert body_value(server.posts("getEntityDataBySchoolID")[0].body, "entityName") == sent


def test_permitted_entities_are_fetched_once_per_source(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on("getEntityDataBySchoolID", fixture("empty_no_table.xml"))

    source.fetch("Students")
    source.fetch("Staff")

    assert "TimeTable" in source.entities() and len(source.entities()) == 20
    assert len(server.posts("findEntitiesBySchoolID")) == 1
    assert len([r for r in server.received if r.method == "GET"]) == 1  # WSDL parsed once


def test_an_entity_not_ticked_is_refused_before_asking_bromcom(
    server: SoapServer, source: BromcomSource
) -> None:
    with pytest.raises(BromcomPermissionError) as caught:
        source.fetch("StudentMealPatterns")

    assert caught.value.entities == ["StudentMealPatterns"]
    message = str(caught.value)
    assert message.startswith("Oakfield Primary (schools/oakfield.yaml): ")
    assert "'StudentMealPatterns'" in message and "Third Party Access Permissions" in message
    assert "steps 6-7" in message and "'parentpay_oakfield'" in message
    assert server.posts("getEntityDataBySchoolID") == []
    assert source.missing(["Students", "PersonAddress", "StudentMealPatterns", "timetable"]) == [
        "StudentMealPatterns"
    ]


@pytest.mark.parametrize(
    ("reply", "error", "phrases"),
    [
        (
            "fault_credentials.xml",
            BromcomCredentialsError,
            ["bromcom.username ('parentpay_oakfield')", PASSWORD_ENV, '"Change password"'],
        ),
        (
            "fault_school_id.xml",
            BromcomSchoolIdError,
            ["school ID 20001", "bromcom.org_id", "MIS OrgID"],
        ),
    ],
)
def test_refusals_of_the_account_map_to_errors_and_are_not_retried(
    server: SoapServer,
    source: BromcomSource,
    reply: str,
    error: type[SourceError],
    phrases: list[str],
) -> None:
    server.on("findEntitiesBySchoolID", fixture(reply, status=500))

    with pytest.raises(error) as caught:
        source.fetch("Students")

    message = str(caught.value)
    assert message.startswith("Oakfield Primary (schools/oakfield.yaml): ")
    for phrase in phrases:
        assert phrase in message
    assert caught.value.school == "Oakfield Primary" and not caught.value.transient
    assert len(server.posts()) == 1


def test_a_fault_sent_with_http_200_is_still_a_fault(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on("findEntitiesBySchoolID", fixture("fault_credentials.xml", status=200))

    with pytest.raises(BromcomCredentialsError):
        source.entities()
    assert len(server.posts()) == 1


def test_a_permission_fault_names_the_entity(server: SoapServer, source: BromcomSource) -> None:
    server.on("getEntityDataBySchoolID", fixture("fault_permission.xml", status=500))

    with pytest.raises(BromcomPermissionError) as caught:
        source.fetch("StudentMeals")

    assert caught.value.entities == ["StudentMeals"]
    assert "tick 'StudentMeals'" in str(caught.value)
    assert len(server.posts("getEntityDataBySchoolID")) == 1


def test_any_other_fault_carries_bromcoms_reason(server: SoapServer, source: BromcomSource) -> None:
    server.on("getEntityDataBySchoolID", fixture("fault_other.xml", status=500))

    with pytest.raises(BromcomFault) as caught:
        source.fetch("Students", where="LastName = 'O'Brien'")

    assert str(caught.value) == (
        "Oakfield Primary (schools/oakfield.yaml): Bromcom refused the request for entity "
        "Students: Incorrect syntax near 'Brien'."
    )
    assert len(server.posts("getEntityDataBySchoolID")) == 1


def test_a_503_is_retried_with_jittered_backoff_then_succeeds(
    server: SoapServer, source: BromcomSource, sleeps: list[float]
) -> None:
    server.on(
        "findEntitiesBySchoolID", gateway_error(503), gateway_error(502), fixture("entities.xml")
    )
    server.on("getEntityDataBySchoolID", fixture("students.xml"))

    assert len(source.fetch("Students").rows) == 3

    assert len(server.posts("findEntitiesBySchoolID")) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[1] <= 0.02  # full jitter under base * 2^n


def test_a_persistent_503_gives_up_after_max_attempts(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on("findEntitiesBySchoolID", gateway_error(503))

    with pytest.raises(BromcomUnreachable) as caught:
        source.entities()

    assert caught.value.transient
    assert "HTTP 503" in str(caught.value) and "tried 3 times" in str(caught.value)
    assert len(server.posts()) == 3


def test_a_truncated_answer_is_a_response_error_and_is_retried(
    server: SoapServer, password: str
) -> None:
    whole = fixture("students.xml")
    server.on(
        "getEntityDataBySchoolID",
        Reply(200, whole.body[: len(whole.body) // 2], whole.content_type),
    )
    source = BromcomSource.for_school(make_school(server.url), max_attempts=2, sleep=lambda _: None)

    with pytest.raises(BromcomResponseError) as caught:
        source.fetch("Students")

    assert "could not be read" in str(caught.value) and "entity Students" in str(caught.value)
    assert len(server.posts("getEntityDataBySchoolID")) == 2


def test_a_closed_port_is_unreachable_quickly(password: str) -> None:
    # Bound but never listening: connections are refused, and no other program (a parallel
    # test run) can take the port while the test holds it, as it could once it was closed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}{ASMX_PATH}"
        source = BromcomSource.for_school(make_school(url), base_delay=0.001, connect_timeout=1)

        started = time.monotonic()
        with pytest.raises(BromcomUnreachable) as caught:
            source.entities()

        assert time.monotonic() - started < 3
    assert f"the Bromcom URL {url} did not answer" in str(caught.value)
    assert "check bromcom.url" in str(caught.value).lower()


def test_a_slow_answer_times_out_as_unreachable(server: SoapServer, password: str) -> None:
    server.on("findEntitiesBySchoolID", Reply(body=b"late", delay=5))
    source = BromcomSource.for_school(make_school(server.url), max_attempts=1, read_timeout=0.3)

    started = time.monotonic()
    with pytest.raises(BromcomUnreachable, match=r"sent no answer .* within 0.3 s") as caught:
        source.entities()
    assert time.monotonic() - started < 3
    assert caught.value.short == "no answer in 0.3 s"  # what a retry line says


def test_the_wsdl_fetch_is_retried_when_transient(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on_wsdl(gateway_error(504), Reply(body=WSDL.read_bytes()))

    assert len(source.entities()) == 20
    assert len([r for r in server.received if r.method == "GET"]) == 2


@pytest.mark.parametrize(
    ("reply", "error", "phrase"),
    [
        (Reply(404, b"Not Found", "text/plain"), BromcomFault, "answered HTTP 404"),
        (Reply(200, b"<html><body>Sign in</body>", "text/html"), BromcomResponseError,
         "did not return Bromcom's service description"),
    ],
)  # fmt: skip
def test_a_url_that_is_not_the_service_says_to_check_it(
    server: SoapServer, password: str, reply: Reply, error: type[SourceError], phrase: str
) -> None:
    server.on_wsdl(reply)
    source = BromcomSource.for_school(make_school(server.url), max_attempts=1)

    with pytest.raises(error) as caught:
        source.entities()

    assert phrase in str(caught.value) and "bromcom.url" in str(caught.value)
    assert server.posts() == []


def test_a_missing_password_variable_stops_before_any_call(
    server: SoapServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    source = BromcomSource.for_school(make_school(server.url))

    with pytest.raises(MissingSecretError, match=PASSWORD_ENV):
        source.entities()
    assert server.posts() == []


@pytest.mark.parametrize(
    ("version", "envelope", "entities_reply", "fault_reply"),
    [
        ("1.2", "http://www.w3.org/2003/05/soap-envelope", "entities.xml", "fault_credentials.xml"),
        ("1.1", "http://schemas.xmlsoap.org/soap/envelope/", "entities_soap11.xml",
         "fault_credentials_soap11.xml"),
    ],
)  # fmt: skip
def test_soap_11_and_12_request_shapes(
    server: SoapServer,
    password: str,
    version: str,
    envelope: str,
    entities_reply: str,
    fault_reply: str,
) -> None:
    server.on("findEntitiesBySchoolID", fixture(entities_reply))
    source = BromcomSource.for_school(make_school(server.url), soap_version=version)  # type: ignore[arg-type]

    assert "Students" in source.entities()

    (post,) = server.posts()
    action = "http://tempuri.org/findEntitiesBySchoolID"
    content_type = post.headers["content-type"]
    if version == "1.2":
        assert content_type.startswith("application/soap+xml")
        assert f'action="{action}"' in content_type
    else:
        assert content_type.startswith("text/xml")
        assert post.headers["soapaction"] == f'"{action}"'
    assert etree.QName(etree.fromstring(post.body)).namespace == envelope

    server.on("getEntityDataBySchoolID", fixture(fault_reply, status=500))
    with pytest.raises(BromcomCredentialsError):
        source.fetch("Students")


def test_filter_values_are_escaped_on_the_wire(server: SoapServer, source: BromcomSource) -> None:
    server.on("getEntityDataBySchoolID", fixture("students.xml"))

    name, start = sql_literal("O'Brien"), sql_literal(dt.date(2010, 9, 1))
    where = f"LastName = {name} AND StartDate > {start}"
    source.fetch("Students", where=where)

    (post,) = server.posts("getEntityDataBySchoolID")
    assert (
        body_value(post.body, "entityFilter") == "LastName = 'O''Brien' AND StartDate > '20100901'"
    )


def test_sql_literal() -> None:
    assert sql_literal("O'Brien") == "'O''Brien'"
    assert sql_literal("''") == "''''''"
    assert sql_literal("S%") == "'S%'"
    assert sql_literal(dt.date(2016, 6, 2)) == "'20160602'"
    assert sql_literal(dt.datetime(2016, 6, 2)) == "'20160602'"
    assert sql_literal(dt.datetime(2016, 6, 2, 9, 5, 7)) == "'20160602 09:05:07'"
    assert sql_literal(42) == "42" and sql_literal(True) == "1" and sql_literal(None) == "NULL"
    assert sql_literal(Decimal("1.50")) == "1.50"
    with pytest.raises(TypeError):
        sql_literal(object())


# -- Bromcom's server failing, and Bromcom data that cannot be read --------------------------

ASPNET_500 = (
    b"<!DOCTYPE html>\r\n<html>\r\n    <head>\r\n        <title>Runtime Error</title>\r\n"
    b"    </head>\r\n    <body bgcolor=\"white\">\r\n            <span><H1>Server Error in '/' "
    b"Application.<hr width=100% size=1 color=silver></H1>\r\n    </body>\r\n</html>\r\n"
)


def server_error_page(body: bytes = ASPNET_500) -> Reply:
    return Reply(500, body, "text/html; charset=utf-8")


def test_an_html_500_is_retried_like_a_503_then_succeeds(
    server: SoapServer, source: BromcomSource, sleeps: list[float]
) -> None:
    server.on("getEntityDataBySchoolID", server_error_page(), fixture("students.xml"))

    assert len(source.fetch("Students").rows) == 3
    assert len(server.posts("getEntityDataBySchoolID")) == 2 and len(sleeps) == 1


def test_a_persistent_html_500_says_bromcoms_server_failed_never_check_the_url(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on("getEntityDataBySchoolID", server_error_page())

    with pytest.raises(BromcomServerError) as caught:
        source.fetch("Students")

    message = str(caught.value)
    assert caught.value.transient and len(server.posts("getEntityDataBySchoolID")) == 3
    assert message == (
        "Oakfield Primary (schools/oakfield.yaml): Bromcom's server failed when asked for entity "
        "Students: it answered HTTP 500 with the error page 'Runtime Error', not a web-service "
        "reply. This is a fault on Bromcom's side, not in the school file: try again later; if "
        "it keeps failing, contact Bromcom support and quote that page (tried 3 times)"
    )
    assert "bromcom.url" not in message


def test_an_html_500_page_is_quoted_with_the_credentials_scrubbed(
    server: SoapServer, source: BromcomSource, password: str
) -> None:
    page = f"<html><head><title>Login failed for parentpay_oakfield / {password}</title></head>"
    server.on("findEntitiesBySchoolID", server_error_page(page.encode()))

    with pytest.raises(BromcomServerError) as caught:
        source.entities()

    assert "'Login failed for <scrubbed> / <scrubbed>'" in str(caught.value)
    assert password not in str(caught.value)


def test_a_500_with_a_soap_fault_is_still_the_fault(
    server: SoapServer, source: BromcomSource
) -> None:
    server.on("getEntityDataBySchoolID", fixture("fault_credentials.xml", status=500))
    with pytest.raises(BromcomCredentialsError):
        source.fetch("Students")


@pytest.mark.parametrize("status", [200, 404])
def test_an_html_page_with_200_or_404_is_still_a_wrong_url(
    server: SoapServer, source: BromcomSource, status: int
) -> None:
    page = b"<html><head><title>Sign in to Example Portal</title></head><body>...</body></html>"
    server.on("getEntityDataBySchoolID", Reply(status, page, "text/html"))

    with pytest.raises(BromcomFault) as caught:
        source.fetch("Students")

    assert not caught.value.transient and len(server.posts("getEntityDataBySchoolID")) == 1
    message = str(caught.value)
    assert f"answered HTTP {status}, not a Bromcom web-service reply" in message
    assert "(it sent a web page titled 'Sign in to Example Portal')" in message
    assert "check bromcom.url" in str(caught.value)


def test_a_control_character_in_a_name_names_the_row_and_is_bromcom_data_to_correct(
    server: SoapServer, source: BromcomSource, sleeps: list[float]
) -> None:
    students = fixture("students.xml")
    body = students.body.replace(b"<LastName>Smith</LastName>", b"<LastName>Sm&#x1;ith</LastName>")
    server.on("getEntityDataBySchoolID", Reply(200, body, students.content_type))

    with pytest.raises(BromcomDataError) as caught:
        source.fetch("Students")

    assert str(caught.value) == (
        "Oakfield Primary (schools/oakfield.yaml): Bromcom's answer for entity Students cannot "
        "be read: 1 value holds a character that XML does not allow, which Bromcom sent anyway, "
        "so nothing was pushed for this school. This is Bromcom data to correct: row 2 "
        "(StudentID 1002, PersonID 1002), column LastName: 'Sm[U+0001]ith' holds the control "
        "character U+0001. In Bromcom, open that record and type the value again (such a "
        "character is invisible there: delete the whole value and retype it; it usually comes "
        "with text pasted from another program), then run bromsync again"
    )
    assert (caught.value.entity, caught.value.rows) == (
        "Students",
        ["row 2 (StudentID 1002, PersonID 1002), column LastName"],
    )
    # The same answer would come again: told at once, not retried.
    assert not caught.value.transient and sleeps == []
    assert len(server.posts("getEntityDataBySchoolID")) == 1


def test_many_bad_values_name_five_and_count_the_rest(
    server: SoapServer, source: BromcomSource
) -> None:
    students = fixture("students.xml")
    body = students.body.replace(b"</FirstName>", b"&#x2;</FirstName>")
    body = body.replace(b"</LastName>", b"&#x3;</LastName>")
    body = body.replace(b"</UPN>", b"&#x4;</UPN>")
    server.on("getEntityDataBySchoolID", Reply(200, body, students.content_type))

    with pytest.raises(BromcomDataError) as caught:
        source.fetch("Students")

    message = str(caught.value)
    assert "cannot be read: 8 values hold a character" in message
    assert message.count("holds the control character") == 5 and "; and 3 more." in message
    assert "open each record and type the values again" in message


def test_a_date_that_is_not_one_in_a_datetime_column_names_the_record(
    server: SoapServer, source: BromcomSource, sleeps: list[float]
) -> None:
    students = fixture("students.xml")
    body = students.body.replace(
        b"<DateOfBirth>2015-01-15T00:00:00+00:00</DateOfBirth>",
        b"<DateOfBirth>15/01/2015 00:00:00</DateOfBirth>",
    )
    server.on("getEntityDataBySchoolID", Reply(200, body, students.content_type))

    with pytest.raises(BromcomDataError) as caught:
        source.fetch("Students")

    message = str(caught.value)
    assert (
        "cannot be read: 1 value does not fit the type the answer's own schema gives its "
        "column, so nothing was pushed" in message
    )
    assert (
        "row 2 (StudentID 1002, PersonID 1002), column DateOfBirth: '15/01/2015 00:00:00' is "
        "not an xs:dateTime" in message
    )
    assert "contact Bromcom support" in message
    assert sleeps == [] and len(server.posts("getEntityDataBySchoolID")) == 1
