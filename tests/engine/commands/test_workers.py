"""engine/commands/workers.py: `--jobs N` runs each school in a worker process of its own.

A fleet run in worker processes must end as the same run one school at a time does, start the
largest school first, and lose only the school whose worker dies.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine.commands.workers import largest_first, school_size
from engine.config.school import load_school
from engine.sources import Table
from engine.state.store import State, state_path
from tests.conftest import Stack, write_fixture_school_file
from tests.engine.commands.test_batch import bromsync
from tests.helpers import REPO

PASSWORDS = ("BROMCOM_PASSWORD_ASH", "BROMCOM_PASSWORD_BIRCH")
TODAY = dt.date(2026, 11, 28)


def _schools(stack: Stack, monkeypatch: pytest.MonkeyPatch, first_site: int) -> list[Path]:
    """Oakfield, Ash and Birch on the fixture's Bromcom school, each with its own site."""
    for name in PASSWORDS:
        monkeypatch.setenv(name, "fixture-password")
    folder = stack.root / f"sites-{first_site}"
    folder.mkdir()
    text = stack.school_file.read_text(encoding="utf-8")
    files = []
    for offset, (name, urn, password) in enumerate((
        ("Oakfield Primary School", 100001, "BROMCOM_PASSWORD_OAKFIELD"),
        ("Ash Primary School", 100002, PASSWORDS[0]),
        ("Birch Primary School", 100003, PASSWORDS[1]),
    )):  # fmt: skip
        site = first_site + offset
        path = folder / f"{name.split()[0].lower()}.yaml"
        path.write_text(
            text.replace("Oakfield Primary School", name)
            .replace("urn: 100001", f"urn: {urn}")
            .replace("parentpay_site_id: 5001", f"parentpay_site_id: {site}")
            .replace("BROMCOM_PASSWORD_OAKFIELD", password),
            encoding="utf-8",
        )
        stack.parentpay.add_site(site)
        files.append(path)
    return files


def _outcomes(plans: Path) -> list[tuple[Any, ...]]:
    """What each school's run came to, from run-results.json, without times or paths."""
    content = json.loads((plans / "run-results.json").read_text(encoding="utf-8"))
    return sorted(
        (r["school"]["urn"], r["status"], r["exit_code"], json.dumps(r["counts"], sort_keys=True))
        for r in content["results"]
    )


def _people(stack: Stack, site: int) -> list[tuple[str, str, Any]]:
    return sorted((p["mis_id"], p["status"], p["fields"]) for p in stack.parentpay.people(site))


def test_jobs_2_ends_as_jobs_1_does(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = _schools(stack, monkeypatch, 6001), _schools(stack, monkeypatch, 7001)
    ran = {}
    for jobs, files in (("1", one), ("2", two)):
        ran[jobs] = bromsync(
            "run", *map(str, files), "--jobs", jobs,
            "--state-dir", str(stack.root / f"state-{jobs}"), "--out", str(stack.root / f"plans-{jobs}"),
        )  # fmt: skip
        assert ran[jobs].exit_code == 3, ran[jobs].output  # 1007 is held back at every school
    assert _outcomes(stack.root / "plans-1") == _outcomes(stack.root / "plans-2")
    for offset in range(3):
        pushed = _people(stack, 6001 + offset)
        assert len(pushed) == 12
        assert pushed == _people(stack, 7001 + offset)
    # The same lines per school, whichever order they finished in.
    for jobs in ran:
        heads = sorted(line for line in ran[jobs].output.splitlines() if line[:2] == "! ")
        assert [h.split(" (")[0] for h in heads] == ["! Ash Primary School",
            "! Birch Primary School", "! Oakfield Primary School"]  # fmt: skip
    # A second run in workers finds nothing to do, as one in this process does.
    again = bromsync(
        "run", *map(str, two), "--jobs", "2", "--state-dir", str(stack.root / "state-2"),
        "--out", str(stack.root / "plans-2"),
    )  # fmt: skip
    assert again.exit_code == 3, again.output
    content = json.loads((stack.root / "plans-2" / "run-results.json").read_text(encoding="utf-8"))
    assert [r["counts"]["applied"] for r in content["results"]] == [0, 0, 0], content


def _holders(path: Path) -> list[int]:
    """The processes (other than this one) with `path` open."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:  # gone, or not ours to read
            continue
        if str(path) in links:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the worker through /proc")
def test_a_worker_killed_mid_run_fails_its_school_alone(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulators.bromcom import Fault

    files = _schools(stack, monkeypatch, 8001)
    state, plans = stack.root / "state-k", stack.root / "plans-k"
    # The first school to ask for Students waits; the others finish around it.
    stack.bromcom.inject(Fault.delay(120, entity="Students"))
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bromsync.py"), "run", *map(str, files), "--jobs", "2",
         "--state-dir", str(state), "--out", str(plans)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        stuck: list[int] = []
        while time.monotonic() < deadline:
            done = {int(p.name.split(".")[0]) for p in plans.glob("*.results.json")}
            waiting = [u for u in (100001, 100002, 100003) if u not in done]
            if len(waiting) == 1:
                stuck = _holders(state_path(state, waiting[0]))
                if stuck:
                    break
            time.sleep(0.1)
        assert len(stuck) == 1, f"no single worker left waiting: done {done}"
        os.kill(stuck[0], signal.SIGKILL)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, output
    [killed] = waiting
    lines = output.splitlines()
    [line] = [x for x in lines if f"({killed})" in x and x[:2] in ("✔ ", "! ", "✘ ")]
    assert line.startswith("✘ ") and "killed by SIGKILL" in line, output
    others = [x for x in lines if x[:2] == "! "]
    assert len(others) == 2, output  # the other two synced (1007 held back at each)
    for urn, site in zip((100001, 100002, 100003), (8001, 8002, 8003), strict=True):
        assert len(stack.parentpay.people(site)) == (0 if urn == killed else 12)
    # The failure is in the killed school's state and results, for status and the next run.
    with State(state_path(state, killed)) as opened:
        statuses = [s for (s,) in opened.con.execute("SELECT status FROM runs").fetchall()]
    assert "failed" in statuses, statuses
    results = json.loads((plans / f"{killed}.results.json").read_text(encoding="utf-8"))
    assert results["exit_code"] == 1 and "SIGKILL" in json.dumps(results)
    # The next run of that school plans what is left.
    again = bromsync("run", str(files[[100001, 100002, 100003].index(killed)]),
                     "--state-dir", str(state), "--out", str(plans))  # fmt: skip
    assert again.exit_code == 3, again.output
    assert len(stack.parentpay.people(8001 + [100001, 100002, 100003].index(killed))) == 12


def test_the_largest_school_starts_first(tmp_path: Path) -> None:
    # By the rows of each school's last fetch; a school never run goes after, by its file size.
    sizes = {100001: 5, 100002: 50, 100003: None, 100004: 20}
    state_dir = tmp_path / "state"
    for urn, rows in sizes.items():
        if rows is None:
            continue
        with State(state_path(state_dir, urn)) as state:
            state.start_run(f"r{urn}", urn=urn, school="S", command="run", today=TODAY)
            table = Table("Students", {"Id": "int"}, [{"Id": i} for i in range(rows)])
            state.save_raw(f"r{urn}", table, 0.1)
            state.finish_run(f"r{urn}", status="ok")
    assert school_size(state_path(state_dir, 100002)) == (1, 50)
    assert school_size(state_path(state_dir, 100003)) == (0, 0)
    schools = {}
    for at, urn in enumerate(sizes):
        path = tmp_path / f"{urn}.yaml"
        write_fixture_school_file(path, "http://127.0.0.1:1/x.asmx")
        path.write_text(
            path.read_text(encoding="utf-8").replace("urn: 100001", f"urn: {urn}"), encoding="utf-8"
        )
        schools[at] = load_school(path)
    order = [schools[at].urn for at in largest_first(schools, state_dir)]
    assert order == [100002, 100004, 100001, 100003]


def _in_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run bromsync with its output on a pseudo-terminal, as a person at a terminal sees it."""
    import pty
    import select

    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bromsync.py"), *args], stdin=subprocess.DEVNULL,
        stdout=child, stderr=child, env=env, close_fds=True,
    )  # fmt: skip
    os.close(child)
    out = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the terminal closed: bromsync has ended
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), out.decode("utf-8", "replace")
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_fleet_on_a_terminal_shows_a_live_line_per_running_school(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _schools(stack, monkeypatch, 9001)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")} | {"TERM": "xterm"}
    args = ["run", *map(str, files), "--jobs", "2", "--state-dir", str(stack.root / "st"),
            "--out", str(stack.root / "plans-t")]  # fmt: skip
    code, shown = _in_a_terminal(args, env)
    assert code == 3, shown
    assert "schools done, " in shown and "\x1b[" in shown  # the board, redrawn in place
    assert "… Ash Primary School · " in shown
    for name in ("Oakfield", "Ash", "Birch"):
        assert f"! {name} Primary School (" in shown
    assert "3 schools: 0 ok, 3 need attention, 0 failed in " in shown
    # The board is erased as the run ends: the tally is what the terminal shows last.
    assert "running" not in shown[shown.rindex("3 schools: ") :]
    # In a CI log the same run prints plain lines, each step of each school, and no board.
    plain = subprocess.run(
        [sys.executable, str(REPO / "bromsync.py"), *args], env=env | {"CI": "true"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert plain.returncode == 3, plain.stdout + plain.stderr
    assert "\x1b[" not in plain.stdout + plain.stderr and "schools done" not in plain.stderr
    assert "  Ash Primary School · fetch: " in plain.stderr
