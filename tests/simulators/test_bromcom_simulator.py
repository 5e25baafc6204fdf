"""The Bromcom simulator over the wire: raw HTTP and lxml only, no zeep and no engine code."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from simulators.bromcom import CATALOGUE, SERVICE_PATH, BromcomSimulator, Fault

TNS = "http://tempuri.org/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XS = "http://www.w3.org/2001/XMLSchema"
DIFFGR = "urn:schemas-microsoft-com:xml-diffgram-v1"
MSDATA = "urn:schemas-microsoft-com:xml-msdata"
NS = {"s11": SOAP11, "s12": SOAP12, "t": TNS, "xs": XS, "diffgr": DIFFGR, "msdata": MSDATA}
OAK, ELM = 20001, 20002
OAK_LOGIN = {"username": "parentpay_oak", "password": "s3cret&<'"}
ELM_LOGIN = {"username": "elm", "password": "pw"}
STUDENT_COLUMNS = [
    ["StudentID", "int"], ["UPN", "string"], ["AdmissionNumber", "string"],
    ["LastName", "string"], ["DateOfBirth", "dateTime"], ["EndDate", "dateTime"],
    ["DataProcessingConsent", "boolean"],
]  # fmt: skip


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "bromcom"
    write(root / str(OAK) / "account.json",
          {**OAK_LOGIN, "permitted": ["Students", "Timetable", "People", "Homework"]})  # fmt: skip
    write(root / str(OAK) / "Students.json", {"columns": STUDENT_COLUMNS, "rows": [
        {"StudentID": 1052, "UPN": "A123456789012", "AdmissionNumber": "000123",
         "LastName": "O'Brien & <Sons>", "DateOfBirth": "2016-06-02", "EndDate": None,
         "DataProcessingConsent": True},
        {"StudentID": 1053, "LastName": "Smyth", "DateOfBirth": "2016-01-05",
         "EndDate": "2024-07-19T15:30:00", "DataProcessingConsent": False},
    ]})  # fmt: skip
    write(root / str(OAK) / "TimeTable.json", {"rows": [{"ClassID": 7, "ClassName": "7A/Ma"}]})
    write(root / str(OAK) / "Staff.json", {"rows": [{"StaffID": 9}]})  # on disk, not ticked
    write(root / str(ELM) / "account.json",
          {"username": "elm", "password": "pw", "permitted": ["Staff", "Students"]})  # fmt: skip
    write(root / str(ELM) / "Staff.json", {"rows": [{"StaffID": 501, "LastName": "Ash"}]})
    return root


@pytest.fixture
def sim(data_dir: Path) -> Iterator[BromcomSimulator]:
    with BromcomSimulator(data_dir) as running:
        yield running


def envelope(operation: str, version: str, params: dict[str, Any]) -> bytes:
    ns = SOAP11 if version == "1.1" else SOAP12
    inner = "".join(f"<{k}>{_esc(str(v))}</{k}>" for k, v in params.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>'
        f'<{operation} xmlns="{TNS}">{inner}</{operation}></soap:Body></soap:Envelope>'
    ).encode()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post(url: str, operation: str, version: str = "1.1", body: bytes | None = None,
         timeout: float = 5, **params: Any) -> requests.Response:  # fmt: skip
    if version == "1.1":
        headers = {"Content-Type": "text/xml; charset=utf-8",
                   "SOAPAction": f'"http://tempuri.org/{operation}"'}  # fmt: skip
    else:
        headers = {"Content-Type": "application/soap+xml; charset=utf-8; "
                                   f'action="http://tempuri.org/{operation}"'}  # fmt: skip
    data = body if body is not None else envelope(operation, version, params)
    return requests.post(url, data=data, headers=headers, timeout=timeout)


def get_data(
    sim: BromcomSimulator, entity: str, entity_filter: str = "", version: str = "1.1",
    operation: str = "getEntityDataBySchoolID", *, school: object = OAK,
    login: dict[str, str] | None = None,
) -> requests.Response:  # fmt: skip
    return post(sim.url, operation, version, schoolID=school, entityName=entity,
                entityFilter=entity_filter, **(login or OAK_LOGIN))  # fmt: skip


def result(response: requests.Response, operation: str = "getEntityDataBySchoolID") -> Any:
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    found = root.find(f".//{{{TNS}}}{operation}Response/{{{TNS}}}{operation}Result")
    assert found is not None
    return found


def rows(result_el: Any) -> list[dict[str, str]]:
    tables = result_el.findall("diffgr:diffgram/NewDataSet/Table", NS)
    return [{child.tag: child.text for child in table} for table in tables]


def schema_columns(result_el: Any) -> list[tuple[str, str]]:
    elements = result_el.findall(
        "xs:schema/xs:element/xs:complexType/xs:choice/xs:element/xs:complexType/xs:sequence/"
        "xs:element", NS)  # fmt: skip
    return [(el.get("name"), el.get("type")) for el in elements]


def fault_of(response: requests.Response) -> tuple[str, str]:
    """(code, reason) of a SOAP 1.1 or 1.2 fault answered with HTTP 500."""
    assert response.status_code == 500, response.text
    root = etree.fromstring(response.content)
    if root.tag == f"{{{SOAP11}}}Envelope":
        fault = root.find("s11:Body/s11:Fault", NS)
        return fault.findtext("faultcode"), fault.findtext("faultstring")
    fault = root.find("s12:Body/s12:Fault", NS)
    return fault.findtext("s12:Code/s12:Value", namespaces=NS), fault.findtext(
        "s12:Reason/s12:Text", namespaces=NS
    )


# -- WSDL -------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["?WSDL", "?wsdl", "?Wsdl"])
def test_wsdl_is_served_with_our_own_address(sim: BromcomSimulator, query: str) -> None:
    response = requests.get(sim.url + query, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    assert root.get("targetNamespace") == TNS
    locations = root.xpath("//*[local-name()='address']/@location")
    assert len(locations) == 4
    assert set(locations) == {sim.url}
    assert sim.url.endswith(SERVICE_PATH)
    wsdl = "http://schemas.xmlsoap.org/wsdl/"
    ops = {op.get("name") for op in root.iterfind(f"{{{wsdl}}}portType/{{{wsdl}}}operation")}
    assert ops == {
        "findEntities", "findEntitiesBySchoolID", "findEntitiesBySchoolIDAsXml", "getEntityData",
        "getEntityDataBySchoolID", "getEntityDataBySchoolIDAsXml", "getExcelAddInData",
        "getExcelAddInColumns", "validateExcelAddInAccount", "getFMS6Data",
        "testDatabaseConnection",
    }  # fmt: skip
    actions = root.xpath("//*[local-name()='operation']/@soapAction")
    assert "http://tempuri.org/getEntityDataBySchoolID" in actions


def test_wsdl_copy_matches_the_reference_apart_from_addresses(sim: BromcomSimulator) -> None:
    served = requests.get(sim.url + "?WSDL", timeout=5).text
    packaged = Path(__file__).parents[2] / "simulators/bromcom/TPReadOnlyDataService.wsdl"
    reference = packaged.read_text(encoding="utf-8")
    assert served.replace(sim.url, "X") == reference.replace(
        "http://bromcom.ashbyschool.org.uk/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx",
        "X",
    )


def test_plain_get_answers_a_help_page(sim: BromcomSimulator) -> None:
    response = requests.get(sim.url, timeout=5)
    assert response.status_code == 200 and "getEntityDataBySchoolID" in response.text


# -- success shapes ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_entity_data_is_a_dotnet_dataset(sim: BromcomSimulator, version: str) -> None:
    response = get_data(sim, "Students", version=version)
    expected_type = "text/xml" if version == "1.1" else "application/soap+xml"
    assert response.headers["Content-Type"] == f"{expected_type}; charset=utf-8"
    res = result(response)
    schema = res.find("xs:schema", NS)
    assert schema.get("id") == "NewDataSet"
    dataset_el = schema.find("xs:element", NS)
    assert dataset_el.get(f"{{{MSDATA}}}IsDataSet") == "true"
    assert schema_columns(res) == [(n, f"xs:{t}") for n, t in STUDENT_COLUMNS]
    tables = res.findall("diffgr:diffgram/NewDataSet/Table", NS)
    assert [t.get(f"{{{DIFFGR}}}id") for t in tables] == ["Table1", "Table2"]
    assert [t.get(f"{{{MSDATA}}}rowOrder") for t in tables] == ["0", "1"]
    first, second = rows(res)
    assert first == {
        "StudentID": "1052", "UPN": "A123456789012", "AdmissionNumber": "000123",
        "LastName": "O'Brien & <Sons>", "DateOfBirth": "2016-06-02T00:00:00+01:00",
        "DataProcessingConsent": "true",
    }  # fmt: skip
    # NULL and missing columns are absent; a winter date is +00:00; a summer time +01:00
    assert second == {
        "StudentID": "1053", "LastName": "Smyth", "DateOfBirth": "2016-01-05T00:00:00+00:00",
        "EndDate": "2024-07-19T15:30:00+01:00", "DataProcessingConsent": "false",
    }  # fmt: skip


def test_raw_text_matches_aspnet_layout(sim: BromcomSimulator) -> None:
    text = get_data(sim, "Students").text
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?><soap:Envelope')
    assert (
        '<getEntityDataBySchoolIDResponse xmlns="http://tempuri.org/"><getEntityDataBySchoolIDResult>'
        '<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata">'
        '<xs:element name="NewDataSet" msdata:IsDataSet="true" msdata:UseCurrentLocale="true">'
        '<xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded"><xs:element name="Table">'
        '<xs:complexType><xs:sequence><xs:element name="StudentID" type="xs:int" minOccurs="0" />'
    ) in text
    assert (
        '<diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" '
        'xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns="">'
        '<Table diffgr:id="Table1" msdata:rowOrder="0"><StudentID>1052</StudentID>'
    ) in text


def test_soap12_without_action_is_routed_by_body(sim: BromcomSimulator) -> None:
    body = envelope("getEntityDataBySchoolID", "1.2",
                    {"schoolID": OAK, "entityName": "Students", **OAK_LOGIN})  # fmt: skip
    response = requests.post(sim.url, data=body, timeout=5,
                             headers={"Content-Type": "application/soap+xml"})  # fmt: skip
    assert [r["StudentID"] for r in rows(result(response))] == ["1052", "1053"]


@pytest.mark.parametrize(
    ("school", "login", "expected"),
    [
        (OAK, OAK_LOGIN, ["Students", "TimeTable", "People", "Homework"]),
        (ELM, ELM_LOGIN, ["Staff", "Students"]),
    ],
)
def test_find_entities_lists_what_the_school_ticked(
    sim: BromcomSimulator, school: int, login: dict[str, str], expected: list[str]
) -> None:
    res = result(post(sim.url, "findEntitiesBySchoolID", schoolID=school, **login),
                 "findEntitiesBySchoolID")  # fmt: skip
    assert schema_columns(res) == [("EntityName", "xs:string")]
    assert [r["EntityName"] for r in rows(res)] == expected


@pytest.mark.parametrize("name", ["STUDENTS", "students", "Students"])
def test_entity_names_are_case_insensitive(sim: BromcomSimulator, name: str) -> None:
    assert len(rows(result(get_data(sim, name)))) == 2


def test_timetable_file_spelling_is_served_for_any_case(sim: BromcomSimulator) -> None:
    res = result(get_data(sim, "Timetable"))
    assert rows(res) == [{"ClassID": "7", "ClassName": "7A/Ma"}]
    assert schema_columns(res)[0] == ("ClassID", "xs:int")  # catalogue columns, no "columns"


def test_permitted_entity_without_file_is_empty_but_keeps_columns(sim: BromcomSimulator) -> None:
    res = result(get_data(sim, "People"))
    assert schema_columns(res) == [(n, f"xs:{t}") for n, t in CATALOGUE["People"]]
    diffgram = res.find("diffgr:diffgram", NS)
    assert diffgram is not None and len(diffgram) == 0


def test_unknown_permitted_entity_is_an_empty_dataset_without_columns(
    sim: BromcomSimulator,
) -> None:
    response = get_data(sim, "Homework")
    assert '<xs:choice minOccurs="0" maxOccurs="unbounded" />' in response.text
    assert schema_columns(result(response)) == []
    assert len(result(response).find("diffgr:diffgram", NS)) == 0


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_as_xml_twins_return_the_dataset_as_a_string(sim: BromcomSimulator, version: str) -> None:
    op = "getEntityDataBySchoolIDAsXml"
    text = result(get_data(sim, "Students", "StudentID = 1052", version, op), op).text
    table = etree.fromstring(text).find("Table")
    assert table.findtext("LastName") == "O'Brien & <Sons>"
    assert table.findtext("DateOfBirth") == "2016-06-02T00:00:00+01:00"
    assert table.find("EndDate") is None
    empty = result(get_data(sim, "People", "", version, op), op).text
    assert empty == "<NewDataSet />"
    op = "findEntitiesBySchoolIDAsXml"
    listing = result(post(sim.url, op, version, schoolID=OAK, **OAK_LOGIN), op).text
    assert etree.fromstring(listing).xpath("Table/EntityName/text()")[:2] == [
        "Students",
        "TimeTable",
    ]


# -- faults -----------------------------------------------------------------------------------
BAD_LOGIN = {"username": "parentpay_oak", "password": "wrong"}


@pytest.mark.parametrize(("version", "code"), [("1.1", "soap:Server"), ("1.2", "soap:Receiver")])
@pytest.mark.parametrize(
    ("school", "login", "entity", "reason"),
    [
        (99999, BAD_LOGIN, "Students", "Invalid school ID"),  # school is checked first
        (0, OAK_LOGIN, "Students", "Invalid school ID"),
        (OAK, BAD_LOGIN, "Students", "Invalid username or password"),
        (OAK, {"username": "PARENTPAY_OAK", "password": OAK_LOGIN["password"]}, "Students",
         "Invalid username or password"),
        (ELM, OAK_LOGIN, "Students", "Invalid username or password"),
        (OAK, OAK_LOGIN, "Staff", "Access to entity 'Staff' is not permitted"),  # file, unticked
        (OAK, OAK_LOGIN, "Emails", "Access to entity 'Emails' is not permitted"),
        (OAK, OAK_LOGIN, "NoSuchThing", "Access to entity 'NoSuchThing' is not permitted"),
        (ELM, ELM_LOGIN, "people",
         "Access to entity 'people' is not permitted"),
    ],
)  # fmt: skip
def test_faults_as_bromcom_gives_them(
    sim: BromcomSimulator, version: str, code: str, school: int, login: dict[str, str],
    entity: str, reason: str,
) -> None:  # fmt: skip
    response = get_data(sim, entity, "", version, school=school, login=login)
    assert fault_of(response) == (code, f"Server was unable to process request. ---> {reason}")


@pytest.mark.parametrize(("version", "code"), [("1.1", "soap:Client"), ("1.2", "soap:Sender")])
@pytest.mark.parametrize(
    "body",
    [b"this is not xml", b"", b"<soap:Envelope xmlns:soap='X'", b"<a/>"],
)
def test_malformed_requests_get_the_aspnet_read_fault(
    sim: BromcomSimulator, version: str, code: str, body: bytes
) -> None:
    got_code, reason = fault_of(post(sim.url, "getEntityDataBySchoolID", version, body=body))
    if body == b"<a/>":  # well-formed, but no envelope
        assert got_code == "soap:VersionMismatch"
        assert reason.startswith("Possible SOAP version mismatch")
    else:
        assert (got_code, reason.split(" ---> ")[0]) == (code, "Server was unable to read request.")


def test_missing_body_and_bad_school_id_are_read_faults(sim: BromcomSimulator) -> None:
    no_body = f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Header/></soap:Envelope>'.encode()
    code, reason = fault_of(post(sim.url, "getEntityDataBySchoolID", body=no_body))
    assert code == "soap:Client" and reason.startswith("Server was unable to read request.")
    code, reason = fault_of(get_data(sim, "Students", school="abc"))
    assert code == "soap:Client" and "Input string was not in a correct format" in reason


def test_soap11_needs_a_known_soapaction(sim: BromcomSimulator) -> None:
    body = envelope("getEntityDataBySchoolID", "1.1", {"schoolID": OAK, **OAK_LOGIN})
    response = requests.post(sim.url, data=body, timeout=5,
                             headers={"Content-Type": "text/xml; charset=utf-8"})  # fmt: skip
    assert fault_of(response) == (
        "soap:Client",
        "Server did not recognize the value of HTTP Header SOAPAction: .",
    )


def test_unqualified_parameters_are_ignored_like_xmlserializer(sim: BromcomSimulator) -> None:
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><t:getEntityDataBySchoolID '
        f'xmlns:t="{TNS}"><schoolID>{OAK}</schoolID><entityName>Students</entityName>'
        "</t:getEntityDataBySchoolID></soap:Body></soap:Envelope>"
    ).encode()
    assert fault_of(post(sim.url, "getEntityDataBySchoolID", body=body))[1].endswith(
        "Invalid school ID")  # fmt: skip


def test_non_soap_post_is_refused_as_aspnet_does(sim: BromcomSimulator) -> None:
    response = requests.post(sim.url, json={"schoolID": OAK}, timeout=5)
    assert response.status_code == 500
    assert response.text == "Request format is invalid: application/json."


@pytest.mark.parametrize("operation", ["getEntityData", "getExcelAddInData", "getFMS6Data"])
def test_other_wsdl_operations_are_not_supported(sim: BromcomSimulator, operation: str) -> None:
    response = post(sim.url, operation, schoolID=OAK, **OAK_LOGIN)
    reason = f"Operation '{operation}' is not supported by this simulator"
    assert fault_of(response) == (
        "soap:Server",
        f"Server was unable to process request. ---> {reason}",
    )


# -- entityFilter on the wire -----------------------------------------------------------------
def test_filter_is_applied(sim: BromcomSimulator) -> None:
    res = result(get_data(sim, "Students", "LastName LIKE 'o''b%' AND DataProcessingConsent = 1"))
    assert [r["StudentID"] for r in rows(res)] == ["1052"]
    assert rows(result(get_data(sim, "Students", "EndDate = NULL"))) == []


@pytest.mark.parametrize(("today", "expected"), [("2024-07-19", ["1052", "1053"]),
                                                 ("2024-07-20", ["1052"])])  # fmt: skip
def test_getdate_follows_bromsync_today(
    sim: BromcomSimulator, monkeypatch: pytest.MonkeyPatch, today: str, expected: list[str]
) -> None:
    monkeypatch.setenv("BROMSYNC_TODAY", today)
    on_roll = "GETDATE() BETWEEN '20100101' AND ISNULL(EndDate, GETDATE())"
    res = result(get_data(sim, "Students", on_roll))
    assert [r["StudentID"] for r in rows(res)] == expected


@pytest.mark.parametrize(
    ("entity_filter", "reason"),
    [
        ("StudentID = = 1", "Incorrect syntax near '='."),
        ("Surname = 'Smyth'", "Invalid column name 'Surname'."),
    ],
)
def test_bad_filter_is_a_sql_server_fault(
    sim: BromcomSimulator, entity_filter: str, reason: str
) -> None:
    assert fault_of(get_data(sim, "Students", entity_filter, "1.2")) == (
        "soap:Receiver", f"Server was unable to process request. ---> {reason}")  # fmt: skip


# -- data changes, data errors, speed -----------------------------------------------------------
def test_edited_file_is_picked_up(sim: BromcomSimulator, data_dir: Path) -> None:
    assert rows(result(get_data(sim, "Students")))[1]["LastName"] == "Smyth"
    path = data_dir / str(OAK) / "Students.json"
    data = json.loads(path.read_text())
    data["rows"][1]["LastName"] = "Smith"
    path.write_text(json.dumps(data))
    assert rows(result(get_data(sim, "Students")))[1]["LastName"] == "Smith"
    account = json.loads((data_dir / str(OAK) / "account.json").read_text())
    account["permitted"].append("Staff")
    write(data_dir / str(OAK) / "account.json", account)
    assert rows(result(get_data(sim, "staff"))) == [{"StaffID": "9"}]


def test_broken_data_file_names_the_file(sim: BromcomSimulator, data_dir: Path) -> None:
    write(data_dir / str(OAK) / "Students.json",
          {"columns": STUDENT_COLUMNS, "rows": [{"StudentID": "1052"}]})  # fmt: skip
    code, reason = fault_of(get_data(sim, "Students"))
    assert code == "soap:Server"
    assert "Simulator data error" in reason and "Students.json: row 1, StudentID" in reason


def test_two_thousand_students_are_quick(tmp_path: Path) -> None:
    columns = CATALOGUE["Students"]
    students = [
        {"StudentID": n, "PersonID": n, "UPN": f"A{n:012d}", "AdmissionNumber": f"{n:06d}",
         "FirstName": "Pupil", "LastName": f"Name{n}", "DateOfBirth": "2015-05-01",
         "Gender": "F", "YearGroup": "R", "StartDate": "2020-09-01", "EnrolmentStatus": "C",
         "DataProcessingConsent": True}
        for n in range(1, 2001)
    ]  # fmt: skip
    login = {"username": "u", "password": "p"}
    write(tmp_path / "1" / "account.json", {**login, "permitted": ["Students"]})
    write(tmp_path / "1" / "Students.json", {"columns": columns, "rows": students})
    with BromcomSimulator(tmp_path) as sim:
        get_data(sim, "Students", school=1, login=login)  # load once
        started = time.perf_counter()
        response = get_data(sim, "Students", "EndDate IS NULL", school=1, login=login)
        elapsed = time.perf_counter() - started
    assert len(rows(result(response))) == 2000
    assert elapsed < 0.5


# -- fault injection and the request log -------------------------------------------------------
def raw_call(sim: BromcomSimulator, entity: str = "Students") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    try:
        body = envelope("getEntityDataBySchoolID", "1.1",
                        {"schoolID": OAK, "entityName": entity, **OAK_LOGIN})  # fmt: skip
        conn.request("POST", SERVICE_PATH, body, {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": "http://tempuri.org/getEntityDataBySchoolID"})  # fmt: skip
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_injected_http_status(sim: BromcomSimulator) -> None:
    sim.inject(Fault.http_status(503, headers={"Retry-After": "2"}))
    response = get_data(sim, "Students")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "text/html"
    assert response.headers["Retry-After"] == "2"
    assert "Service Unavailable" in response.text
    assert get_data(sim, "Students").status_code == 200  # used up


def test_injected_connection_reset(sim: BromcomSimulator) -> None:
    sim.inject(Fault.connection_reset())
    with pytest.raises(ConnectionResetError):
        raw_call(sim)
    assert raw_call(sim)[0] == 200


def test_injected_truncation(sim: BromcomSimulator) -> None:
    sim.inject(Fault.truncated())
    with pytest.raises(http.client.IncompleteRead):
        raw_call(sim)
    assert raw_call(sim)[0] == 200


def test_injected_malformed_body(sim: BromcomSimulator) -> None:
    sim.inject(Fault.malformed())
    status, body = raw_call(sim)
    assert status == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body)


def test_injected_delay(sim: BromcomSimulator) -> None:
    # Held until the simulator stops: far beyond the client's timeout however busy the machine,
    # and far beyond get_data's own 5 s timeout, so a second delayed answer would fail below.
    sim.inject(Fault.delay(60))
    with pytest.raises(requests.Timeout):
        post(sim.url, "getEntityDataBySchoolID", timeout=0.3,
             schoolID=OAK, entityName="Students", **OAK_LOGIN)  # fmt: skip
    assert get_data(sim, "Students").status_code == 200
    assert [r.fault for r in sim.requests] == ["delay", None]  # used up by the first request


def test_faults_match_operation_entity_and_count(sim: BromcomSimulator) -> None:
    sim.inject(Fault.http_status(502, entity="staff", times=2))
    sim.inject(Fault.http_status(504, operation="WSDL"))
    assert raw_call(sim, "Students")[0] == 200
    assert requests.get(sim.url + "?wsdl", timeout=5).status_code == 504
    assert get_data(sim, "Staff", school=ELM, login=ELM_LOGIN).status_code == 502
    assert get_data(sim, "STAFF", school=ELM, login=ELM_LOGIN).status_code == 502
    assert get_data(sim, "Staff", school=ELM, login=ELM_LOGIN).status_code == 200
    assert sim.faults.pending() == []


def test_request_log_records_what_was_fetched(sim: BromcomSimulator) -> None:
    sim.inject(Fault.http_status(503))
    requests.get(sim.url + "?WSDL", timeout=5)
    get_data(sim, "Students", "StudentID = 1052", "1.2")
    get_data(sim, "students")
    post(sim.url, "findEntitiesBySchoolID", schoolID=OAK, **OAK_LOGIN)
    log = [(r.operation, r.entity_name, r.entity_filter, r.soap_version, r.status, r.fault)
           for r in sim.requests]  # fmt: skip
    assert log == [
        ("WSDL", None, None, "", 200, None),
        ("getEntityDataBySchoolID", "Students", "StudentID = 1052", "1.2", 503, "status"),
        ("getEntityDataBySchoolID", "students", "", "1.1", 200, None),
        ("findEntitiesBySchoolID", None, None, "1.1", 200, None),
    ]
    assert sim.requests[1].school_id == str(OAK)
    sim.clear_requests()
    assert sim.requests == []


# -- life cycle ---------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "example.org", "::"])
def test_refuses_to_listen_beyond_loopback(data_dir: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        BromcomSimulator(data_dir, host=host)


def test_missing_data_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist"):
        BromcomSimulator(tmp_path / "nope")


def test_start_stop(data_dir: Path) -> None:
    sim = BromcomSimulator(data_dir)
    with pytest.raises(RuntimeError):
        sim.url  # noqa: B018
    sim.start()
    port = sim.port
    session = requests.Session()  # a kept-alive connection must not hold stop() up
    assert session.get(sim.url + "?wsdl", timeout=5).status_code == 200
    started = time.perf_counter()
    sim.stop()
    sim.stop()
    assert time.perf_counter() - started < 3
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}{SERVICE_PATH}?wsdl", timeout=2)
    session.close()


def test_serve_prints_the_url_and_stops_on_ctrl_c(data_dir: Path) -> None:
    # A child inherits an ignored SIGINT (pytest started in the background by a script or CI
    # runner), and Python then never raises KeyboardInterrupt: give it Ctrl-C as a terminal does.
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from simulators.bromcom import serve; serve(sys.argv[1], 0)"
    )
    root = Path(__file__).parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir)], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = line.rsplit(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith(SERVICE_PATH)
        assert requests.get(url + "?WSDL", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
