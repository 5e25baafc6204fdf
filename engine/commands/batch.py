"""Many schools at once: sharding, parallel jobs and the combined exit code (docs/cli.md)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.commands.plan import plan_school
from engine.commands.result import SchoolResult
from engine.commands.run import run_school
from engine.config.environment import smtp_url
from engine.config.school import SchoolConfig
from engine.errors import ConfigError
from engine.pipeline import Options


def pick_shard(files: Sequence[Path], shard: str | None) -> list[Path]:
    """The I-th of N shares of `files` ("I/N", 1-based), taken round-robin in sorted order."""
    if shard is None:
        return list(files)
    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {shard!r} must look like I/N, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise ConfigError(f"--shard {shard}: I must be between 1 and N")
    ordered = sorted(files, key=str)
    return ordered[index - 1 :: count]


def preflight(schools: Sequence[SchoolConfig], options: Options, *, command: str) -> None:
    """Every variable the run will need is set: docs/cli.md, a configuration error (exit 2)
    stops before any school runs, rather than after the first schools have synced."""
    problems: list[str] = []
    for school in schools:
        try:
            school.bromcom.password()
        except ConfigError as exc:
            problems.append(f"{school.path}: {exc}")
    if command == "run" or not options.offline:  # plans read ParentPay before they diff
        try:
            options.open_target().close()
        except ConfigError as exc:
            problems += exc.problems
    if command == "run":  # a run will send the results messages
        try:
            smtp_url()
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError("nothing was run:\n" + "\n".join(problems), problems=problems)


def run_schools(
    schools: Sequence[SchoolConfig], options: Options, *, command: str, jobs: int = 1
) -> list[SchoolResult]:
    """Plan (`command="plan"`) or run each school, `jobs` at a time; results in input order."""
    preflight(schools, options, command=command)
    work = plan_school if command == "plan" else run_school
    if jobs <= 1 or len(schools) <= 1:
        return [work(school, options) for school in schools]
    # Threads suffice: the work is network and DuckDB time, and each school has its own file.
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="school") as pool:
        return list(pool.map(lambda school: work(school, options), schools))
