"""The set-up check's checklist: its points, their results, and the words a school reads.

engine/commands/setup_check.py runs the points against Bromcom and fills a `SetupCheckResult`; this
module names the points, phrases the fixes that take some working out (an error's message
without the school's name, the password variable, a recoded year group), and renders the
checklist for the terminal. Fixes are in the words of the Bromcom and ParentPay set-up steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.config.school import SchoolConfig
from engine.errors import BromsyncError
from engine.plan.plan import Plan
from engine.records import PARENTPAY_YEAR_CODES, Record
from engine.report.content import label, person_name

NAMED = 20  # records named per point; the trial plan's report names them all

# The points, in checklist order: stable key -> the line a data manager reads.
TITLES = {
    "school_file": "School file valid and password variable set",
    "url": "Bromcom MIS URL answers",
    "credentials": "Username, password and MIS OrgID accepted",
    "entities": "Every entity the upload options need is ticked",
    "year_codes": "Year groups of pupils on roll are ParentPay year codes",
    "ufsm_years": "UFSM years (ufsm.year_codes) found among pupils on roll",
    "consent": "People available under the lawful basis",
    "trial": "Trial pupil upload (nothing pushed)",
}
URL_FIX = (
    "check bromcom.url in the school file against the MIS URL the school gave (UK cloud: "
    "https://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty/TPReadOnlyDataService.asmx); "
    "if it is right, Bromcom may be down: try again later"
)
_MARKS = {True: "PASS", False: "FAIL", None: "SKIP"}


@dataclass(frozen=True)
class CheckItem:
    """One point of the checklist: ok is True (pass), False (fail) or None (skipped)."""

    name: str  # a key of TITLES
    title: str
    ok: bool | None
    detail: str
    fix: str | None = None


@dataclass
class SetupCheckResult:
    """The checklist of one school and the exit code it adds up to."""

    school: str
    urn: int
    path: Path
    items: list[CheckItem] = field(default_factory=list)
    exit_code: int = 0
    trial: Plan | None = None  # the trial pupil plan, when one could be made

    def item(self, name: str) -> CheckItem:
        return next(i for i in self.items if i.name == name)


def render_checklist(result: SetupCheckResult) -> str:
    """The checklist for the terminal: a PASS/FAIL/SKIP line per point, then what to change."""
    lines = [f"Set-up check for {result.school} (URN {result.urn}), {result.path}", ""]
    for number, item in enumerate(result.items, 1):
        lines.append(f"[{_MARKS[item.ok]}] {number}. {item.title}")
        lines.append(f"       {item.detail}")
        if item.ok is False and item.fix:
            lines.append(f"       Fix: {item.fix}")
    failed = counted(sum(1 for i in result.items if i.ok is False), "point")
    verdict = {
        0: "Ready to go live: every point passed.",
        1: "The check could not run to the end: fix the failed point and run it again.",
    }.get(result.exit_code, f"Not ready to go live: {failed} to fix.")
    return "\n".join([*lines, "", verdict]) + "\n"


def named(mis_ids: Sequence[str], people: Mapping[str, Record], *, short: bool = False) -> str:
    """'1007 Zoë Chen (year 1, 1L), 1010 Jayden Smith-Jones (year 6, 6B)': the first NAMED of
    the records, then how many more; `short` gives only the class after the name."""
    out = []
    for mis_id in mis_ids[:NAMED]:
        fields = people.get(mis_id, {}).get("fields", {})
        if short:
            who = " ".join(p for p in (mis_id, person_name(fields)) if p)
            out.append(f"{who} in {fields['reg_group']}" if fields.get("reg_group") else who)
        else:
            out.append(label(mis_id, fields))
    more = len(mis_ids) - NAMED
    return ", ".join(out) + (f" and {more} more" if more > 0 else "")


def counted(n: int, noun: str) -> str:
    """'1 pupil', '3 pupils'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def unprefixed(exc: BromsyncError, school: SchoolConfig) -> str:
    """The error's message without the "school (file): " that the checklist's heading gives."""
    for prefix in (f"{school.name} ({school.path}): ", f"{school.name}: ", f"{school.path}: "):
        if exc.message.startswith(prefix):
            return exc.message[len(prefix) :]
    return exc.message


def secret_fix(school: SchoolConfig) -> str:
    s = school.bromcom
    return (f"set the environment variable {s.password_env}, on the machine that runs bromsync, "
            f"to the Bromcom web-service password of user {s.username!r} (recorded at step 4 of "
            "the Bromcom set-up)")  # fmt: skip


def year_code_fix(bad: list[str | None]) -> str:
    """How to turn year groups that are not ParentPay codes (None: no year group) into codes."""
    return (
        f"in Bromcom, recode {', '.join(_recode(c) for c in bad)} (ParentPay's set-up "
        "guide: Reception = R, Year 1 = 1 ... Year 6 = 6), or map the value in the school "
        f"file, e.g. year_code_aliases: {_alias_example(bad)}"
    )


def guess_year_code(value: str | None) -> str | None:
    """The ParentPay code a common spelling stands for ('Year 1' -> '1', 'Rec' -> 'R'), if clear."""
    text = (value or "").strip().lower()
    if re.fullmatch(r"r|rec|reception|(?:year|yr|y) ?r", text):
        return "R"
    match = re.fullmatch(r"(?:year|yr|y) ?0*(\d{1,2})", text)
    if match and match.group(1) in PARENTPAY_YEAR_CODES:
        return match.group(1)
    match = re.fullmatch(r"(?:nursery|nur|n) ?([12])", text)
    return f"N{match.group(1)}" if match else None


def _recode(code: str | None) -> str:
    if code is None:
        return "the pupils with no year group (give each one)"
    guess = guess_year_code(code)
    return (
        f"year group {code!r} as {guess}" if guess else f"year group {code!r} as its ParentPay code"
    )


def _alias_example(bad: list[str | None]) -> str:
    pairs = [f'"{c}": "{guess_year_code(c)}"' for c in bad if c is not None and guess_year_code(c)]
    return "{" + (", ".join(pairs) or '"Year 1": "1"') + "}"
