"""engine/transform/columns.py: which columns of which entity a mapping reads, and where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.transform.columns import column_reads, columns_read, undeclared
from engine.transform.mapping import Mapping, compile_mapping, load_mappings
from tests.helpers import REPO

# A staff mapping whose joins reach rows of three entities; each test writes its own fields.
_STAFF = """\
type: staff
option: staff
source:
  entity: Staff
  id: {id}
joins:
  emails: {{entity: Emails, match: {{PersonID: PersonID}}, many: true, order_by: [Priority]}}
  phones: {{entity: PersonCommunications, match: {{PersonID: PersonID}}, many: true}}
  contact: {{entity: EmployeeContacts, match: {{StaffID: StaffID}}}}
{let}fields:
  title: {title}
  forename: "`null`"
  surname: "`null`"
  email: "`null`"
  mobile: "`null`"
"""


def staff(tmp_path: Path, title: str, *, let: str = "", id: str = "to_string(StaffID)") -> Path:
    path = tmp_path / "staff.yaml"
    let_block = f"let:\n{let}" if let else ""
    path.write_text(_STAFF.format(id=id, let=let_block, title=title), encoding="utf-8")
    return path


def compiled(path: Path) -> Mapping:
    mapping, problems = compile_mapping(path)
    assert mapping is not None, problems
    return mapping


def title_reads(tmp_path: Path, title: str, **kw: str) -> set[tuple[str, str]]:
    """(entity, column) read by `fields.title` alone."""
    mapping = compiled(staff(tmp_path, title, **kw))
    return {(r.entity, r.column) for r in column_reads(mapping) if r.what == "fields.title"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Title", {("Staff", "Title")}),
        ("emails[0].EmailAddress", {("Emails", "EmailAddress")}),
        ("emails[*].EmailAddress | [0]", {("Emails", "EmailAddress")}),
        ("emails[].EmailAddress | [0]", {("Emails", "EmailAddress")}),
        ("emails[:1].EmailAddress | [0]", {("Emails", "EmailAddress")}),
        ("reverse(emails)[0].EmailAddress", {("Emails", "EmailAddress")}),
        (
            "\"phones[?CommunicationTypeDescription == 'Mobile'] | [0].Value\"",
            {
                ("PersonCommunications", "CommunicationTypeDescription"),
                ("PersonCommunications", "Value"),
            },
        ),
        (
            "sort_by(emails, &EmailTypeDescription)[0].EmailAddress",
            {("Emails", "EmailTypeDescription"), ("Emails", "EmailAddress")},
        ),
        (
            "max_by(emails, &Priority).EmailAddress",
            {("Emails", "Priority"), ("Emails", "EmailAddress")},
        ),
        ("map(&EmailAddress, emails) | [0]", {("Emails", "EmailAddress")}),
        ("contact.Relationship", {("EmployeeContacts", "Relationship")}),
        ('"{e: emails[0]}.e.EmailAddress"', {("Emails", "EmailAddress")}),
        (
            '"[contact, Title][0].Relationship"',
            {("Staff", "Title"), ("EmployeeContacts", "Relationship")},
        ),
        ("to_array(contact)[0].Relationship", {("EmployeeContacts", "Relationship")}),
        ("join(' ', [FirstName, LastName])", {("Staff", "FirstName"), ("Staff", "LastName")}),
        # A filter's condition and a projection's right side run on each element.
        (
            "emails[?Priority == `1`].EmailAddress | [0]",
            {("Emails", "Priority"), ("Emails", "EmailAddress")},
        ),
        # Each side of || may be taken, so both are read, each in its own scope.
        (
            "contact.Relationship || Title",
            {("EmployeeContacts", "Relationship"), ("Staff", "Title")},
        ),
        # `@` and identity keep the current scope.
        ("contact | @.Relationship", {("EmployeeContacts", "Relationship")}),
        # A bare `null` is JMESPath for the key "null": it reads no column.
        ("contact != null && Title", {("Staff", "Title")}),
    ],
)
def test_each_column_is_read_in_the_scope_it_is_evaluated_in(
    tmp_path: Path, expression: str, expected: set[tuple[str, str]]
) -> None:
    assert title_reads(tmp_path, expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "to_string(@)",  # a whole row: no column named
        "values(@)[0]",
        '"merge(@, `{}`).Nonsense"',  # a function's result: not followed
        "contact.*",
        '"`{\\"a\\": 1}`.Nonsense"',  # a literal
        "emails.EmailAddress",  # a field of a list is null in JMESPath: nothing is read
        "Title.Nonsense",  # a column's value is not a row
    ],
)
def test_what_cannot_be_attributed_is_not_guessed(tmp_path: Path, expression: str) -> None:
    reads = title_reads(tmp_path, expression)
    assert all(column in ("Title",) for _, column in reads)


def test_a_let_is_seen_from_the_expressions_after_it_and_not_by_the_id(tmp_path: Path) -> None:
    let = "  first: emails[0]\n  address: first.EmailAddress\n"
    expected = {("Emails", "EmailTypeDescription")}
    assert title_reads(tmp_path, "first.EmailTypeDescription", let=let) == expected
    # The id is evaluated before any let: there `first` is a Staff column, which there is not.
    path = staff(tmp_path, "Title", let=let, id="to_string(first)")
    _, problems = compile_mapping(path)
    assert [p.message for p in problems] == [
        "source.id: Staff has no column 'first'; did you mean 'FirstName'? (the columns bromsync "
        "assumes are in "
        'docs/bromcom.md, "The catalogue")'
    ]


def test_a_let_read_is_its_own_not_the_fields_that_use_it(tmp_path: Path) -> None:
    mapping = compiled(staff(tmp_path, "first.EmailAddress", let="  first: emails[0]\n"))
    reads = {(r.what, r.entity, r.column) for r in column_reads(mapping)}
    assert ("fields.title", "Emails", "EmailAddress") in reads
    assert not any(what == "let.first" for what, _, _ in reads)  # [0] names no column


def test_both_branches_of_not_null_are_checked(tmp_path: Path) -> None:
    _, problems = compile_mapping(staff(tmp_path, "not_null(emails[0], phones[0]).Value"))
    assert [p.message.split(" (")[0] for p in problems] == [
        "fields.title: Emails has no column 'Value'"
    ]


def test_a_bare_true_is_a_column_and_the_message_says_to_quote_it(tmp_path: Path) -> None:
    _, problems = compile_mapping(staff(tmp_path, "contact.Relationship == true"))
    # `true` is read in the scope of the comparison: the row of Staff, not the contact.
    assert "Staff has no column 'true'; for the value true, write `true`" in str(problems[0])


def test_join_columns_are_keys_on_both_sides_and_order_by_is_read(tmp_path: Path) -> None:
    [mapping] = load_mappings(["pupils"])
    reads = column_reads(mapping)
    keys = {(r.entity, r.column) for r in reads if r.key}
    assert keys == {
        ("Students", "StudentID"),  # source.id, and the parent side of contacts and meals
        ("Students", "PersonID"),
        ("StudentContacts", "StudentID"),
        ("StudentContacts", "ContactPersonID"),  # the parent side of the nested joins
        ("People", "PersonID"),
        ("Emails", "PersonID"),
        ("PersonCommunications", "PersonID"),
        ("StudentMeals", "StudentID"),
        ("PersonMedicalConditions", "PersonID"),
    }
    order = {(r.entity, r.column) for r in reads if r.what.endswith(".order_by")}
    assert ("PersonMedicalConditions", "MedicalConditionDescription") in order


def test_every_read_of_the_shipped_mappings_points_at_the_column_itself() -> None:
    for mapping in load_mappings(["pupils", "staff", "preadmissions"]):
        lines = mapping.path.read_text(encoding="utf-8").splitlines()
        for read in column_reads(mapping):
            _, line, col = read.where.rsplit(":", 2)
            text = lines[int(line) - 1][int(col) - 1 :]
            assert re.match(rf"{read.column}\b", text), (read, text)


def test_a_misspelt_column_in_a_folded_expression_is_located_on_its_own_line(
    tmp_path: Path,
) -> None:
    let = "  contacted: >-   # a comment that names Title\n    emails[?Priority == `1`\n             && EmailAdress]\n"
    _, problems = compile_mapping(staff(tmp_path, "Title", let=let))
    [problem] = problems
    assert (problem.line, problem.col) == (13, 17)
    assert "Emails has no column 'EmailAdress'; did you mean 'EmailAddress'?" in problem.message


def test_undeclared_names_the_file_line_and_column_with_did_you_mean() -> None:
    [mapping] = load_mappings(["staff"])
    declared = {
        "Staff": {"StaffId": "int", "PersonID": "int", "Title": "string", "FirstName": "string",
                  "LastName": "string", "PreferredFirstName": "string",
                  "PreferredLastName": "string", "StartDate": "dateTime", "EndDate": "dateTime",
                  "DataProcessingConsent": "boolean"},
        "Emails": {"PersonID": "int", "EmailAddress": "string", "Priority": "int"},
        "PersonCommunications": {},  # an empty DataSet with no table: nothing to check
    }  # fmt: skip
    [message] = undeclared([mapping], declared)
    assert re.match(r".*mappings/staff\.yaml:11:7: source\.id reads Staff\.StaffID, ", message)
    assert "Bromcom's answer for Staff has no column StaffID (did you mean StaffId?)" in message


def test_columns_read_is_what_the_state_keeps() -> None:
    read = columns_read(load_mappings(["pupils", "staff", "preadmissions"]))
    assert read["personmedicalconditions"] == {
        "PersonID", "MedicalConditionDescription", "StartDate", "EndDate"
    }  # fmt: skip
    assert "Notes" not in read["personmedicalconditions"]
    assert {"MiddleName", "House"}.isdisjoint(read["students"])


def _doc_table(heading: str) -> dict[str, set[str]]:
    text = (REPO / "docs" / "bromcom.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    out: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("entity", "") or set(cells[0]) <= {"-"}:
            continue
        plain = re.sub(r"\([^)]*\)", "", cells[1])
        out[cells[0]] = {name.strip() for name in plain.split(",") if name.strip()}
    return out


def test_docs_bromcom_md_lists_exactly_what_the_shipped_mappings_read() -> None:
    read = columns_read(load_mappings(["pupils", "staff", "preadmissions"]))
    documented = _doc_table("### What the mappings read")
    assert {e.casefold(): cols for e, cols in documented.items()} == read
