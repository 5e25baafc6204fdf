"""Benchmarks of a whole sync, on loopback, with generated schools (see bench/README.md).

    python bench/bench_sync.py            # primary (210 pupils) and secondary (2,000 pupils)
    python bench/bench_sync.py --quick    # the tiny school, once each: checks the bench still runs

Prints medians of repeated runs: the machine these run on is small and noisy, so one run
proves little. Timings are reported, never asserted; what is asserted is correctness (a second
run applies nothing and re-sends nothing ParentPay already acknowledged).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent, HERE):  # the repo (engine, simulators) and the bench's own modules
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_compare import bulk_vs_row_by_row, parse_vs_zeep  # noqa: E402
from bench_timing import BenchError, Row, check, once, peak_kib, render  # noqa: E402

from engine.commands.plan import plan_school  # noqa: E402
from engine.commands.result import SchoolResult  # noqa: E402
from engine.commands.run import run_school  # noqa: E402
from engine.config.school import load_school  # noqa: E402
from engine.pipeline import Options  # noqa: E402
from engine.transform.mapping import load_mappings  # noqa: E402

__all__ = ["BenchError", "check_second_run", "main"]

TODAY = dt.date(2026, 11, 28)
SEED = 2026
ORG_IDS = {"tiny": 40001, "primary": 40002, "secondary": 40003}
PASSWORD_ENV = "BROMSYNC_BENCH_BROMCOM_PASSWORD"
PASSWORD = "bench-password"
TOKEN = "bench-token"
# What each stage's time covers: a stage ends when its last event arrives.
STAGES = {
    "fetch": "fetch from Bromcom",
    "map": "stage raw rows + map",
    "plan": "diff, plan, report",
    "push": "push to ParentPay",
}


@contextmanager
def saved_environ() -> Iterator[None]:
    # main() is also called in-process by the smoke test; leave the environment as found.
    before = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


# -- the sync itself -----------------------------------------------------------------------


@dataclass
class Bench:
    work: Path
    bromcom: Any
    parentpay: Any
    rows: list[Row] = field(default_factory=list)
    _sites: int = 0

    def school_file(self, summary: Any, name: str) -> tuple[Path, int]:
        """A school file for `summary` pointing at a ParentPay site nobody has used yet."""
        from simulators.datagen import write_school_file

        self._sites += 1
        site = 7000 + self._sites
        self.parentpay.add_site(site)
        path = self.work / "schools" / f"{name}-{site}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_school_file(
            path, summary, url=self.bromcom.url, password_env=PASSWORD_ENV, parentpay_site_id=site
        )
        return path, site

    def operations_sent(self, site: int) -> int:
        return sum(
            r.op_count or 0
            for r in self.parentpay.requests
            if r.method == "POST" and f"/sites/{site}/" in r.path
        )


def sync_size(bench: Bench, size: str, repeats: int) -> tuple[Any, Path]:
    """plan, first run and second run of one generated school, `repeats` times each."""
    from simulators.datagen import generate_school

    seconds, summary = once(
        generate_school,
        bench.work / "bromcom",
        org_id=ORG_IDS[size],
        seed=SEED,
        size=size,
        today=TODAY,
        username=f"bench_{size}",
        password=PASSWORD,
        urn=100000 + ORG_IDS[size] % 1000,
    )
    bench.rows.append(Row("generate the school (datagen)", size, [seconds]))
    got = [sync_once(bench, summary, size, i) for i in range(repeats)]
    first, second = got[-1]["first"], got[-1]["second"]
    note = first.message.replace("summary: ", "")[:90]
    resent = len(second.rejected)
    bench.rows += [
        Row("plan, first time (empty state)", size, [g["plan_s"] for g in got]),
        Row("run, first time (all creates)", size, [g["first_s"] for g in got], note),
        Row(
            "run, second time (no changes)",
            size,
            [g["second_s"] for g in got],
            f"0 applied, {resent} rejected ones re-sent" if resent else "0 pushed",
        ),
    ]
    for stage, label in STAGES.items():
        bench.rows.append(Row(f"  first run: {label}", size, [g["stages"][stage] for g in got]))
    return summary, got[-1]["file"]


def sync_once(bench: Bench, summary: Any, size: str, i: int) -> dict[str, Any]:
    path, site = bench.school_file(summary, size)
    school = load_school(path)
    # A new state folder and ParentPay site each time: every plan and first run starts empty.
    plan_dir, run_dir = (
        bench.work / "state" / f"{size}-plan-{i}",
        bench.work / "state" / f"{size}-run-{i}",
    )
    plan_s, planned = once(
        plan_school, school, Options(state_dir=plan_dir, out_dir=bench.work / "plans")
    )
    check(
        planned.exit_code in (0, 3) and planned.plan is not None and not planned.plan.blocked,
        f"plan of the {size} school failed: {planned.message}",
    )
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()

    def record(event: Any) -> None:
        marks.append((event.stage, time.perf_counter() - started))

    first_s, first = once(run_school, school, Options(state_dir=run_dir, on_event=record))
    check(
        first.exit_code in (0, 3) and first.applied > 0,
        f"first run of the {size} school: {first.message}",
    )
    sent_before = bench.operations_sent(site)
    check(
        sent_before == first.applied + len(first.rejected),
        f"first run of the {size} school sent {sent_before} operations, not what it planned",
    )
    second_s, second = once(run_school, school, Options(state_dir=run_dir))
    check_second_run(size, first, second, bench.operations_sent(site) - sent_before)
    return {
        "file": path,
        "plan_s": plan_s,
        "first_s": first_s,
        "second_s": second_s,
        "first": first,
        "second": second,
        "stages": stage_times(marks, first_s),
    }


def check_second_run(size: str, first: SchoolResult, second: SchoolResult, sent: int) -> None:
    """Nothing changed in Bromcom, so nothing ParentPay acknowledged may be sent again.

    An operation ParentPay rejected in the first run (e.g. a payer mobile holding two numbers,
    sent as it is) is still owed, and bromsync sends it again: those, and only those, may go.
    """
    check(second.exit_code in (0, 3), f"second run of the {size} school: {second.message}")
    check(
        second.applied == 0, f"second run of the {size} school applied {second.applied} operations"
    )
    rejected_before = sorted(r["mis_id"] for r in first.rejected)
    check(
        sorted(r["mis_id"] for r in second.rejected) == rejected_before
        and sent == len(rejected_before),
        f"second run of the {size} school sent {sent} operations; only the {len(rejected_before)} "
        "rejected in the first run may be sent again",
    )


def stage_times(marks: list[tuple[str, float]], total: float) -> dict[str, float]:
    """Seconds per pipeline stage, from when each stage's last event arrived."""
    ends: dict[str, float] = {}
    for stage, at in marks:
        ends[stage] = at
    fetch, mapped = ends.get("fetch", 0.0), ends.get("map", 0.0)
    planned = ends.get("plan", mapped)
    return {
        "fetch": fetch,
        "map": mapped - fetch,
        "plan": planned - mapped,
        "push": total - planned,
    }


def demo_path(bench: Bench, repeats: int) -> None:
    """`bromsync demo` as the CLI runs it: generate a primary school, two syncs, the report."""
    from simulators.demo import run_demo

    out: list[str] = []
    demo = Row("bromsync demo (generate, 2 syncs, report)", "primary")
    codes = []
    for i in range(repeats):
        seconds, code = once(
            run_demo, bench.work / f"demo-{i}", seed=SEED, show_sensitive=False, echo=out.append
        )
        demo.seconds.append(seconds)
        codes.append(code)
    check(codes == [0] * repeats, f"bromsync demo exited {codes}: " + "\n".join(out[-5:]))
    second = [line for line in out if "second sync:" in line]
    demo.note = second[-1].strip().split(";")[0] if second else ""
    bench.rows.append(demo)


# -- memory, in a process of its own ------------------------------------------------------


def peak_rss(bench: Bench, summary: Any, size: str) -> None:
    path, _ = bench.school_file(summary, f"{size}-rss")
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--rss-child",
            str(path),
            str(bench.work / "state" / "rss"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=600,
        check=False,
    )
    check(proc.returncode == 0, f"the memory run failed: {proc.stderr[-2000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    bench.rows.append(
        Row(
            "peak RSS of a first run (subprocess)",
            size,
            [],
            f"{got['peak_kb'] / 1024:.0f} MB (after imports: {got['imports_kb'] / 1024:.0f} MB)",
        )
    )


def rss_child(school_file: str, state_dir: str) -> int:
    import duckdb  # noqa: F401  - the libraries a run loads belong to the baseline
    import zeep  # noqa: F401

    imports = peak_kib()
    result = run_school(load_school(Path(school_file)), Options(state_dir=Path(state_dir)))
    if result.exit_code not in (0, 3):
        print(result.message, file=sys.stderr)
        return 1
    print(json.dumps({"imports_kb": imports, "peak_kb": peak_kib()}))
    return 0


# -- output ---------------------------------------------------------------------------------


def sizes_table(summary: Any, school_file: Path) -> str:
    school = load_school(school_file)
    fetched = {e.lower() for m in load_mappings(school.options) for e in m.entities()}
    lines = [
        f"rows per entity, {summary.size} school ({summary.name}); * = fetched by its mappings"
    ]
    for entity, count in sorted(summary.counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {'*' if entity.lower() in fetched else ' '} {entity:<31}{count:>7,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="the tiny school, once each (a smoke run)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="runs per measure (default 5; 3 for the secondary)",
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the generated data, state and plans here"
    )
    parser.add_argument(
        "--rss-child", nargs=2, metavar=("SCHOOL_FILE", "STATE_DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.rss_child:
        return rss_child(*args.rss_child)
    sizes = ["tiny"] if args.quick else ["primary", "secondary"]
    repeats = {
        size: args.repeats or (1 if args.quick else 3 if size == "secondary" else 5)
        for size in sizes
    }
    with saved_environ(), tempfile.TemporaryDirectory(prefix="bromsync-bench-") as tmp:
        work = (args.keep or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        print(
            f"bromsync benchmarks: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"today {TODAY}; runs per measure: {', '.join(f'{s} {n}' for s, n in repeats.items())}"
        )
        rows, sizes_text = measure(work, sizes, repeats, args.quick)
        print(render(rows))
        print()
        print(sizes_text)
    return 0


def measure(
    work: Path, sizes: list[str], repeats: dict[str, int], quick: bool
) -> tuple[list[Row], str]:
    from simulators.bromcom import BromcomSimulator
    from simulators.parentpay import ParentPaySimulator

    os.environ.update({"BROMSYNC_TODAY": TODAY.isoformat(), PASSWORD_ENV: PASSWORD})
    (work / "bromcom").mkdir(exist_ok=True)
    with (
        BromcomSimulator(work / "bromcom") as bromcom,
        ParentPaySimulator(work / "parentpay", token=TOKEN) as parentpay,
    ):
        os.environ.update(
            {"BROMSYNC_PARENTPAY_URL": parentpay.url, "BROMSYNC_PARENTPAY_TOKEN": TOKEN}
        )
        bench = Bench(work, bromcom, parentpay)
        demo_path(bench, 1 if quick else repeats.get("primary", 5))
        os.environ.update(
            {"BROMSYNC_PARENTPAY_URL": parentpay.url, "BROMSYNC_PARENTPAY_TOKEN": TOKEN}
        )
        for size in sizes:
            summary, school_file = sync_size(bench, size, repeats[size])
        big = sizes[-1]
        peak_rss(bench, summary, big)
        n = 1 if quick else max(repeats[big], 5)  # cheap measures: a few more runs
        login = {"schoolID": ORG_IDS[big], "username": f"bench_{big}", "password": PASSWORD}
        rows, table = parse_vs_zeep(bromcom.url, big, n, **login)
        bench.rows += rows
        duck = work / "state" / "compare" / f"{big}.duckdb"
        bench.rows += bulk_vs_row_by_row(table, duck, big, n)
    return bench.rows, sizes_table(summary, school_file)


if __name__ == "__main__":
    sys.exit(main())
