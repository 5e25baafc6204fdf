"""The bad-input corpus (issue 10): one row per way a new user, a school or Bromcom gets it wrong.

Each row breaks one thing in a synced 210-pupil primary (tests/helpers/corpus.py puts the
synced state back before every row), runs one command, and asserts what the contracts require
(docs/cli.md's exit codes, docs/school-file.md, docs/checks.md, docs/personal-data.md):
- the exit code: 2 usage or configuration, 1 the school failed, 3 blocked, held back or
  rejected (a row may allow two, where the contract leaves the choice to the fix);
- phrases of the message, which name what to fix: the file and line, the variable, the entity
  and column, the record held back (its mis_id and name);
- what ParentPay holds afterwards, person by person: nothing changed, or, where one record is
  held back, only the other records' real changes (`Bad.legit_change`).

A row fails with HARMFUL when something wrong reached ParentPay (a blank, an archive, a create)
or a broken input exited 0, and with UNCLEAR when nothing went wrong but the exit code or the
words were not what they must be. The file's tally (tried, clear, unclear, harmful) is printed
at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulators.bromcom import Fault
from tests.helpers.corpus import (
    PASSWORD_ENV,
    SITE_ID,
    Bad,
    Synced,
    bromsync,
    closed_port,
    fast_clients,
    judge,
    quiet_crash_logs,
    synced_primary,
)

RUN = ("run", "{school}")
VALIDATE = ("validate", "{school}")
APPLY = ("apply", "{plan}")
FILE_LINE = "{file}:{line}:"  # path:line:col of the school file, at the broken line


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    breaks: Callable[[Bad], object]
    exit: int | tuple[int, ...]
    phrases: tuple[str, ...]
    command: tuple[str, ...] = RUN
    absent: tuple[str, ...] = ()  # words the message must not use (a wrong diagnosis)

    @property
    def exits(self) -> tuple[int, ...]:
        return self.exit if isinstance(self.exit, tuple) else (self.exit,)


def nothing(b: Bad) -> None:
    """The break is all in the command."""


# -- school files ---------------------------------------------------------------------------


def replace(old: str, new: str) -> Callable[[Bad], object]:
    return lambda b: b.school_replace(old, new)


def add(text: str) -> Callable[[Bad], object]:
    return lambda b: b.school_add(text)


def write(content: str) -> Callable[[Bad], object]:
    return lambda b: b.write_school(content)


def drop(start: str) -> Callable[[Bad], None]:
    """Remove the line beginning with `start`, and the block under it if it is a section."""

    def breaks(b: Bad) -> None:
        out: list[str] = []
        section = False
        for number, line in enumerate(b.school_text().splitlines(keepends=True), start=1):
            if line.startswith(start):
                b.values["line"] = number
                section = not line.startswith(" ")
            elif not (section and line.startswith(" ")):
                section = False
                out.append(line)
        b.write_school("".join(out))

    return breaks


def url(new: Callable[[str], str]) -> Callable[[Bad], object]:
    """Replace bromcom.url by new(the simulator's URL)."""
    return lambda b: b.school_replace(
        f"url: {b.synced.bromcom.url}", f"url: {new(b.synced.bromcom.url)}"
    )


def pasted(key: str, secret: str) -> Callable[[Bad], object]:
    """A secret written under bromcom, as `key:`; the output must never show it."""
    return lambda b: b.school_replace("  username:", f"  {key}: {b.secret(secret)}\n  username:")


def password_as_password_env(b: Bad) -> None:
    b.school_replace(f"password_env: {PASSWORD_ENV}", f"password_env: {b.secret('Hunter2-Oak!')}")


def credentials_in_bromcom_url(b: Bad) -> None:
    secret = b.secret("Pw4Url-x9")
    url(lambda u: u.replace("http://", f"https://parentpay_corpus:{secret}@"))(b)


def not_utf8(b: Bad) -> None:
    text = b.school_text().replace("name: Highfield", "name: Highfi\u00e9ld")
    b.write_school(text.encode("latin-1"))


OPTIONS = "options: [pupils, staff, preadmissions]"
YEARS = "year_codes: [R, '1', '2']"
BASIS = "lawful_basis: legitimate_interest"

# fmt: off
SCHOOL_FILE = [
    Case("school file", "yaml: an unclosed list", replace(OPTIONS, "options: [pupils, staff"), 2, ("{file}:", "invalid YAML")),
    Case("school file", "yaml: a tab in the indentation", replace("  urn:", "\turn:"), 2, (FILE_LINE, "tabs")),
    Case("school file", "yaml: a list, not a mapping", write("- school\n- bromcom\n"), 2, ("{file}:1:", "mapping")),
    Case("school file", "yaml: a duplicate key", replace("  parentpay_site_id:", "  urn: 100003\n  parentpay_site_id:"), 2, (FILE_LINE, "duplicate key 'urn'")),
    Case("school file", "the file is empty", write(""), 2, ("{file}:", "empty")),
    Case("school file", "the file has only comments", write("# nothing yet\n"), 2, ("{file}:", "empty")),
    Case("school file", "a NUL byte in the file", replace("name: Highfield", "name: High\0field"), 2, (FILE_LINE,)),
    Case("school file", "the file is not UTF-8", not_utf8, 2, ("{file}:", "UTF-8")),
    Case("school file", "the school file does not exist", nothing, 2, ("nowhere.yaml",), command=("run", "{plans}/nowhere.yaml")),
    Case("school file", "urn is text", replace("urn: 100002", "urn: abc"), 2, (FILE_LINE, "urn")),
    Case("school file", "urn is 0", replace("urn: 100002", "urn: 0"), 2, (FILE_LINE, "urn")),
    Case("school file", "urn is a decimal", replace("urn: 100002", "urn: 100002.5"), 2, (FILE_LINE, "urn")),
    Case("school file", "parentpay_site_id is text", replace(f"parentpay_site_id: {SITE_ID}", "parentpay_site_id: five"), 2, (FILE_LINE, "parentpay_site_id")),
    Case("school file", "org_id is negative", replace("org_id: 40002", "org_id: -40002"), 2, (FILE_LINE, "org_id")),
    Case("school file", "school.name is empty", replace("name: Highfield Primary Academy", "name: ''"), 2, (FILE_LINE, "school.name")),
    Case("school file", "school.urn is missing", drop("  urn:"), 2, ("{file}:", "missing 'urn'")),
    Case("school file", "the bromcom section is missing", drop("bromcom:"), 2, ("{file}:", "missing 'bromcom'")),
    Case("school file", "upload.lawful_basis is missing", drop("  lawful_basis:"), 2, ("{file}:", "missing 'lawful_basis'")),
    Case("school file", "a misspelt section (shcool)", replace("school:", "shcool:"), 2, (FILE_LINE, "shcool", "did you mean")),
    Case("school file", "a misspelt key (lawfull_basis)", replace("lawful_basis:", "lawfull_basis:"), 2, (FILE_LINE, "lawfull_basis", "did you mean")),
    Case("school file", "a key nobody knows (archive_leavers)", replace("  lawful_basis:", "  archive_leavers: true\n  lawful_basis:"), 2, (FILE_LINE, "archive_leavers")),
    Case("school file", "a plain password key", pasted("password", "Sup3rSecret-Oak"), 2, (FILE_LINE, "password_env")),
    Case("school file", "an api_key in the file", pasted("api_key", "k3y-9f8e7d6c5b4a"), 2, (FILE_LINE, "api_key")),
    Case("school file", "the password pasted as password_env", password_as_password_env, 2, (FILE_LINE, "password_env")),
    Case("school file", "password_env in lower case", replace(f"password_env: {PASSWORD_ENV}", "password_env: corpus password"), 2, (FILE_LINE, "password_env")),
    Case("school file", "bromcom.url is http to another host", url(lambda u: "http://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx"), 2, (FILE_LINE, "https://")),
    Case("school file", "bromcom.url holds a username and password", credentials_in_bromcom_url, 2, (FILE_LINE, "password_env")),
    Case("school file", "bromcom.url ends in ?WSDL", url(lambda u: u + "?WSDL"), 2, (FILE_LINE, "WSDL")),
    Case("school file", "bromcom.url is not a web address", url(lambda u: "cloudmis.bromcom.com"), 2, (FILE_LINE, "https://")),
    Case("school file", "upload.options is empty", replace(OPTIONS, "options: []"), 2, (FILE_LINE, "upload.options")),
    Case("school file", "upload.options names 'pupil'", replace(OPTIONS, "options: [pupil, staff]"), 2, (FILE_LINE, "did you mean 'pupils'")),
    Case("school file", "upload.options twice the same", replace(OPTIONS, "options: [pupils, pupils]"), 2, (FILE_LINE, "more than once")),
    Case("school file", "lawful_basis is 'consented'", replace(BASIS, "lawful_basis: consented"), 2, (FILE_LINE, "did you mean 'consent'")),
    Case("school file", "include_enrolment_statuses has X", replace("  lawful_basis:", "  include_enrolment_statuses: [C, X]\n  lawful_basis:"), 2, (FILE_LINE, "'X'")),
    Case("school file", "staff_id_prefix is a bare number", replace("  lawful_basis:", "  staff_id_prefix: 3\n  lawful_basis:"), 2, (FILE_LINE, "staff_id_prefix")),
    Case("school file", "ufsm.year_codes has Y2", replace(YEARS, "year_codes: [R, '1', Y2]"), 2, (FILE_LINE, "'Y2'")),
    Case("school file", "ufsm.year_codes has 1 and '1'", replace(YEARS, "year_codes: [R, 1, '1']"), 2, (FILE_LINE, "more than once")),
    Case("school file", "a year code alias to Y1", add("year_code_aliases: {Year 1: Y1}\n"), 2, (FILE_LINE, "'Y1'")),
    Case("school file", "year_code_aliases is a list", add("year_code_aliases: [Rec, R]\n"), 2, (FILE_LINE, "year_code_aliases")),
    Case("school file", "dietary.allow is not a list", add("dietary: {allow: Nut Allergy}\n"), 2, (FILE_LINE, "dietary.allow")),
    Case("school file", "guards: a negative archive percent", add("guards: {max_archive_percent: -5}\n"), 2, (FILE_LINE, "max_archive_percent")),
    Case("school file", "guards: an archive percent of 150", add("guards: {max_archive_percent: 150}\n"), 2, (FILE_LINE, "max_archive_percent")),
    Case("school file", "guards: an archive count in words", add("guards: {max_archive_count: lots}\n"), 2, (FILE_LINE, "max_archive_count")),
    Case("school file", "guards: a blank percent in words", add("guards: {max_blank_percent: ten}\n"), 2, (FILE_LINE, "max_blank_percent")),
    Case("school file", "guards: a blank count below 0", add("guards: {max_blank_count: -1}\n"), 2, (FILE_LINE, "max_blank_count")),
    Case("school file", "guards: a misspelt guard", add("guards: {max_archives: 5}\n"), 2, (FILE_LINE, "max_archives")),
    Case("school file", "drift is 'fix'", add("drift: fix\n"), 2, (FILE_LINE, "restore, report")),
    Case("school file", "identity.confirmed holds a bare number", add("identity: {confirmed: [8137]}\n"), 2, (FILE_LINE, "quotes")),
]
# fmt: on


# -- the environment ------------------------------------------------------------------------


def parentpay_url(value: Callable[[Bad], str]) -> Callable[[Bad], None]:
    return lambda b: b.setenv("BROMSYNC_PARENTPAY_URL", value(b))


def token_in_url(b: Bad) -> str:
    return b.synced.parentpay.url.replace(
        "http://", f"http://bromsync:{b.secret('T0kenInUrl-77')}@"
    )


def token_as_username(b: Bad) -> str:
    return b.synced.parentpay.url.replace("http://", f"http://{b.secret('T0kenAsUser-88')}@")


def parentpay_unreachable(b: Bad) -> str:
    b.values["host"] = f"127.0.0.1:{closed_port()}"
    return f"http://{b.values['host']}"


def bromcom_unreachable(b: Bad) -> None:
    port = b.synced.bromcom.url.split("//", 1)[1].split("/", 1)[0]
    b.values["host"] = f"127.0.0.1:{closed_port()}"
    url(lambda u: u.replace(port, b.values["host"]))(b)


def wrong_token(b: Bad) -> None:
    b.setenv("BROMSYNC_PARENTPAY_TOKEN", b.secret("not-the-token-5a5a"))


# fmt: off
ENVIRONMENT = [
    Case("environment", "the password variable is not set", lambda b: b.delenv(PASSWORD_ENV), 2, (PASSWORD_ENV, "not set")),
    Case("environment", "the password variable is empty", lambda b: b.setenv(PASSWORD_ENV, ""), 2, (PASSWORD_ENV, "empty"), absent=("not set",)),
    Case("environment", "BROMSYNC_PARENTPAY_URL is not set", lambda b: b.delenv("BROMSYNC_PARENTPAY_URL"), 2, ("BROMSYNC_PARENTPAY_URL", "not set")),
    Case("environment", "BROMSYNC_PARENTPAY_TOKEN is not set", lambda b: b.delenv("BROMSYNC_PARENTPAY_TOKEN"), 2, ("BROMSYNC_PARENTPAY_TOKEN", "not set")),
    Case("environment", "BROMSYNC_PARENTPAY_TOKEN is empty", lambda b: b.setenv("BROMSYNC_PARENTPAY_TOKEN", ""), 2, ("BROMSYNC_PARENTPAY_TOKEN", "empty"), absent=("not set",)),
    Case("environment", "the ParentPay URL holds the token", parentpay_url(token_in_url), 2, ("BROMSYNC_PARENTPAY_URL", "BROMSYNC_PARENTPAY_TOKEN")),
    Case("environment", "the ParentPay URL holds the token as its username", parentpay_url(token_as_username), 2, ("BROMSYNC_PARENTPAY_URL", "BROMSYNC_PARENTPAY_TOKEN")),
    Case("environment", "the ParentPay URL is http to another host", parentpay_url(lambda b: "http://api.parentpay.example"), 2, ("BROMSYNC_PARENTPAY_URL", "https://")),
    Case("environment", "the ParentPay URL is not a web address", parentpay_url(lambda b: "parentpay"), 2, ("BROMSYNC_PARENTPAY_URL", "not a web address")),
    Case("environment", "the ParentPay token is wrong", wrong_token, 1, ("401", "BROMSYNC_PARENTPAY_TOKEN")),
    Case("environment", "ParentPay does not answer", parentpay_url(parentpay_unreachable), 1, ("{host}", "BROMSYNC_PARENTPAY_URL")),
    Case("environment", "ParentPay does not know the site", replace(f"parentpay_site_id: {SITE_ID}", "parentpay_site_id: 5999"), 1, ("site 5999", "parentpay_site_id")),
    Case("environment", "Bromcom does not answer", bromcom_unreachable, 1, ("{host}", "did not answer")),
    Case("environment", "BROMSYNC_TODAY is not a date", lambda b: b.setenv("BROMSYNC_TODAY", "28/11/2026"), 2, ("BROMSYNC_TODAY", "YYYY-MM-DD")),
]
# fmt: on


# -- Bromcom's answers and permissions --------------------------------------------------------

HTML_500 = (
    "<!DOCTYPE html><html><head><title>Runtime Error</title></head><body>"
    "<h1>Server Error in '/Nucleus' Application.</h1><h2><i>Runtime Error</i></h2>"
    "<p>An application error occurred on the server.</p></body></html>"
)


def html_500(times: int) -> Callable[[Bad], None]:
    """IIS's HTML error page for Students, `times` times: a server fault, not a wrong URL."""
    fault = Fault.http_status(
        500,
        HTML_500,
        headers={"Content-Type": "text/html; charset=utf-8"},
        operation="getEntityDataBySchoolID",
        entity="Students",
        times=times,
    )
    return lambda b: b.fault(fault)


def control_character(b: Bad) -> None:
    row = b.pupil(3)
    name = row["FirstName"]
    b.edit_pupil(b.values["pupil"], FirstName=name[:2] + "\x02" + name[2:])


def staff_cut_to_three(b: Bad) -> None:
    rows = sorted(b.entity("Staff")["rows"], key=lambda r: r["StaffID"])
    kept = [r for r in rows if b.synced.people.get(str(r["StaffID"]), {}).get("type") == "staff"]
    b.edit_rows("Staff", lambda rows: rows.__setitem__(slice(None), kept[:3]))
    b.values["gone"] = b.values["n_staff"] - 3


def emptied(entity: str) -> Callable[[Bad], None]:
    return lambda b: b.edit_rows(entity, lambda rows: rows.clear())


def as_text(entity: str, column: str) -> Callable[[Bad], None]:
    return lambda b: b.column_type(entity, column, "string", str)


def renamed(entity: str, column: str, new: str | None) -> Callable[[Bad], None]:
    return lambda b: b.rename_column(entity, column, new)


ARCHIVE = "--allow-mass-archive"

# fmt: off
BROMCOM = [
    Case("bromcom", "the Bromcom password is wrong", lambda b: b.account(password="another-password"), 1, ("username or password", PASSWORD_ENV)),
    Case("bromcom", "the MIS OrgID is wrong", replace("org_id: 40002", "org_id: 40099"), 1, ("40099", "bromcom.org_id")),
    Case("bromcom", "Emails is not ticked", lambda b: b.untick("Emails"), 1, ("'Emails'", "Third Party Access Permissions")),
    Case("bromcom", "Students is not ticked", lambda b: b.untick("Students"), 1, ("'Students'", "Third Party Access Permissions")),
    Case("bromcom", "Staff and PersonCommunications are not ticked", lambda b: b.untick("Staff", "PersonCommunications"), 1, ("'Staff'", "'PersonCommunications'")),
    Case("bromcom", "an HTML 500 page once", html_500(1), 0, ("nothing to push",)),
    Case("bromcom", "an HTML 500 page every time", html_500(50), 1, ("Students", "500"), absent=("check bromcom.url",)),
    Case("bromcom", "503 every time", lambda b: b.fault(Fault.http_status(503, times=200)), 1, ("503", "did not answer")),
    Case("bromcom", "a truncated answer every time", lambda b: b.fault(Fault.truncated(entity="Students", times=50)), 1, ("entity Students", "cut off")),
    Case("bromcom", "malformed XML every time", lambda b: b.fault(Fault.malformed(entity="Emails", times=50)), 1, ("entity Emails", "could not be read")),
    Case("bromcom", "a control character in one pupil's name", control_character, (1, 3), ("Students", "{pupil}", "Bromcom")),
    Case("bromcom", "StudentID sent as text", as_text("Students", "StudentID"), (2, 3), ("Students", "StudentID")),
    Case("bromcom", "StudentContacts.StudentID sent as text", as_text("StudentContacts", "StudentID"), (2, 3), ("StudentContacts", "StudentID")),
    Case("bromcom", "People.PersonID sent as text", as_text("People", "PersonID"), (2, 3), ("People", "PersonID")),
    Case("bromcom", "Staff.StaffID sent as a decimal", lambda b: b.column_type("Staff", "StaffID", "decimal", lambda v: f"{v}.0"), (2, 3), ("Staff", "StaffID")),
    Case("bromcom", "an empty PreAdmissionStudents table", emptied("PreAdmissionStudents"), 3, ("{n_pre} of {n_pre} pre-admissions", ARCHIVE)),
    Case("bromcom", "Staff cut to 3 rows", staff_cut_to_three, 3, ("{gone} of {n_staff} staff", ARCHIVE)),
    Case("bromcom", "Students emptied", emptied("Students"), 3, ("{n_pupils} of {n_pupils} pupils", ARCHIVE)),
    Case("bromcom", "Emails.EmailAddress renamed", renamed("Emails", "EmailAddress", "EmailAddr"), (1, 2, 3), ("Emails", "EmailAddress")),
    Case("bromcom", "Students.Gender vanished", renamed("Students", "Gender", None), (1, 2, 3), ("Students", "Gender")),
    Case("bromcom", "StudentContacts.ParentalResponsibility vanished", renamed("StudentContacts", "ParentalResponsibility", None), (1, 2, 3), ("StudentContacts", "ParentalResponsibility")),
    Case("bromcom", "Staff.LastName vanished", renamed("Staff", "LastName", None), (1, 2, 3), ("Staff", "LastName")),
]
# fmt: on


# -- the mappings ---------------------------------------------------------------------------


def mapping(name: str, old: str, new: str) -> Callable[[Bad], object]:
    return lambda b: b.edit_mapping(name, old, new)


JOIN = "match: {StudentID: StudentID}\n    many: true"
JOIN_COLUMN = mapping("pupils.yaml", JOIN, JOIN.replace("{StudentID:", "{StudentId:"))
UNKNOWN_ENTITY = mapping("pupils.yaml", "entity: Students", "entity: Studnets")
UNKNOWN_COLUMN = mapping("pupils.yaml", "gender: Gender", "gender: Gendre")
BAD_JMESPATH = mapping("pupils.yaml", "PreferredFirstName || FirstName", "PreferredFirstName ||")
PUPILS_LINE = "pupils.yaml:{line}:"

# fmt: off
MAPPINGS = [
    Case("mapping", "a join column misspelt (StudentId): validate", JOIN_COLUMN, 2, (PUPILS_LINE, "StudentId"), command=VALIDATE),
    Case("mapping", "a join column misspelt (StudentId): run", JOIN_COLUMN, (2, 3), ("pupils.yaml", "StudentId")),
    Case("mapping", "an unknown entity (Studnets): validate", UNKNOWN_ENTITY, 2, (PUPILS_LINE, "Studnets", "did you mean 'Students'"), command=VALIDATE),
    Case("mapping", "an unknown entity (Studnets): run", UNKNOWN_ENTITY, 2, ("pupils.yaml", "Studnets")),
    Case("mapping", "an unknown column (Gendre): validate", UNKNOWN_COLUMN, 2, (PUPILS_LINE, "Gendre", "did you mean 'Gender'"), command=VALIDATE),
    Case("mapping", "an unknown column (Gendre): run", UNKNOWN_COLUMN, (2, 3), ("pupils.yaml", "Gendre")),
    Case("mapping", "an unknown staff column (Titel): validate", mapping("staff.yaml", "title: Title", "title: Titel"), 2, ("staff.yaml:{line}:", "Titel"), command=VALIDATE),
    Case("mapping", "a broken JMESPath expression: validate", BAD_JMESPATH, 2, (PUPILS_LINE, "invalid JMESPath"), command=VALIDATE),
    Case("mapping", "a broken JMESPath expression: run", BAD_JMESPATH, 2, (PUPILS_LINE, "invalid JMESPath")),
    Case("mapping", "an unknown function (dte): validate", mapping("pupils.yaml", "dob: date(DateOfBirth)", "dob: dte(DateOfBirth)"), 2, (PUPILS_LINE, "dte"), command=VALIDATE),
    Case("mapping", "an unknown function (dte): run", mapping("pupils.yaml", "dob: date(DateOfBirth)", "dob: dte(DateOfBirth)"), 2, (PUPILS_LINE, "dte")),
    Case("mapping", "many: 'yes' (a wrong type): validate", mapping("pupils.yaml", "many: true", "many: 'yes'"), 2, (PUPILS_LINE, "true or false"), command=VALIDATE),
    Case("mapping", "a field missing (gender): validate", mapping("pupils.yaml", "  gender: Gender\n", ""), 2, ("pupils.yaml:", "missing 'gender'"), command=VALIDATE),
    Case("mapping", "a field ParentPay does not have (sex): validate", mapping("pupils.yaml", "gender: Gender", "sex: Gender"), 2, (PUPILS_LINE, "'sex' is not a ParentPay pupil field"), command=VALIDATE),
]
# fmt: on


# -- the data -------------------------------------------------------------------------------


def held(edit: Callable[[Bad, dict[str, Any]], object]) -> Callable[[Bad], None]:
    """Break one pupil (values "pupil", "pupil_name") with `edit`, and make a real change to
    another, which must still go."""

    def breaks(b: Bad) -> None:
        edit(b, b.pupil(1))
        b.legit_change()

    return breaks


def pupil(**changes: Any) -> Callable[[Bad], None]:
    return held(lambda b, row: b.edit_pupil(str(row["StudentID"]), **changes))


def dob_as_text(b: Bad, one: dict[str, Any] | None) -> None:
    """DateOfBirth sent as text: `one` pupil's written 02/06/2016, or everyone's."""
    content = b.entity("Students")
    content["columns"] = [[c, "string" if c == "DateOfBirth" else t] for c, t in content["columns"]]
    for row in content["rows"]:
        day = str(row.get("DateOfBirth", ""))[:10]
        if day:
            british = one is None or row["StudentID"] == one["StudentID"]
            row["DateOfBirth"] = f"{day[8:10]}/{day[5:7]}/{day[:4]}" if british else day
    b.save_entity("Students", content)


def duplicate_id(b: Bad, row: dict[str, Any]) -> None:
    b.edit_rows("Students", lambda rows: rows.append({**row, "FirstName": "Twin", "UPN": None}))


def duplicate_upn(b: Bad, row: dict[str, Any]) -> None:
    twin = b.pupil(5, key="twin")
    b.edit_pupil(str(twin["StudentID"]), UPN=row["UPN"])


def no_id(b: Bad) -> None:
    b.pupil(2)
    b.edit_pupil(b.values["pupil"], StudentID=None)


def two_mobiles(b: Bad, row: dict[str, Any]) -> None:
    """The generator's payer with two numbers in one Mobile, put back; values: their child."""
    person, value = b.synced.bad_mobile
    links = b.entity("StudentContacts")["rows"]
    child = min(str(c["StudentID"]) for c in links if c["ContactPersonID"] == person)
    [pupil] = [r for r in b.entity("Students")["rows"] if str(r["StudentID"]) == child]
    b.values["pupil"] = child
    b.values["pupil_name"] = (
        f"{pupil.get('PreferredFirstName') or pupil['FirstName']} {pupil.get('PreferredLastName') or pupil['LastName']}"
    )

    def edit(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if r["PersonID"] == person and r["CommunicationTypeDescription"] == "Mobile":
                r["Value"] = value

    b.edit_rows("PersonCommunications", edit)


def payer_email_not_an_address(b: Bad, row: dict[str, Any]) -> None:
    email = b.synced.people[b.values["pupil"]]["fields"]["payer_email"]
    assert email, "the chosen pupil has no payer email"
    b.edit_rows(
        "Emails",
        lambda rows: [
            r.update(EmailAddress="parent(at)example.org")
            for r in rows
            if r.get("EmailAddress") == email
        ],
    )


def blanked(entity: str, column: str) -> Callable[[Bad], None]:
    return lambda b: b.edit_rows(entity, lambda rows: [r.pop(column, None) for r in rows])


def nobody_consented(b: Bad) -> None:
    for entity in ("Students", "People"):
        b.edit_rows(entity, lambda rows: [r.update(DataProcessingConsent=False) for r in rows])
    b.school_replace(BASIS, "lawful_basis: consent")


HELD = ("{pupil}", "{pupil_name}")  # a held-back record is named: mis_id and name
BLANK = "--allow-mass-blank"

# fmt: off
DATA = [
    Case("data", "every date of birth written 02/06/2016 (text)", lambda b: dob_as_text(b, None), (1, 2, 3), ("Date of Birth", "YYYY-MM-DD"), absent=("fill in the listed field",)),
    Case("data", "one date of birth written 02/06/2016 (text)", held(dob_as_text), 3, (*HELD, "YYYY-MM-DD"), absent=("fill in the listed field",)),
    Case("data", "a 50,000-character first name", pupil(FirstName="A" * 50_000), 3, ("{pupil}", "100 characters")),
    Case("data", "a 101-character surname", pupil(LastName="Fiennes-" * 12 + "Smith"), 3, ("{pupil}", "100 characters")),
    Case("data", "gender 'Male'", pupil(Gender="Male"), 3, (*HELD, "gender")),
    Case("data", "a first name of spaces", pupil(FirstName="   "), 3, ("{pupil}", "first name")),
    Case("data", "two pupils with one StudentID", held(duplicate_id), 3, (*HELD, "duplicate_mis_id")),
    Case("data", "a pupil without a StudentID", no_id, (1, 3), ("StudentID", "{pupil_name}")),
    Case("data", "two pupils with one UPN", held(duplicate_upn), 3, (*HELD, "{twin}", "duplicate_upn")),
    Case("data", "a year code that is not ParentPay's (Y3)", pupil(YearGroup="Y3"), 3, (*HELD, "Y3")),
    Case("data", "every year code written 'Year N'", lambda b: b.edit_rows("Students", lambda rows: [r.update(YearGroup=f"Year {r['YearGroup']}") for r in rows]), 3, ("year_code_not_parentpay", "year_code_aliases")),
    Case("data", "a payer mobile holding two numbers", held(two_mobiles), 3, (*HELD, "15 digits")),
    Case("data", "a payer email that is not an address", held(payer_email_not_an_address), 3, (*HELD, "invalid_email")),
    Case("data", "every email blanked", blanked("Emails", "EmailAddress"), 3, ("payer_email", BLANK)),
    Case("data", "every mobile blanked", blanked("PersonCommunications", "Value"), 3, ("payer_mobile", BLANK)),
    Case("data", "every pupil's gender blanked", blanked("Students", "Gender"), 3, ("gender", BLANK)),
    Case("data", "a consent school where nobody consented", nobody_consented, 3, ("none of its", "steps 11-16")),
]
# fmt: on


# -- the command line -----------------------------------------------------------------------


def planned(b: Bad, *extra: str) -> None:
    result = b.run("plan", "{school}", "--out", "{plans}", *extra)
    assert result.exit_code in (0, 3), result.output


def edited_plan(b: Bad) -> None:
    b.legit_change()
    b.expected.clear()  # the plan is refused: not even its real change may go
    planned(b)
    path = Path(b.values["plan"])
    plan = json.loads(path.read_text(encoding="utf-8"))
    plan["changes"][0]["fields"]["surname"] = "Hacked"
    path.write_text(json.dumps(plan), encoding="utf-8")


def stale_plan(b: Bad) -> None:
    b.legit_change()  # goes, with a second change, through a run between the plan and its apply
    planned(b)
    late = b.pupil(7, key="late")
    b.edit_pupil(b.values["late"], LastName="Later")
    b.expected[b.values["late"]] = {"surname": "Later", "legal_surname": "Later"}
    assert b.run("run", "{school}").exit_code == 0, late


def offline_plan(b: Bad) -> None:
    b.legit_change()
    b.expected.clear()
    planned(b, "--offline")


def applied_plan(b: Bad) -> None:
    b.legit_change()
    planned(b)
    assert b.run("apply", "{plan}").exit_code == 0


def blocked_plan(b: Bad) -> None:
    emptied("Students")(b)
    planned(b)


def not_json_plan(b: Bad) -> None:
    Path(b.values["plans"]).mkdir(parents=True, exist_ok=True)
    Path(b.values["plan"]).write_text("{this is not json", encoding="utf-8")


# fmt: off
CLI = [
    Case("cli", "an unknown option", nothing, 2, ("No such option '--frobnicate'",), command=("run", "--frobnicate", "{school}")),
    Case("cli", "an unknown command", nothing, 2, ("No such command 'sync'",), command=("sync", "{school}")),
    Case("cli", "run without a school file", nothing, 2, ("Missing argument",), command=("run",)),
    Case("cli", "--shard 0/2", nothing, 2, ("--shard 0/2",), command=("run", "--shard", "0/2", "{school}")),
    Case("cli", "--shard 3/2", nothing, 2, ("--shard 3/2",), command=("run", "--shard", "3/2", "{school}")),
    Case("cli", "--shard half", nothing, 2, ("--shard 'half'", "I/N"), command=("run", "--shard", "half", "{school}")),
    Case("cli", "--jobs 0", nothing, 2, ("--jobs",), command=("run", "--jobs", "0", "{school}")),
    Case("cli", "apply a plan file that does not exist", nothing, 2, ("{plan} does not exist",), command=APPLY),
    Case("cli", "apply a plan file that is not JSON", not_json_plan, 2, ("{plan}", "not JSON"), command=APPLY),
    Case("cli", "apply an edited plan", edited_plan, 2, ("changed after bromsync wrote it",), command=APPLY),
    Case("cli", "apply a stale plan", stale_plan, 2, ("is stale",), command=APPLY),
    Case("cli", "apply a plan twice", applied_plan, 2, ("already applied",), command=APPLY),
    Case("cli", "apply an offline plan", offline_plan, 2, ("--offline",), command=APPLY),
    Case("cli", "apply a blocked plan without the flag", blocked_plan, 3, ("is blocked", ARCHIVE), command=APPLY),
]
# fmt: on

CASES = SCHOOL_FILE + ENVIRONMENT + BROMCOM + MAPPINGS + DATA + CLI
TALLY: dict[str, str] = {}  # case name -> clear, unclear or harmful


@pytest.fixture(scope="module")
def synced(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Synced]:
    with synced_primary(tmp_path_factory.mktemp("corpus")) as school:
        yield school
    counts = {k: sum(1 for v in TALLY.values() if v == k) for k in ("clear", "unclear", "harmful")}
    line = (
        f"bad-input corpus: {len(TALLY)} tried, {counts['clear']} clear, "
        f"{counts['unclear']} unclear, {counts['harmful']} harmful"
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and TALLY:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)


def test_the_corpus_covers_every_kind() -> None:
    kinds = {case.kind for case in CASES}
    assert kinds == {"school file", "environment", "bromcom", "mapping", "data", "cli"}
    assert len(CASES) >= 71
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(
    case: Case, synced: Synced, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    synced.restore()
    fast_clients(monkeypatch)
    bad = Bad(synced, monkeypatch, tmp_path)
    with quiet_crash_logs(tmp_path / "crashes", monkeypatch):
        case.breaks(bad)
        result = bromsync(*(a.format(**bad.values) for a in case.command))
    verdict = judge(
        case.exits,
        [p.format(**bad.values) for p in case.phrases],
        [p.format(**bad.values) for p in case.absent],
        result,
        synced.people,
        synced.people_now(),
        bad,
    )
    print(result.output)  # shown by pytest -rA: what each row said
    TALLY[case.name] = "harmful" if verdict.harmful else "clear" if verdict.clear else "unclear"
    problems = [f"HARMFUL: {h}" for h in verdict.harmful]
    problems += [f"UNCLEAR: {u}" for u in verdict.unclear]
    if problems:
        output = f"--- output (exit {result.exit_code}) ---\n{result.output[-3000:]}"
        pytest.fail("\n".join([*problems, output]), pytrace=False)
