"""engine/report/content.py, report.py and html_report.py: the plan told as school events, in
Markdown and HTML."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from engine.config.school import BromcomSettings, SchoolConfig
from engine.plan.diff import diff
from engine.plan.guards import GuardHit
from engine.plan.plan import Plan, build_plan
from engine.report.content import MASK, build_report
from engine.report.html import render_html
from engine.report.markdown import render_markdown

SCHOOL = SchoolConfig(
    path=Path("schools/oakfield.yaml"),
    name="Oakfield Primary School",
    urn=100001,
    parentpay_site_id=5001,
    bromcom=BromcomSettings("http://127.0.0.1/x", 20001, "user", "BROMCOM_PASSWORD_OAKFIELD"),
    options=("pupils", "staff", "preadmissions"),
    lawful_basis="legitimate_interest",
    ufsm_year_codes=("R", "1", "2"),
)


def pupil(
    mis_id: str, forename: str, surname: str, year: str | None, group: str | None, **extra: Any
) -> dict[str, Any]:
    fields = {
        "upn": f"A{mis_id}00000000",
        "admission_number": mis_id,
        "forename": forename,
        "surname": surname,
        "legal_forename": forename,
        "legal_surname": surname,
        "dob": "2018-01-15",
        "gender": "F",
        "year_code": year,
        "reg_group": group,
        "fsm": False,
        "fsm_start": None,
        "fsm_end": None,
        "payer_email": f"parent.{mis_id}@example.com",
        "payer_mobile": "07700 900100",
        "dietary": [],
    }
    return {"mis_id": mis_id, "type": "pupil", "fields": {**fields, **extra}}


def preadmission(mis_id: str, forename: str, surname: str, **extra: Any) -> dict[str, Any]:
    record = pupil(mis_id, forename, surname, "R", None, admission_date="2027-09-01", **extra)
    del record["fields"]["reg_group"]
    return {**record, "type": "preadmission"}


def staff(mis_id: str, title: str, forename: str, surname: str, **extra: Any) -> dict[str, Any]:
    fields = {
        "title": title,
        "forename": forename,
        "surname": surname,
        "email": f"{forename[0].lower()}.{surname.lower()}@oakfield.example.org",
        "mobile": None,
    }
    return {"mis_id": mis_id, "type": "staff", "fields": {**fields, **extra}}


def acknowledged(record: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {**record, "status": status, "fields": dict(record["fields"])}


def event_school() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Today's records and the acknowledged baseline: one person for every kind of school event."""
    today = [
        pupil(
            "1001",
            "Alex",
            "Whitfield",
            "4",
            "4B",
            legal_forename="Alexander",
            fsm=True,
            fsm_start="2025-04-01",
        ),
        pupil("1002", "Siân", "O'Brien", "3", "3B", dietary=["Nut Allergy"]),
        pupil(
            "1003", "Ciarán", "O'Brien-Walsh", "5", "5B", legal_surname="O'Brien-Walsh"
        ),  # name change
        pupil("1004", "Maya", "Patel", "4", "4L"),  # year and class move, and a name change
        pupil(
            "1005", "Tom", "Hughes", "2", "2L", payer_email="new.payer@example.com"
        ),  # payer contact
        pupil("1006", "Ruby", "Jones", "1", "1L", fsm=True, fsm_start="2026-11-01"),  # FSM starts
        pupil("1007", "Leo", "Evans", "1", "1L", fsm=False, fsm_start=None),  # FSM ends
        pupil(
            "1008",
            "Isla",
            "Khan",
            "R",
            "RL",
            fsm=True,
            fsm_start="2026-09-01",
            fsm_end="2027-07-31",
        ),  # dates
        pupil("1009", "Noah", "Adeyemi", "R", "RL", dietary=["Coeliac", "Nut Allergy"]),  # dietary
        pupil("1010", "Evie", "Davies", "6", "6B", upn="V383200126014"),  # other
        pupil("1011", "Jayden", "Smith | Jones", "6", "6B"),  # returner, unchanged
        pupil(
            "1012", "Oliver", "Featherstone", "2", "2L", payer_mobile="07700 900999"
        ),  # returner with a change
        pupil("3001", "Freya", "Morgan", "R", "RL"),  # converted from pre-admission
        pupil("1014", "Zoë", "<Brown> & Co", "N1", None),  # a name that must be escaped
        pupil(
            "1015", "Ana", "Silva", "Y1", "1L"
        ),  # an odd year code in the baseline, kept for the test
        staff("2001", "Mrs", "Sarah", "Bennett"),
        staff("2003", "Ms", "Hannah", "Price"),  # new staff
        staff("2004", "Dr", "Owen", "Rees", mobile="07700 900204"),  # staff contact
        preadmission("3003", "Maja", "Nowak"),
        preadmission("3004", "Ellis", "Ward", payer_email="e.ward@example.com"),
    ]
    base = [
        pupil("1003", "Ciarán", "O'Brien", "5", "5B"),
        pupil("1004", "Maya", "Patel-Ross", "3", "3L"),
        pupil("1005", "Tom", "Hughes", "2", "2L"),
        pupil("1006", "Ruby", "Jones", "1", "1L"),
        pupil("1007", "Leo", "Evans", "1", "1L", fsm=True, fsm_start="2025-09-01"),
        pupil("1008", "Isla", "Khan", "R", "RL", fsm=True, fsm_start="2026-09-01"),
        pupil("1009", "Noah", "Adeyemi", "R", "RL", dietary=["Nut Allergy"]),
        pupil("1010", "Evie", "Davies", "6", "6B", upn=None),
        pupil("1015", "Ana", "Silva", "Y1", "1L"),
        pupil("1020", "Grace", "Taylor", "6", "6B"),  # leaver
        pupil("1021", "Harry", "Wood", "4", "4B"),  # leaver
        preadmission("3001", "Freya", "Morgan"),
        preadmission("3004", "Ellis", "Ward"),
        preadmission("3005", "Ivy", "Hall"),  # no longer a pre-admission
        staff("2001", "Mrs", "Sarah", "Bennett"),
        staff("2002", "Mr", "Dai", "Llewellyn"),  # staff leaver
        staff("2004", "Dr", "Owen", "Rees"),
    ]
    baseline = {r["mis_id"]: acknowledged(r) for r in base}
    baseline["1011"] = acknowledged(pupil("1011", "Jayden", "Smith | Jones", "6", "6B"), "archived")
    baseline["1012"] = acknowledged(pupil("1012", "Oliver", "Featherstone", "2", "2L"), "archived")
    baseline["1015"]["fields"]["forename"] = "Anna"
    return today, baseline


def check(
    name: str,
    severity: str,
    records: list[str],
    message: str,
    remediation: str,
    details: list[str] | None = None,
) -> dict[str, Any]:
    """A check result as the plan holds it (docs/plan.md)."""
    return {
        "name": name,
        "severity": severity,
        "type": "pupil",
        "records": records,
        "details": details or [],
        "message": message,
        "remediation": remediation,
    }


CHECKS = [
    check(
        "pupil_without_payer",
        "warning",
        ["1011"],
        "These pupils have no payer.",
        "Add a contact with parental responsibility in Bromcom.",
    ),
    check(
        "year_code_not_parentpay",
        "error",
        ["1099", "1015"],
        "These pupils' year group is not a ParentPay year code.",
        "In Bromcom, recode the year group listed above.",
        ["Year 1", "`odd`"],
    ),
]


ARCHIVE_40 = GuardHit(
    "archive", "pupil", 40, 100, "this plan would archive 40 of 100 pupils (40%), more than "
    "guards.max_archive_percent (10%) and guards.max_archive_count (25)",
)  # fmt: skip
BLANK_EMAIL = GuardHit(
    "blank", "pupil", 95, 100, "this plan would empty `payer_email` for 95 of 100 pupils in "
    "ParentPay (95%), more than guards.max_blank_percent (10%) and guards.max_blank_count (10)",
    field="payer_email",
)  # fmt: skip


def make_plan(*, guards: tuple[GuardHit, ...] = ()) -> tuple[Plan, dict[str, Any]]:
    today, baseline = event_school()
    changes, summary = diff(today, baseline, types={"pupil", "staff", "preadmission"})
    plan = build_plan(
        school=SCHOOL,
        run_id="run-1",
        today="2026-11-28",
        baseline_id="upload-7",
        changes=changes,
        summary=summary,
        checks=[],
        no_consent=2,
        left_out={
            "pupil": {"on_roll": 3},
            "staff": {"current": 1},
            "preadmission": {"accepted": 0},
        },
        guards=guards,
        drift=[
            {"type": "pupil", "mis_id": "1004", "field": "payer_email",
             "parentpay": "mum@example.org", "uploaded": "m.hussain@example.org",
             "bromcom": "m.hussain@example.org"},
            {"type": "pupil", "mis_id": "1004", "field": "dietary",
             "parentpay": [], "uploaded": ["Nut Allergy"], "bromcom": ["Nut Allergy"]},
        ],
        unmanaged={"pupil": 2, "staff": 0, "preadmission": 0},
        adopted=["1009"],
    )  # fmt: skip
    # The report reads check results as the plan holds them, whatever class the checks produce.
    return Plan({**plan.data, "checks": CHECKS}), {**baseline, **{r["mis_id"]: r for r in today}}


class HtmlPage(SingleFileSnapshotExtension):
    """The HTML snapshot as a .html file, so a reviewer can open it in a browser."""

    file_extension = "html"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def html_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(HtmlPage)


# -- snapshots -----------------------------------------------------------------------------------


@pytest.mark.parametrize("show_sensitive", [False, True], ids=["masked", "shown"])
def test_markdown_snapshot(show_sensitive: bool, raw: SnapshotAssertion) -> None:
    plan, people = make_plan()
    assert render_markdown(build_report(plan, people=people, show_sensitive=show_sensitive)) == raw


@pytest.mark.parametrize("show_sensitive", [False, True], ids=["masked", "shown"])
def test_html_snapshot(show_sensitive: bool, html_snapshot: SnapshotAssertion) -> None:
    plan, people = make_plan()
    assert (
        render_html(build_report(plan, people=people, show_sensitive=show_sensitive))
        == html_snapshot
    )


def test_blocked_markdown_snapshot(raw: SnapshotAssertion) -> None:
    plan, people = make_plan(guards=(ARCHIVE_40, BLANK_EMAIL))
    assert render_markdown(build_report(plan, people=people)) == raw


# -- events --------------------------------------------------------------------------------------


def where_is(mis_id: str, show_sensitive: bool = False) -> list[tuple[str, str]]:
    """(section title, event title) of every entry that names `mis_id`."""
    plan, people = make_plan()
    report = build_report(plan, people=people, show_sensitive=show_sensitive)
    return [
        (section.title, event.title)
        for section in report.sections
        for event in section.events
        for item in [*event.rows, *event.people]
        if (item[0] if isinstance(item, list) else item.mis_id) == mis_id
    ]


@pytest.mark.parametrize(
    ("mis_id", "section", "event"),
    [
        ("1001", "Year 4", "New starters"),
        ("1004", "Year 4", "Year or class moves"),  # also a name change: told once, as the move
        ("1003", "Year 5", "Name changes"),
        ("1005", "Year 2", "Payer contact changes"),
        ("1009", "Reception", "Dietary needs changed"),
        ("1010", "Year 6", "Other changes"),
        ("1011", "Year 6", "Returners"),
        ("1012", "Year 2", "Returners"),  # restore and update: one returner
        ("3001", "Reception", "Pre-admissions now on roll"),
        ("1020", "Year 6", "Leavers"),  # year group from the baseline
        ("1021", "Year 4", "Leavers"),
        ("1015", "Year group \u201cY1\u201d (not a ParentPay code)", "Name changes"),
        ("2003", "Staff", "New staff"),
        ("2004", "Staff", "Contact changes"),
        ("2002", "Staff", "Staff leavers"),
        ("3003", "Pre-admissions", "New pre-admissions"),
        ("3004", "Pre-admissions", "Payer contact changes"),
        ("3005", "Pre-admissions", "No longer pre-admissions"),
    ],
)
def test_each_change_is_told_once_as_a_school_event(mis_id: str, section: str, event: str) -> None:
    assert where_is(mis_id) == [(section, event)]


@pytest.mark.parametrize(
    ("mis_id", "shown_as"),
    [
        ("1006", "Free school meals start"),
        ("1007", "Free school meals end"),
        ("1008", "Free-meal dates changed"),
    ],
)
def test_free_meal_events_are_named_only_when_sensitive_fields_are_shown(
    mis_id: str, shown_as: str
) -> None:
    assert [e for _, e in where_is(mis_id, show_sensitive=True)] == [shown_as]
    assert [e for _, e in where_is(mis_id)] == ["Free-meal details changed"]


def test_an_update_lists_all_its_fields_its_own_event_first() -> None:
    plan, people = make_plan()
    report = build_report(plan, people=people)
    (moved,) = [
        p for s in report.sections for e in s.events for p in e.people if p.mis_id == "1004"
    ]
    assert moved.changes == [
        ("year", "3", "4"),
        ("class", "3L", "4L"),
        ("surname", "Patel-Ross", "Patel"),
        ("legal surname", "Patel-Ross", "Patel"),
    ]


def test_sections_run_in_year_order_then_staff_then_preadmissions() -> None:
    plan, people = make_plan()
    titles = [s.title for s in build_report(plan, people=people).sections]
    assert titles == [
        "Nursery N1",
        "Reception",
        "Year 1",
        "Year 2",
        "Year 3",
        "Year 4",
        "Year 5",
        "Year 6",
        "Year group \u201cY1\u201d (not a ParentPay code)",
        "Staff",
        "Pre-admissions",
    ]


def test_new_starters_are_one_compact_table() -> None:
    plan, people = make_plan()
    markdown = render_markdown(build_report(plan, people=people))
    year4 = markdown.split("## Year 4")[1].split("\n## ")[0]
    assert (
        "| ID | Name | Class | Born | Payer email | Payer mobile | Free meals | Dietary needs |"
        in year4
    )
    assert "| 1001 | Alex Whitfield (legal name Alexander Whitfield) | 4B | 2018-01-15 |" in year4


# -- masking -------------------------------------------------------------------------------------

SENSITIVE_VALUES = ("Nut Allergy", "Coeliac", "2025-04-01", "2026-11-01", "2027-07-31")


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_masked_report_shows_no_sensitive_value_nor_fsm_direction(render: Any) -> None:
    plan, people = make_plan()
    masked = render(build_report(plan, people=people))
    shown = render(build_report(plan, people=people, show_sensitive=True))
    for value in SENSITIVE_VALUES:
        assert value not in masked
        assert value in shown
    for title in (
        "Free school meals start",
        "Free school meals end",
        "Free-meal dates changed",
        "free meals from",
    ):
        assert title not in masked
    assert "Free school meals start" in shown and MASK not in shown


def test_masked_fsm_start_and_end_read_the_same() -> None:
    plan, people = make_plan()
    report = build_report(plan, people=people)
    entries = {p.mis_id: p for s in report.sections for e in s.events for p in e.people}
    assert entries["1006"].changes == entries["1007"].changes == [("free-meal details", MASK, MASK)]


# -- escaping and the blocked box ----------------------------------------------------------------


def tricky_plan() -> tuple[Plan, dict[str, Any]]:
    nasty = pupil(
        "1", "<script>alert(1)</script>", "O'Brien & [Sons](https://example.com) | Ltd", "4", "4<B>"
    )
    plan = build_plan(
        school=SCHOOL, run_id="r", today="2026-11-28", baseline_id=None,
        changes=diff([nasty], {}, types={"pupil"})[0], summary=None,
        checks=[], no_consent=0, left_out={},
    )  # fmt: skip
    checks = [check("odd", "warning", ["1"], "Look at <this>.", "Fix & retry.", ["a|b", "<i>"])]
    return Plan({**plan.data, "checks": checks}), {"1": nasty}


def test_html_escapes_every_value_from_the_data() -> None:
    plan, people = tricky_plan()
    page = render_html(build_report(plan, people=people))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "O&#x27;Brien &amp; [Sons](https://example.com) | Ltd" in page
    assert "4&lt;B&gt;" in page and "<code>&lt;i&gt;</code>" in page
    assert "Look at &lt;this&gt;." in page and "Fix &amp; retry." in page


def test_html_is_self_contained() -> None:
    plan, people = make_plan()
    page = render_html(build_report(plan, people=people))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"<(script|link|img|iframe)\b|https?://|url\(|@import", page)


def test_markdown_escapes_table_pipes_links_and_tags() -> None:
    plan, people = tricky_plan()
    markdown = render_markdown(build_report(plan, people=people))
    row = next(line for line in markdown.splitlines() if line.startswith("| 1 |"))
    assert row.count(" | ") == 7  # eight cells: the pipe in the surname does not split one
    assert r"\<script\>alert(1)\</script\> O'Brien & \[Sons\](https://example.com) \| Ltd" in row
    assert "Values found: `a|b`, `<i>`" in markdown  # code spans show values as they are


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_blocked_plan_opens_with_the_blocked_box(render: Any) -> None:
    plan, people = make_plan(guards=(ARCHIVE_40, BLANK_EMAIL))
    text = render(build_report(plan, people=people))
    box = text.index("Blocked: nothing will be pushed")
    # Every guard that fired, each with its type, field and how many of how many.
    assert (
        box
        < text.index("This plan would archive 40 of 100 pupils (40%)")
        < text.index("payer_email")
    )
    assert "for 95 of 100 pupils in ParentPay (95%)" in text
    assert "a column renamed or misspelt" in text and "switched to consent" in text
    assert "bromsync apply 100001.plan.json --allow-mass-archive --allow-mass-blank" in text
    assert box < text.index("Nursery N1") and "refuses it unless given" in text
    assert "To push exactly this plan to ParentPay" not in text


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_a_plan_the_consent_guard_blocks_offers_no_flag(render: Any) -> None:
    nobody = GuardHit(
        "consent", "pupil", 12, None, "none of its 12 pupils has consent", rule="consent"
    )
    plan, people = make_plan(guards=(nobody,))
    text = render(build_report(plan, people=people))
    assert "None of its 12 pupils has consent." in text
    assert "--allow-mass" not in text and "Fix the cause and make a new plan." in text


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_a_guard_lifted_by_its_flag_is_noted_and_does_not_block(render: Any) -> None:
    lifted = dataclasses.replace(ARCHIVE_40, released=True)
    plan, people = make_plan(guards=(lifted,))
    text = render(build_report(plan, people=people))
    assert plan.blocked is False and "Blocked" not in text
    assert "Lifted with" in text and "after review: this plan would archive 40 of 100" in text


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_a_plan_without_its_guards_listed_shows_its_reason_as_data(render: Any) -> None:
    plan, people = make_plan()
    older = Plan({**plan.data, "blocked": True, "blocked_reason": "too many <archives> & more"})
    del older.data["guards"]
    text = render(build_report(older, people=people))
    assert "Blocked: nothing will be pushed" in text
    assert (
        "Too many \\<archives\\> & more"
        if render is render_markdown
        else "Too many &lt;archives&gt; &amp; more"
    ) in text


@pytest.mark.parametrize("render", [render_markdown, render_html], ids=["markdown", "html"])
def test_unblocked_plan_has_no_box_and_says_how_to_apply(render: Any) -> None:
    plan, people = make_plan()
    text = render(build_report(plan, people=people))
    assert "Blocked" not in text
    assert "bromsync apply 100001.plan.json" in text


def test_a_plan_with_nothing_to_change_says_so() -> None:
    plan = build_plan(school=SCHOOL, run_id="r", today="2026-11-28", baseline_id="u1", changes=[], summary=None,
                      checks=[], no_consent=0, left_out={})  # fmt: skip
    markdown = render_markdown(build_report(plan, people={}))
    assert markdown.startswith("# Oakfield Primary School: sync plan\n\n**Nothing to change**\n")
    assert "Nothing to change: ParentPay already matches Bromcom." in markdown
    assert "## Checks" not in markdown and "## Left out" not in markdown
    assert "Nothing to change: ParentPay already matches Bromcom." in render_html(
        build_report(plan, people={})
    )
