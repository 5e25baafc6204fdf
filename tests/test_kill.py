"""`bromsync run` killed (SIGKILL) at random moments, again and again, then let finish.

docs/parentpay-api.md ("How bromsync delivers"): after a crash at any moment, the next `run`
ends with ParentPay exactly as the plan says: no operation applied twice, no create answered
`exists`, no record left out of bromsync's memory. This test takes that literally. A generated
school whose first sync needs 4 uploads (the secondary, pupils only: 1,915 creates) is synced
by `bromsync run` as a subprocess against the real simulators on 127.0.0.1, killed at least 30
times at moments a seeded RNG picks from the run's own progress lines (while fetching, while
staging and checking, while pushing), each kill followed by the next run, until a run is let
finish. Then ParentPay must hold exactly what one clean run gives on a fresh site, and
bromsync's memory exactly what ParentPay holds.

Bounded: every run has a timeout, the loop has a deadline, and any process still alive at the
end is killed. Run with `-s` to see the counts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from simulators.bromcom import BromcomSimulator
from simulators.datagen import generate_school, write_school_file
from simulators.parentpay import ParentPaySimulator

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261128
KILLS = 30
TODAY = dt.date(2026, 11, 28)
URN = 140003
ORG_ID = 40003
KILLED_SITE, CLEAN_SITE = 7101, 7102
PASSWORD_ENV = "BROMSYNC_KILL_TEST_PASSWORD"
PASSWORD = "kill-test-password"
TOKEN = "kill-test-token"
BATCH = 500  # ParentPay's largest upload, and so bromsync's batch
RUN_TIMEOUT = 60.0  # seconds one run may take before the test gives up on it
DEADLINE = 150.0  # seconds for every run together: a hang fails the test, it never waits on

FETCH = re.compile(r"· fetch: \[(\d+)/(\d+)\]")
MAP = re.compile(r"· map: ")
PLAN = re.compile(r"· plan: (\d+) changes")
BATCH_DONE = re.compile(r"· push: batch (\d+)/(\d+):")
LAST_RUN = "SELECT status FROM runs ORDER BY started_at DESC LIMIT 1"


@dataclass
class Line:
    at: float  # seconds since the run started
    text: str


class Bromsync:
    """One `bromsync run` subprocess, its progress lines (stderr) read as they come."""

    count = 0

    def __init__(self, school_file: Path, state_dir: Path, env: dict[str, str], cwd: Path):
        Bromsync.count += 1
        self.started = time.monotonic()
        self.lines: list[Line] = []
        self._queue: queue.Queue[Line | None] = queue.Queue()
        self._stdout = cwd / f"run-{Bromsync.count}.stdout"
        with open(self._stdout, "w", encoding="utf-8") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bromsync.py"),
                    "run",
                    str(school_file),
                    "--state-dir",
                    str(state_dir),
                ],  # fmt: skip
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for text in self.proc.stderr:
            line = Line(time.monotonic() - self.started, text.rstrip("\n"))
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """The next progress line matching `pattern`; None once the run has ended without one."""
        limit = self.started + RUN_TIMEOUT
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, limit - time.monotonic()))
            except queue.Empty:
                message = f"bromsync run took over {RUN_TIMEOUT} s:\n{self.tell()}"
                raise AssertionError(message) from None
            if line is None:
                return None
            if found := pattern.search(line.text):
                return found

    def kill(self) -> bool:
        """SIGKILL the run; whether it was still running (so was killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=RUN_TIMEOUT) == -signal.SIGKILL

    def finish(self) -> int:
        try:
            return self.proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            message = f"bromsync run took over {RUN_TIMEOUT} s:\n{self.tell()}"
            raise AssertionError(message) from None

    def tell(self) -> str:
        out = self._stdout.read_text(encoding="utf-8") if self._stdout.exists() else ""
        return "\n".join(f"{x.at:6.2f} {x.text}" for x in self.lines) + "\n" + out


class Pace:
    """How long this machine takes between progress lines, learnt from the runs so far."""

    def __init__(self) -> None:
        self._staging = [1.5]  # seconds from the last fetch line to the first map line
        self._batch = [0.12]  # seconds between two push lines

    def learn(self, run: Bromsync) -> None:
        def at(pattern: re.Pattern[str]) -> list[float]:
            return [x.at for x in run.lines if pattern.search(x.text)]

        fetched, mapped, pushed = at(FETCH), at(MAP), at(BATCH_DONE)
        if fetched and mapped:
            self._staging.append(mapped[0] - fetched[-1])
        self._batch += [b - a for a, b in itertools.pairwise(pushed)]

    @property
    def staging(self) -> float:
        return statistics.median(self._staging)

    @property
    def batch(self) -> float:
        return statistics.median(self._batch)


@dataclass
class Kills:
    """Where the runs were killed; `one_run` picks each moment with the seeded RNG."""

    rng: random.Random
    state_dir: Path
    pace: Pace = field(default_factory=Pace)
    where: Counter[str] = field(default_factory=Counter)
    ended_by_themselves: list[tuple[int, str]] = field(default_factory=list)
    left_to_push: bool = True  # until a run plans nothing: then there is no push to kill

    @property
    def total(self) -> int:
        return sum(self.where.values())

    def one_run(self, run: Bromsync) -> None:
        """Kill `run` at a moment picked from its progress lines (or let it end first)."""
        rng = self.rng
        weights = [2, 2, 6] if self.left_to_push else [7, 3, 0]
        phase = rng.choices(["fetch", "staging", "push"], weights=weights)[0]
        if phase == "fetch":
            found = run.wait_for(FETCH)
            n = rng.randint(1, int(found.group(2)) - 1) if found else 1
            if found and n > 1:
                found = run.wait_for(re.compile(rf"· fetch: \[{n}/"))
            delay = rng.uniform(0, 0.1)
        elif phase == "staging":
            found = run.wait_for(re.compile(r"· fetch: \[(\d+)/\1\]"))
            delay = rng.uniform(0, self.pace.staging)
        else:
            found = run.wait_for(PLAN)
            changes = int(found.group(1)) if found else 0
            if changes == 0:
                phase, delay, self.left_to_push = "after planning nothing", 0.0, False
            else:
                # Mostly while the first batch is on its way (before ParentPay has it, while
                # it applies it, before bromsync records the answer, or just after): each
                # kill leaves most of the push for the next run, to be killed again.
                k = rng.choices([0, 1], weights=[3, 1])[0] if changes > BATCH else 0
                if k:
                    found = run.wait_for(re.compile(rf"· push: batch {k}/"))
                delay = rng.uniform(0, 0.8 * self.pace.batch)
        if found is not None:
            time.sleep(delay)
        killed = run.kill()
        self.pace.learn(run)
        if phase == "push" and any(
            (m := BATCH_DONE.search(x.text)) and m.group(1) == m.group(2) for x in run.lines
        ):
            phase = "after the push"
        if killed and state_rows(self.state_dir, LAST_RUN) != [("running",)]:
            phase = "after the run ended"  # its end was recorded: there is nothing to finish
        if any((m := PLAN.search(x.text)) and m.group(1) == "0" for x in run.lines):
            self.left_to_push = False
        if killed:
            self.where[phase] += 1
        else:
            self.ended_by_themselves.append((run.proc.returncode, run.tell()))


@pytest.fixture
def school(tmp_path: Path) -> Iterator[dict[str, Any]]:
    summary = generate_school(
        tmp_path / "bromcom",
        org_id=ORG_ID,
        seed=2026,
        size="secondary",
        today=TODAY,
        username="parentpay_kill",
        password=PASSWORD,
        urn=URN,
    )
    with (
        BromcomSimulator(tmp_path / "bromcom") as bromcom,
        ParentPaySimulator(
            tmp_path / "parentpay", token=TOKEN, sites=[KILLED_SITE, CLEAN_SITE]
        ) as parentpay,
    ):
        files = {}
        for site in (KILLED_SITE, CLEAN_SITE):
            files[site] = tmp_path / f"school-{site}.yaml"
            write_school_file(
                files[site],
                summary,
                url=bromcom.url,
                password_env=PASSWORD_ENV,
                parentpay_site_id=site,
                options=["pupils"],
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BROMSYNC_")}
        env |= {
            PASSWORD_ENV: PASSWORD,
            "BROMSYNC_PARENTPAY_URL": parentpay.url,
            "BROMSYNC_PARENTPAY_TOKEN": TOKEN,
            "BROMSYNC_TODAY": TODAY.isoformat(),
        }
        yield {"files": files, "env": env, "parentpay": parentpay, "root": tmp_path}


def people(parentpay: ParentPaySimulator, site: int) -> dict[str, dict[str, Any]]:
    return {p["mis_id"]: p for p in parentpay.people(site, status="all")}


def state_rows(state_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(state_dir / f"{URN}.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_run_killed_at_any_moment_is_finished_by_the_next_exactly_once(
    school: dict[str, Any],
) -> None:
    began = time.monotonic()
    pp: ParentPaySimulator = school["parentpay"]
    root: Path = school["root"]
    clean_state, killed_state = root / "state-clean", root / "state-killed"

    # The clean run, on a fresh site with its own state, goes meanwhile.
    clean = Bromsync(school["files"][CLEAN_SITE], clean_state, school["env"], root)

    kills = Kills(random.Random(SEED), killed_state)
    runs = 0
    while kills.total < KILLS:
        assert time.monotonic() - began < DEADLINE, f"over {DEADLINE} s, {kills.where}"
        run = Bromsync(school["files"][KILLED_SITE], killed_state, school["env"], root)
        runs += 1
        try:
            kills.one_run(run)
        finally:
            run.proc.kill()  # whatever happened, no run outlives its turn
            run.proc.wait(timeout=RUN_TIMEOUT)
    last = Bromsync(school["files"][KILLED_SITE], killed_state, school["env"], root)
    runs += 1
    code = last.finish()
    assert clean.finish() == 0, clean.tell()
    expected = people(pp, CLEAN_SITE)
    assert len(expected) > 3 * BATCH, "the first sync must need at least 4 uploads"

    operations = pp.operations(KILLED_SITE)
    exists = [o for o in operations if o["code"] == "exists"]
    applied = Counter((o["mis_id"], o["op"]) for o in operations if o["status"] == "applied")
    twice = {key: n for key, n in applied.items() if n > 1}
    print(
        f"\nkill test: {kills.total} kills in {runs} runs ({kills.where['push']} during push, "
        f"{kills.where['fetch']} during fetch, {kills.where['staging']} during staging, "
        f"{kills.where['after the push']} after the push, "
        f"{kills.where['after planning nothing']} after planning nothing, "
        f"{kills.where['after the run ended']} after the run recorded its end), "
        f"{len(kills.ended_by_themselves)} runs ended before their kill; "
        f"{len(exists)} creates answered exists, {len(twice)} operations applied twice; "
        f"{time.monotonic() - began:.0f} s"
    )

    assert kills.where["push"] >= 1, kills.where
    assert code == 0, last.tell()
    assert [c for c, _ in kills.ended_by_themselves if c != 0] == [], kills.ended_by_themselves
    got = people(pp, KILLED_SITE)
    assert got == expected
    assert exists == []
    assert twice == {}
    remembered = {
        m: {"mis_id": m, "type": t, "status": s, "fields": json.loads(f)}
        for m, t, s, f in state_rows(
            killed_state, "SELECT mis_id, type, status, fields FROM uploaded"
        )
    }
    assert remembered == got
    assert state_rows(
        killed_state, "SELECT count(*) FROM upload_results WHERE code = 'exists'"
    ) == [(0,)]
    # Every run killed before it recorded its end is marked so by the run after it.
    statuses = Counter(s for (s,) in state_rows(killed_state, "SELECT status FROM runs"))
    assert statuses["running"] == 0 and statuses.total() == runs
    assert statuses["interrupted"] == kills.total - kills.where["after the run ended"]
