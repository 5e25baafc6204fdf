"""How big a school's state file gets over many no-change runs (see bench/README.md).

    python bench/bench_state_size.py               # the 210-pupil primary: 1, 30 and 300 runs
    python bench/bench_state_size.py --runs 1 5 12 --size tiny

The first run syncs the generated school through both simulators on loopback. Bromcom's tables
from that run are then served from memory (as a recording would be replayed, keyed by entity
and filter), so the hundreds of runs that follow cost the engine's own work and ParentPay's
read of the site, not the Bromcom simulator writing DataSets. Each run after the first must
push nothing: they are the hourly runs of a school where nothing changed.

Prints, after each of the given run counts, the state file's size on disk (file and WAL) and
the rows of its per-run tables. Checks (correctness, not size) that past 30 runs the staged
rows no longer grow: the retention of docs/state.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent, HERE):  # the repo (engine, simulators) and the bench's own modules
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_sync import PASSWORD, PASSWORD_ENV, SEED, TODAY, TOKEN, saved_environ  # noqa: E402
from bench_timing import BenchError, check  # noqa: E402

from engine.commands.run import run_school  # noqa: E402
from engine.config.school import SchoolConfig, load_school  # noqa: E402
from engine.pipeline import Options  # noqa: E402
from engine.sources import SOURCES, Source, Table  # noqa: E402
from engine.state.store import KEEP_STAGED_RUNS as KEEP  # noqa: E402
from engine.state.store import state_path  # noqa: E402

__all__ = ["BenchError", "check_bounded", "main"]

ORG_ID = 40012
SITE = 7101
# A realistic allow-list: the conditions a school's kitchen must know of.
DIETARY_ALLOW = ("Nut Allergy", "Peanut Allergy", "Egg Allergy")
TABLES = ("runs", "fetches", "records", "check_results", "uploads", "upload_results")


class Replayed:
    """A Source that fetches each (entity, filter) from Bromcom once, then serves it from memory.

    The bench's stand-in for `simulate bromcom --replay`: the same answers every run, in-process.
    """

    def __init__(self) -> None:
        self.real: Source | None = None
        self.tables: dict[tuple[str, str], Table] = {}
        self.names: list[str] | None = None

    def for_school(self, school: SchoolConfig) -> Replayed:
        if self.names is None:
            self.real = SOURCES["bromcom"](school)
        return self

    def entities(self) -> list[str]:
        if self.names is None:
            assert self.real is not None
            self.names = self.real.entities()
        return list(self.names)

    def require(self, entities: Iterable[str]) -> None:
        if self.real is not None:
            self.real.require(entities)

    def fetch(self, entity: str, where: str = "") -> Table:
        key = (entity.lower(), where.strip())
        if key not in self.tables:
            check(self.real is not None, f"{entity} ({where!r}) was not fetched in the first run")
            assert self.real is not None
            self.tables[key] = self.real.fetch(entity, where)
        table = self.tables[key]
        return Table(table.entity, dict(table.columns), [dict(row) for row in table.rows])

    def close(self) -> None:
        if self.real is not None:
            self.real.close()
            self.real = None


def sizes_on_disk(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def row_counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]
    finally:
        con.close()


def measure(work: Path, size: str, marks: list[int]) -> list[dict[str, Any]]:
    from simulators.bromcom import BromcomSimulator
    from simulators.datagen import generate_school, write_school_file
    from simulators.parentpay import ParentPaySimulator

    os.environ.update({"BROMSYNC_TODAY": TODAY.isoformat(), PASSWORD_ENV: PASSWORD})
    summary = generate_school(
        work / "bromcom",
        org_id=ORG_ID,
        seed=SEED,
        size=size,
        today=TODAY,
        username=f"bench_{size}",
        password=PASSWORD,
        urn=100000 + ORG_ID % 1000,
    )
    out: list[dict[str, Any]] = []
    with (
        BromcomSimulator(work / "bromcom") as bromcom,
        ParentPaySimulator(work / "parentpay", token=TOKEN, sites=[SITE]) as parentpay,
    ):
        os.environ.update(
            {"BROMSYNC_PARENTPAY_URL": parentpay.url, "BROMSYNC_PARENTPAY_TOKEN": TOKEN}
        )
        school_file = work / "schools" / f"{size}.yaml"
        school_file.parent.mkdir(parents=True, exist_ok=True)
        write_school_file(
            school_file,
            summary,
            url=bromcom.url,
            password_env=PASSWORD_ENV,
            parentpay_site_id=SITE,
            dietary_allow=DIETARY_ALLOW,
        )
        school = load_school(school_file)
        replayed = Replayed()
        options = Options(state_dir=work / "state", source_factory=replayed.for_school)
        path = state_path(options.state_dir, school.urn)
        started = time.perf_counter()
        for n in range(1, max(marks) + 1):
            result = run_school(school, options)
            check(result.exit_code in (0, 3), f"run {n} of the {size} school: {result.message}")
            if n == 1:
                check(result.applied > 0, f"the first run applied nothing: {result.message}")
            else:
                check(result.applied == 0, f"run {n} applied {result.applied} operations")
            if n in marks:
                out.append(
                    {
                        "runs": n,
                        "bytes": sizes_on_disk(path),
                        "rows": row_counts(path),
                        "seconds": time.perf_counter() - started,
                    }
                )
    check_bounded(out)
    return out


def check_bounded(results: list[dict[str, Any]]) -> None:
    """Retention (docs/state.md): past 30 runs, the staged rows stop growing."""
    full = [r for r in results if r["runs"] >= KEEP]
    for r in full[1:]:
        for table in ("records", "fetches"):
            check(
                r["rows"][table] == full[0]["rows"][table],
                f"after {r['runs']} runs the state holds {r['rows'][table]:,} {table} rows, "
                f"not the {full[0]['rows'][table]:,} of the last {KEEP} runs",
            )


def render(size: str, results: list[dict[str, Any]]) -> str:
    head = ["runs", "state file", *TABLES, "elapsed s"]
    lines = [
        f"state file of the {size} school after n no-change runs (today {TODAY}):",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in results:
        cells = [str(r["runs"]), f"{r['bytes'] / 1e6:.2f} MB"]
        cells += [f"{r['rows'][t]:,}" for t in TABLES]
        cells.append(f"{r['seconds']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="primary", choices=["tiny", "primary", "secondary"])
    parser.add_argument(
        "--runs", type=int, nargs="+", default=[1, 30, 300], help="report after these many runs"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the data and state here")
    args = parser.parse_args(argv)
    marks = sorted(set(args.runs))
    check(marks[0] >= 1, "--runs counts start at 1")
    with saved_environ(), tempfile.TemporaryDirectory(prefix="bromsync-bench-") as tmp:
        work = (args.keep or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        print(render(args.size, measure(work, args.size, marks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
