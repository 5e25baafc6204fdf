"""engine/commands/apply.py with the real simulators: keys fixed by content, finishing a push
that was cut off, and waiting as long as ParentPay asks (docs/parentpay-api.md, "How bromsync
delivers").

The fixture school's first sync is 12 creates (1007 is held back by a check); in batches of 5
they go as 3 uploads, so a push can be cut off after the first or the second.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from click.testing import CliRunner

from bromsync import cli
from engine.commands.apply import apply_plan, key_prefix
from engine.commands.plan import plan_school
from engine.commands.result import shown_path
from engine.commands.run import run_school
from engine.config.school import load_school
from engine.errors import ExitCode, ParentPayUnavailable, PlanError
from engine.events import Event
from engine.pipeline import Options
from engine.plan.plan import read_plan
from engine.targets import TARGETS
from engine.targets.parentpay import ParentPayClient
from tests.conftest import SITE_ID, Stack

BATCH = 5
URN = 100001


class Watch:
    """The target every push of a test gets: the real client, small batches, a fake sleep.

    `fault_before(n, fault)` makes ParentPay misbehave (the simulator's injected faults) from
    the upload after the first `n` it answers: a 503 refuses it and applies nothing, a "drop"
    applies it and loses the answer. Each upload is tried twice, so `times=2` fails it.
    """

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.waits: list[float] = []
        self.events: list[Event] = []
        self.answered = 0
        self._fault: tuple[int, dict[str, Any]] | None = None

    def fault_before(self, answered: int, fault: str | int, times: int = 2, **kw: Any) -> None:
        self.answered = 0
        self._fault = (answered, {"fault": fault, "times": times, "method": "POST", **kw})

    def target(self) -> ParentPayClient:
        watch = self

        class Session(requests.Session):
            def request(self, method: str, url: str, *a: Any, **kw: Any) -> requests.Response:
                due = watch._fault
                if method == "POST" and due is not None and watch.answered == due[0]:
                    watch._fault = None
                    watch.stack.parentpay.inject(**due[1])
                response = super().request(method, url, *a, **kw)
                if method == "POST" and response.status_code == 200:
                    watch.answered += 1
                return response

        return ParentPayClient.from_env(
            max_attempts=2,
            backoff_base=0.01,
            batch_size=BATCH,
            session=Session(),
            sleep=self.waits.append,
        )

    def options(self, **kw: Any) -> Options:
        return Options(
            state_dir=self.stack.state_dir,
            target_factory=self.target,
            on_event=self.events.append,
            **kw,
        )

    def said(self) -> list[str]:
        return [e.message for e in self.events if e.stage == "push"]


@pytest.fixture
def watch(stack: Stack) -> Watch:
    return Watch(stack)


def make_plan(stack: Stack, watch: Watch) -> Path:
    result = plan_school(load_school(stack.school_file), watch.options(out_dir=stack.plans))
    assert result.exit_code == ExitCode.INCOMPLETE, result.message  # 1007 is held back
    return stack.plans / f"{URN}.plan.json"


def run(stack: Stack, watch: Watch, **kw: Any) -> Any:
    return run_school(load_school(stack.school_file), watch.options(**kw))


def posts(stack: Stack) -> list[Any]:
    return [r for r in stack.parentpay.requests if r.method == "POST"]


def people(stack: Stack) -> dict[str, dict[str, Any]]:
    return {p["mis_id"]: p for p in stack.parentpay.people(SITE_ID, status="all")}


def state_rows(stack: Stack, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(stack.state_dir / f"{URN}.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def uploaded(stack: Stack) -> dict[str, dict[str, Any]]:
    rows = state_rows(stack, "SELECT mis_id, type, status, fields FROM uploaded")
    return {
        m: {"mis_id": m, "type": t, "status": s, "fields": json.loads(f)} for m, t, s, f in rows
    }


def assert_delivered_once(stack: Stack) -> None:
    """ParentPay holds the 12 records, each answered once, and bromsync remembers each as is."""
    assert len(people(stack)) == 12
    assert state_rows(stack, "SELECT code FROM upload_results WHERE status = 'rejected'") == []
    answered = Counter(m for (m,) in state_rows(stack, "SELECT mis_id FROM upload_results"))
    assert len(answered) == 12 and set(answered.values()) == {1}
    assert uploaded(stack) == people(stack)


# -- the Idempotency-Key --------------------------------------------------------------------


def test_the_key_is_fixed_by_what_is_sent_not_by_the_run(stack: Stack, watch: Watch) -> None:
    first = read_plan(make_plan(stack, watch))
    second = read_plan(make_plan(stack, watch))
    assert first.digest != second.digest  # another run: another digest
    prefix = key_prefix(first, first.operations())
    assert key_prefix(second, second.operations()) == prefix
    assert prefix.startswith(f"bromsync-{URN}-") and len(prefix) == len(f"bromsync-{URN}-") + 24
    # Other operations, another baseline or another site make another upload.
    assert key_prefix(first, first.operations()[1:]) != prefix
    second.data["baseline"] = "up_0"
    assert key_prefix(second, second.operations()) != prefix
    second.data["baseline"], second.data["site_id"] = None, SITE_ID + 1
    assert key_prefix(second, second.operations()) != prefix


def test_a_new_plan_of_the_same_content_replays_an_answer_that_was_lost(
    stack: Stack, watch: Watch
) -> None:
    # ParentPay applies the first batch, but neither its answer nor the retry's arrives.
    watch.fault_before(0, "drop")
    with pytest.raises(ParentPayUnavailable):
        apply_plan(make_plan(stack, watch), watch.options())
    assert len(people(stack)) == BATCH
    assert state_rows(stack, "SELECT count(*) FROM uploads") == [(0,)]

    # A plan made afresh reads ParentPay first: it adopts the five records ParentPay applied
    # (same people under the same IDs) and creates only the rest, nobody twice.
    stack.parentpay.clear_requests()
    plan_file = make_plan(stack, watch)
    assert len(json.loads(plan_file.read_text(encoding="utf-8"))["adopted"]) == BATCH
    result = apply_plan(plan_file, watch.options())
    assert result.exit_code == ExitCode.INCOMPLETE  # 1007 is held back
    assert result.message.startswith("7 applied"), result.message
    assert [r.op_count for r in posts(stack)] == [5, 2]
    assert len(people(stack)) == 12 and uploaded(stack) == people(stack)
    assert state_rows(stack, "SELECT code FROM upload_results WHERE status = 'rejected'") == []


# -- finishing a plan whose push was cut off --------------------------------------------------


def test_apply_finishes_a_plan_cut_off_after_a_batch_and_then_refuses_it(
    stack: Stack, watch: Watch
) -> None:
    plan_file = make_plan(stack, watch)
    watch.fault_before(1, 503)
    with pytest.raises(ParentPayUnavailable) as caught:
        apply_plan(plan_file, watch.options())
    assert "acknowledged 1 earlier batch (5 operations)" in str(caught.value)
    assert f"the plan can be finished with `bromsync apply {shown_path(plan_file)}`" in str(
        caught.value
    )
    failed_key = posts(stack)[-1].idempotency_key
    assert len(people(stack)) == BATCH

    stack.parentpay.clear_requests()
    finished = apply_plan(plan_file, watch.options())
    assert finished.exit_code == ExitCode.INCOMPLETE  # 1007 is still held back
    assert finished.message.startswith(
        "7 applied (finishing a push that was cut off: 1 batch acknowledged before"
    ), finished.message
    sent = posts(stack)
    assert [r.op_count for r in sent] == [5, 2]
    # The batches keep their numbers, so their keys: the first sent is the one that failed.
    assert sent[0].idempotency_key == failed_key and failed_key.endswith("-0001")
    assert sent[1].idempotency_key == failed_key[: -len("0001")] + "0002"
    assert "finishing a push that was cut off: batches 1 were acknowledged" in watch.said()
    assert_delivered_once(stack)
    assert state_rows(stack, "SELECT batch FROM uploads ORDER BY seq") == [(0,), (1,), (2,)]

    stack.parentpay.clear_requests()
    with pytest.raises(PlanError, match="was already applied on .* nothing was pushed again"):
        apply_plan(plan_file, watch.options())
    assert posts(stack) == []


def test_a_batch_applied_whose_answer_was_lost_is_replayed_not_applied_again(
    stack: Stack, watch: Watch
) -> None:
    plan_file = make_plan(stack, watch)
    watch.fault_before(1, "drop")  # ParentPay applies batch 2; both answers to it are lost
    with pytest.raises(ParentPayUnavailable):
        apply_plan(plan_file, watch.options())
    assert len(people(stack)) == 2 * BATCH
    assert state_rows(stack, "SELECT batch FROM uploads") == [(0,)]  # bromsync never heard

    stack.parentpay.clear_requests()
    finished = apply_plan(plan_file, watch.options())
    assert finished.message.startswith("7 applied"), finished.message
    replayed, last = posts(stack)
    assert replayed.idempotency_key.endswith("-0001") and replayed.status == 200
    assert last.idempotency_key.endswith("-0002")
    assert_delivered_once(stack)


def test_a_cut_off_plan_overtaken_by_another_plan_is_stale(stack: Stack, watch: Watch) -> None:
    plan_file = make_plan(stack, watch)
    watch.fault_before(1, 503)
    with pytest.raises(ParentPayUnavailable):
        apply_plan(plan_file, watch.options())
    # A run plans what is left and pushes it: the cut-off plan is no longer the latest.
    assert run(stack, watch).applied == 7
    stack.parentpay.clear_requests()
    with pytest.raises(PlanError) as caught:
        apply_plan(plan_file, watch.options())
    message = str(caught.value)
    assert "was partly applied on" in message and "(5 of 12 operations)" in message
    assert "of another plan, so the rest of it is stale. Nothing was pushed" in message
    assert posts(stack) == []


def test_a_plan_stale_before_any_of_it_went_is_still_refused(stack: Stack, watch: Watch) -> None:
    plan_file = make_plan(stack, watch)
    assert run(stack, watch).applied == 12
    with pytest.raises(PlanError, match="is stale: it was planned against upload none"):
        apply_plan(plan_file, watch.options())


def test_a_run_cut_off_leaves_its_plan_file_finishable_with_apply(
    stack: Stack, watch: Watch
) -> None:
    watch.fault_before(2, 503)
    failed = run(stack, watch, out_dir=stack.plans)
    plan_file = stack.plans / f"{URN}.plan.json"
    assert failed.exit_code == ExitCode.FAILED
    assert (
        f"the plan can be finished with `bromsync apply {shown_path(plan_file)}`" in failed.message
    )
    assert len(people(stack)) == 2 * BATCH

    finished = apply_plan(plan_file, watch.options())
    assert finished.message.startswith("2 applied (finishing a push that was cut off: 2 batches")
    assert_delivered_once(stack)


def test_a_run_cut_off_without_plan_files_says_to_run_again(stack: Stack, watch: Watch) -> None:
    watch.fault_before(1, 503)
    failed = run(stack, watch)
    assert failed.exit_code == ExitCode.FAILED
    assert "run `bromsync run` again to finish" in failed.message


# -- Retry-After ------------------------------------------------------------------------------


def test_a_retry_after_is_waited_and_said(stack: Stack, watch: Watch) -> None:
    plan_file = make_plan(stack, watch)
    stack.parentpay.inject(429, method="POST", retry_after=42)
    result = apply_plan(plan_file, watch.options())
    assert result.message.startswith("12 applied")
    assert watch.waits == [42.0]
    assert watch.said()[0] == "ParentPay is busy (429); waiting 42 s as it asks, then retrying"
    assert [r.status for r in posts(stack)] == [429, 200, 200, 200]
    assert_delivered_once(stack)


def test_a_retry_after_of_ten_minutes_is_waited(stack: Stack, watch: Watch) -> None:
    plan_file = make_plan(stack, watch)
    stack.parentpay.inject(503, method="POST", retry_after=600)
    assert apply_plan(plan_file, watch.options()).message.startswith("12 applied")
    assert watch.waits == [600.0]
    assert watch.said()[0] == (
        "ParentPay failed (HTTP 503); waiting 10 min as it asks, then retrying"
    )


def test_a_retry_after_beyond_ten_minutes_fails_the_school_and_apply_finishes_it(
    stack: Stack, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = make_plan(stack, watch)
    monkeypatch.setitem(TARGETS, "parentpay", watch.target)
    watch.fault_before(1, 429, times=1, retry_after=601)
    cut = CliRunner().invoke(
        cli, ["apply", str(plan_file), "--state-dir", str(stack.state_dir)], catch_exceptions=False
    )
    assert cut.exit_code == ExitCode.FAILED, cut.output
    text = " ".join(cut.output.split())
    assert (
        "ParentPay is busy (429) and asked bromsync to wait 10 min 1 s (Retry-After: 601) "
        "before sending batch 2 of 3" in text
    )
    assert "longer than the 10 min bromsync waits, so nothing more was sent" in text
    assert f"the plan can be finished with `bromsync apply {shown_path(plan_file)}`" in text
    assert watch.waits == []
    assert [r.status for r in posts(stack)] == [200, 429]

    done = CliRunner().invoke(
        cli, ["apply", str(plan_file), "--state-dir", str(stack.state_dir)], catch_exceptions=False
    )
    assert done.exit_code == ExitCode.INCOMPLETE, done.output  # 1007 is held back
    assert "7 applied (finishing a push that was cut off" in done.output
    assert_delivered_once(stack)
