"""The fleet status page's wording and layout (engine/report/status.py), on fixed histories."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from engine.report.status import describe, render_html, render_text, tally, unreadable
from engine.state.history import History, LastRun

NOW = dt.datetime(2026, 12, 2, 7, 0)


def _history(**changes: object) -> History:
    base = {
        "last_run": LastRun(
            "run", NOW - dt.timedelta(hours=5), NOW - dt.timedelta(hours=5), "ok", "ok"
        ),
        "last_success": NOW - dt.timedelta(hours=5),
        "data_as_of": NOW - dt.timedelta(hours=5),
        "blocked": None,
        "held": 0,
        "rejected": 0,
        "failed": None,
    }
    return History(**{**base, **changes})  # type: ignore[arg-type]


def _fleet() -> list:
    failed_run = LastRun(
        "run", NOW - dt.timedelta(hours=1), NOW - dt.timedelta(hours=1), "failed", ""
    )
    return [
        describe(Path("schools/oakfield.yaml"), "Oakfield Primary School", 100001, _history(), NOW,
                 Path("plans/100001.results.md")),
        describe(Path("schools/ash.yaml"), "Ash Grove Academy", 100002,
                 _history(held=2, rejected=1, last_run=LastRun("run", NOW, NOW, "incomplete", "")), NOW),
        describe(Path("schools/birch.yaml"), "Birch Lane School", 100003,
                 _history(blocked="this plan would archive 24 of 27 staff"), NOW),
        describe(Path("schools/cedar.yaml"), "Cedar & Elm <Federation>", 100004,
                 _history(failed="Bromcom refused the password\nmore", last_run=failed_run), NOW),
        describe(Path("schools/new.yaml"), "New School", 100005, None, NOW),
        describe(Path("schools/old.yaml"), "Old Mill Primary", 100006,
                 _history(data_as_of=NOW - dt.timedelta(days=4), last_success=NOW - dt.timedelta(days=4)), NOW),
        unreadable(Path("schools/typo.yaml"), "typo.yaml", None, "fix the school file: line 3"),
    ]  # fmt: skip


def test_verdicts_and_next_steps() -> None:
    by_urn = {s.urn: s for s in _fleet() if s.urn}
    assert by_urn[100001].verdict == "ok" and by_urn[100001].next_step == "nothing to do"
    assert by_urn[100002].verdict == "attention"
    assert "2 held-back records" in by_urn[100002].next_step
    assert "1 operation ParentPay rejected" in by_urn[100002].next_step
    assert "apply plans/100003.plan.json" in by_urn[100003].next_step
    assert by_urn[100004].next_step == "the last run failed: Bromcom refused the password"
    assert by_urn[100005].verdict == "never run"
    assert by_urn[100006].verdict == "attention" and "for 4 days" in by_urn[100006].next_step


def test_tally_counts_every_verdict() -> None:
    assert tally(_fleet()) == "7 schools: 1 ok, 3 need attention, 1 never run, 2 failed"


def test_text_is_worst_first(raw: SnapshotAssertion) -> None:
    text = render_text(_fleet(), NOW)
    names = [line.split("  ")[0] for line in text.splitlines()[1:8]]
    assert names[:2] == ["Cedar & Elm <Federation>", "typo.yaml"]
    assert names[-1] == "Oakfield Primary School"
    assert text == raw


def test_html_escapes_names_and_links_reports_relative_to_the_page(raw: SnapshotAssertion) -> None:
    page = render_html(_fleet(), NOW, Path("plans"))
    assert "Cedar &amp; Elm &lt;Federation&gt;" in page
    assert '<a href="100001.results.md">Oakfield Primary School</a>' in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]
    assert page == raw
