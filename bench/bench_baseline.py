"""bromsync against the hand-written baseline (bench/handwritten.py), side by side.

    python bench/bench_baseline.py                       # primary and secondary, 3 runs each
    python bench/bench_baseline.py --sizes primary,secondary,large --repeats 5
    python bench/bench_baseline.py --fleet 50            # also a fleet of 50 with --jobs 1 and 2
    python bench/bench_baseline.py --quick               # tiny, once: checks the bench still runs

Each sync is its own process (`python bromsync.py run` or `python bench/handwritten.py`), so
its CPU time (user + system of it and of every process it started: `--jobs N`'s workers come
from a fork server, which this process adopts and waits for on Linux) and peak memory (maxrss
of the command's own process) include start-up, as a scheduled job pays them; the project's
modules are compiled once beforehand, as installing a package does. Both simulators run in
this process, so their work is not counted; for the fleet it is printed beside it (on 2 cores
it competes with the workers for the same cores).
The two tools are measured alternately, each repeat on a new ParentPay site and an empty state,
in three scenarios: the first sync (every record a create), a second with nothing changed, and
a third after 5% of the pupils were renamed in Bromcom. Timings are printed, never asserted;
what is checked is that both end with ParentPay holding the same people.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for folder in (REPO, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_timing import BenchError, check  # noqa: E402

TODAY = dt.date(2026, 11, 28)
SEED = 2026
PASSWORD_ENV = "BROMSYNC_BENCH_BROMCOM_PASSWORD"
PASSWORD = "bench-password"
TOKEN = "bench-token"
ORG_IDS = {"tiny": 41001, "primary": 41002, "secondary": 41003, "large": 41004}
SCENARIOS = ("first sync", "no change", "5% renamed")
TOOLS = ("bromsync", "baseline")


@dataclass
class Sample:
    cpu: float
    wall: float
    peak_mib: float


@dataclass
class Cell:
    """The samples of one tool in one scenario of one school size."""

    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


def _adopt_orphans() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux): `run --jobs N` forks its
    workers from a fork server that outlives it by a moment, and only a reaper that waits for
    the server counts the workers' CPU. False where the system has no such thing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


ADOPTS = _adopt_orphans()


def _reap_orphans(deadline: float) -> None:
    """Wait for every descendant left behind (a fork server), so its CPU is counted."""
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def measured(cmd: list[str], env: dict[str, str]) -> tuple[Sample, str]:
    """Run `cmd` as a child process: its CPU (with every process it started), wall time, its
    own peak memory, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    _reap_orphans(time.monotonic() + 10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc.returncode = os.waitstatus_to_exitcode(status)
    check(
        proc.returncode in (0, 3),
        f"{' '.join(cmd[1:3])} exited {proc.returncode}:\n{output[-3000:]}",
    )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # The peak is the command's own process (RUSAGE_CHILDREN's is the largest child ever).
    return Sample(cpu, wall, usage.ru_maxrss / 1024), output


class Bench:
    def __init__(self, work: Path, bromcom: Any, parentpay: Any) -> None:
        self.work, self.bromcom, self.parentpay = work, bromcom, parentpay
        self.sites = 8000
        # Compiled modules are cached (in __pycache__, as git ignores), as for an installed
        # bromsync, which pip compiles, even on a machine that sets PYTHONDONTWRITEBYTECODE.
        environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env = {
            **environ,
            "BROMSYNC_TODAY": TODAY.isoformat(),
            PASSWORD_ENV: PASSWORD,
            "BROMSYNC_PARENTPAY_URL": parentpay.url,
            "BROMSYNC_PARENTPAY_TOKEN": TOKEN,
        }

    def school_file(self, summary: Any, name: str) -> tuple[Path, int]:
        from simulators.datagen import write_school_file

        self.sites += 1
        self.parentpay.add_site(self.sites)
        path = self.work / "schools" / f"{name}-{self.sites}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_school_file(path, summary, url=self.bromcom.url, password_env=PASSWORD_ENV,
                          parentpay_site_id=self.sites)  # fmt: skip
        return path, self.sites

    def sync(self, tool: str, school_file: Path, site: int) -> Sample:
        where = self.work / "state" / str(site)
        if tool == "bromsync":
            cmd = [
                sys.executable,
                "bromsync.py",
                "run",
                str(school_file),
                "--state-dir",
                str(where),
            ]
        else:
            where.mkdir(parents=True, exist_ok=True)
            cmd = [
                sys.executable,
                str(HERE / "handwritten.py"),
                str(school_file),
                str(where / "snapshot.json"),
            ]
        sample, _ = measured(cmd, self.env)
        return sample

    def people(self, site: int) -> dict[str, Any]:
        return {p["mis_id"]: p for p in self.parentpay.people(site, status="all")}


def rename(data_dir: Path, org_id: int, share: float, seed: int) -> None:
    """Give `share` of the pupils a new legal surname in the simulator's data."""
    path = data_dir / str(org_id) / "Students.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    rows = content["rows"]
    for row in random.Random(seed).sample(rows, max(1, round(len(rows) * share))):
        row["LastName"] = f"{row.get('LastName') or 'X'}-Renamed"
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    stamp = path.stat().st_mtime + 2
    os.utime(path, (stamp, stamp))


def compare_size(bench: Bench, size: str, repeats: int) -> dict[tuple[str, str], Cell]:
    from simulators.datagen import generate_school

    data_dir = bench.work / "bromcom"
    org = ORG_IDS[size]
    summary = generate_school(data_dir, org_id=org, seed=SEED, size=size, today=TODAY,
                              username=f"bench_{size}", password=PASSWORD, urn=200000 + org % 1000)  # fmt: skip
    students = data_dir / str(org) / "Students.json"
    original = students.read_bytes()
    cells = {(s, t): Cell() for s in SCENARIOS for t in TOOLS}
    for repeat in range(repeats):
        order = TOOLS if repeat % 2 == 0 else TOOLS[::-1]  # alternate who goes first
        files = {tool: bench.school_file(summary, f"{size}-{tool}") for tool in TOOLS}
        for scenario in SCENARIOS:
            if scenario == "5% renamed":
                rename(data_dir, org, 0.05, seed=repeat)
            for tool in order:
                path, site = files[tool]
                cells[(scenario, tool)].samples.append(bench.sync(tool, path, site))
        students.write_bytes(original)
        stamp = students.stat().st_mtime + 2
        os.utime(students, (stamp, stamp))
        # Both must leave ParentPay with the same people; the engine holds back what its checks
        # flag (the baseline runs none), so it may hold fewer, never other or different ones.
        ours, theirs = (bench.people(files[t][1]) for t in TOOLS)
        check(bool(ours), f"{size}: bromsync left ParentPay empty")
        check(set(ours) <= set(theirs), f"{size}: bromsync pushed records the baseline did not")
        differ = [m for m, p in ours.items() if p["fields"] != theirs[m]["fields"]]
        check(not differ, f"{size}: {len(differ)} people differ between the two, e.g. {differ[:3]}")
    return cells


def fleet(bench: Bench, count: int) -> dict[str, list[float]]:
    """Wall time, CPU and the simulators' CPU of `run --jobs 1` and `--jobs 2` over `count`
    generated schools."""
    from simulators.datagen import generate_trust, write_school_file

    out: dict[str, list[float]] = {}
    for jobs in (1, 2):
        # The same schools for both (same seed and sizes), under their own OrgIDs and sites.
        summaries = generate_trust(bench.work / "bromcom", count=count, seed=SEED, today=TODAY,
                                   first_org_id=50000 + jobs * 1000)  # fmt: skip
        files, secrets = [], {}
        for summary in summaries:
            secrets[f"BENCH_FLEET_{summary.org_id}"] = summary.password
            bench.sites += 1
            bench.parentpay.add_site(bench.sites)
            path = bench.work / "fleet" / str(jobs) / f"{summary.urn}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_school_file(path, summary, url=bench.bromcom.url, parentpay_site_id=bench.sites,
                              password_env=f"BENCH_FLEET_{summary.org_id}")  # fmt: skip
            files.append(str(path))
        cmd = [sys.executable, "bromsync.py", "run", *files, "--jobs", str(jobs),
               "--state-dir", str(bench.work / "fleet-state" / str(jobs))]  # fmt: skip
        for scenario in ("first sync", "no change"):
            served = time.process_time()  # this process: the two simulators' threads
            sample, _ = measured(cmd, {**bench.env, **secrets})
            out[f"{scenario}, --jobs {jobs}"] = [
                sample.wall,
                sample.cpu,
                time.process_time() - served,
            ]
    return out


def render(results: dict[str, dict[tuple[str, str], Cell]], repeats: int) -> str:
    head = ("school", "scenario", "bromsync CPU s", "baseline CPU s", "CPU ratio",
            "bromsync wall s", "baseline wall s", "wall ratio", "peak MiB (ours / theirs)")  # fmt: skip
    rows = []
    for size, cells in results.items():
        for scenario in SCENARIOS:
            ours, theirs = cells[(scenario, "bromsync")], cells[(scenario, "baseline")]
            rows.append((
                size, scenario,
                f"{ours.median('cpu'):.2f}", f"{theirs.median('cpu'):.2f}",
                f"{ours.median('cpu') / theirs.median('cpu'):.1f}x",
                f"{ours.median('wall'):.2f}", f"{theirs.median('wall'):.2f}",
                f"{ours.median('wall') / theirs.median('wall'):.1f}x",
                f"{ours.median('peak_mib'):.0f} / {theirs.median('peak_mib'):.0f}",
            ))  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"(medians of {repeats} runs each, measured alternately)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="primary,secondary",
        help="comma-separated: tiny, primary, secondary, large",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--fleet", type=int, default=0, help="also time a fleet of N schools, --jobs 1 and 2"
    )
    parser.add_argument("--quick", action="store_true", help="tiny, once (a smoke run)")
    args = parser.parse_args(argv)
    sizes = ["tiny"] if args.quick else args.sizes.split(",")
    repeats = 1 if args.quick else args.repeats
    from simulators.bromcom import BromcomSimulator
    from simulators.parentpay import ParentPaySimulator

    print(f"bromsync vs the hand-written baseline: {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, today {TODAY}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bromsync-baseline-") as tmp:
        work = Path(tmp)
        (work / "bromcom").mkdir()
        with (
            BromcomSimulator(work / "bromcom") as bromcom,
            ParentPaySimulator(work / "parentpay", token=TOKEN) as parentpay,
        ):
            bench = Bench(work, bromcom, parentpay)
            subprocess.run([sys.executable, "-m", "compileall", "-q", "bromsync.py", "engine", HERE],
                           env=bench.env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            results = {size: compare_size(bench, size, repeats) for size in sizes}
            print(render(results, repeats))
            if args.fleet:
                print()
                timed = fleet(bench, args.fleet)
                for what, (wall, cpu, served) in timed.items():
                    print(f"fleet of {args.fleet}, {what}: {wall:.1f} s wall, {cpu:.1f} s CPU "
                          f"(the simulators serving it: {served:.1f} s CPU)")  # fmt: skip
                for scenario in ("first sync", "no change"):
                    ratio = timed[f"{scenario}, --jobs 2"][0] / timed[f"{scenario}, --jobs 1"][0]
                    print(f"fleet of {args.fleet}, {scenario}: --jobs 2 takes {ratio:.0%} of "
                          "--jobs 1's wall time")  # fmt: skip
                if not ADOPTS:
                    print(
                        "(this system cannot adopt the fork server: --jobs 2's CPU misses its workers)"
                    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"benchmark failed: {exc}")
