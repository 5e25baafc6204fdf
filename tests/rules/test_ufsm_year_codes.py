"""Year codes (docs/rules.md, Free school meals): ParentPay grants UFSM by year code, so only
N1, N2, R and 1-14 may go. year_code_aliases are applied first; a pupil whose code is still not a
ParentPay code is held back by an error check (and named in the plan), and the rest still go.
Nothing is trimmed or guessed: "Year 1" is not quietly read as 1."""

from __future__ import annotations

from typing import Any

import pytest

from engine.records import PARENTPAY_YEAR_CODES
from tests.rules.helpers import bromcom, preadmission, run, student


@pytest.mark.parametrize("code", PARENTPAY_YEAR_CODES)
def test_every_parentpay_code_goes_as_it_is(code: str) -> None:
    result = run("pupils", bromcom(Students=[student(1001, YearGroup=code)]))
    assert [r["fields"]["year_code"] for r in result.records] == [code]
    assert result.held == [] and result.errors == []


# (YearGroup in Bromcom, year_code_aliases, year_code sent or None when held back)
CODES = [
    pytest.param("Year 1", {}, None, id="'Year 1' is held back"),
    pytest.param("Year 1", {"Year 1": "1"}, "1", id="an alias fixes 'Year 1'"),
    pytest.param("Rec", {"Rec": "R", "Year 1": "1"}, "R", id="'Rec' aliased to R"),
    pytest.param("Reception", {"Rec": "R"}, None, id="an alias matches the whole code only"),
    pytest.param("r", {}, None, id="lower-case r is not R"),
    pytest.param(" 1", {}, None, id="never trimmed"),
    pytest.param("15", {}, None, id="no Year 15"),
    pytest.param("Y6", {"Y6": "6"}, "6", id="Y6 aliased to 6"),
    pytest.param("2", {"2": "3"}, "3", id="an alias applies even to a valid code"),
]


@pytest.mark.parametrize(("year_group", "aliases", "sent"), CODES)
def test_year_code_aliases_then_the_error_check(
    year_group: str, aliases: dict[str, str], sent: str | None
) -> None:
    rows = [student(1007, YearGroup=year_group), student(1001, YearGroup="4")]
    result = run("pupils", bromcom(Students=rows), year_code_aliases=aliases)
    codes = {r["mis_id"]: r["fields"]["year_code"] for r in result.records}
    if sent is None:
        assert codes == {"1001": "4"}  # the rest of the school still goes
        assert result.held == ["1007"]
        [hit] = result.errors
        assert (hit.name, hit.severity, hit.records, hit.details) == (
            "year_code_not_parentpay",
            "error",
            ["1007"],
            [year_group],
        )
        assert "year_code_aliases" in hit.remediation  # the report says how to fix it
    else:
        assert codes == {"1007": sent, "1001": "4"}
        assert result.held == [] and result.errors == []


def test_the_check_lists_each_bad_code_once_for_the_school_to_recode() -> None:
    rows = [
        student(1, YearGroup="Year 1"),
        student(2, YearGroup="Year 1"),
        student(3, YearGroup="Yr2"),
        student(4),
    ]
    result = run("pupils", bromcom(Students=rows))
    assert [r["mis_id"] for r in result.records] == ["4"]
    [hit] = result.errors
    assert hit.records == ["1", "2", "3"] and hit.details == ["Year 1", "Yr2"]


@pytest.mark.parametrize(
    ("year_group", "aliases", "held"),
    [("R", {}, []), ("Reception", {}, ["3001"]), ("Reception", {"Reception": "R"}, [])],
)
def test_pre_admissions_join_with_a_parentpay_code_too(
    year_group: str, aliases: dict[str, Any], held: list[str]
) -> None:
    result = run("preadmissions", bromcom(PreAdmissionStudents=[preadmission(3001, YearGroup=year_group)]),
                 year_code_aliases=aliases)  # fmt: skip
    assert result.held == held
    assert [r["fields"]["year_code"] for r in result.records] == ([] if held else ["R"])
