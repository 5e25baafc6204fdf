"""Many schools at once: sharding, each school's own problems, parallel jobs and the combined
exit code (docs/cli.md, "Several schools")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from engine.commands.plan import plan_school
from engine.commands.result import (
    Invocation,
    SchoolResult,
    fail_with,
    finish_school,
    for_school,
    timed,
)
from engine.commands.run import run_school
from engine.config.environment import smtp_url
from engine.config.school import SchoolConfig, load_school
from engine.config.yamlfile import load_yaml
from engine.errors import ConfigError, ExitCode
from engine.pipeline import Options

# -- shares ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """Share `index` of `count` (1 <= index <= count), as `--shard I/N` names it."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ConfigError(
                f"--shard {text!r} must look like I/N, e.g. 2/4 (share 2 of 4)"
            ) from None
        if not 1 <= index <= count:
            raise ConfigError(f"--shard {text}: I must be between 1 and N (1 <= I <= N)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, urn: int | None) -> bool:
        """Whether a school of this URN falls in this share: the share is the URN's remainder
        divided by N, plus one. A file whose URN cannot be read falls in share 1, so the
        problem is reported once, by one of the N runs."""
        share = 1 if urn is None else urn % self.count + 1
        return share == self.index


def file_urn(path: Path) -> int | None:
    """The `school.urn` a school file gives, read without validating the rest of it; None
    when the file cannot be read or names no whole-number URN."""
    data, _, _ = load_yaml(path)
    school = data.get("school") if isinstance(data, dict) else None
    urn = school.get("urn") if isinstance(school, dict) else None
    return urn if isinstance(urn, int) and not isinstance(urn, bool) and urn > 0 else None


def pick_shard(files: Sequence[Path], shard: str | None) -> list[Path]:
    """The files of the schools in share "I/N" (docs/cli.md, `--shard`), in the order given.

    The N shares partition the schools by URN, whatever the order or number of files given:
    a school falls in the same share in every run with the same N.
    """
    if shard is None:
        return list(files)
    chosen = Shard.parse(shard)
    return [path for path in files if chosen.holds(file_urn(path))]


# -- each school's own problems ---------------------------------------------------------------


_OTHERS = "; the other schools were not held up by it"


def _not_run(path: Path, error: ConfigError, others: str) -> SchoolResult:
    """A school whose file cannot be loaded: it fails alone (exit 2), named as well as the
    file allows, with the file's problems and the fix."""
    data, _, _ = load_yaml(path)
    school = data.get("school") if isinstance(data, dict) else None
    name = school.get("name") if isinstance(school, dict) else None
    message = (
        f"not run: {error}\n"
        f"Fix the file (`bromsync validate {path}` lists its problems again){others}."
    )
    return SchoolResult(
        name if isinstance(name, str) and name.strip() else str(path),
        file_urn(path),
        ExitCode.CONFIG,
        message,
        error=error,
    )


def load_schools(files: Sequence[Path]) -> list[SchoolConfig | SchoolResult]:
    """Each file loaded, in the order given; a file that cannot be loaded (unreadable, invalid)
    is its school's failed result (exit 2) and never stops the others."""
    loaded: list[SchoolConfig | SchoolResult] = []
    others = _OTHERS if len(files) > 1 else ""
    for path in files:
        try:
            loaded.append(load_school(path))
        except ConfigError as exc:
            loaded.append(_not_run(path, exc, others))
    return loaded


def common_problems(options: Options, *, command: str) -> list[str]:
    """What every school needs and would fail on alike: ParentPay's URL and token, read by
    `run` and by `plan` unless --offline (plans read ParentPay before they diff), and for
    `run` the SMTP URL its results messages go through."""
    problems: list[str] = []
    if command == "run" or not options.offline:
        try:
            options.open_target().close()
        except ConfigError as exc:
            problems += exc.problems
    if command == "run":
        try:
            smtp_url()
        except ConfigError as exc:
            problems += exc.problems
    return problems


def own_problem(school: SchoolConfig, others: str = "") -> ConfigError | None:
    """A school's own configuration problem found before it runs: its password variable unset
    or empty. `others` ends the message (in a batch: that the others ran)."""
    try:
        school.bromcom.password()
    except ConfigError as exc:
        return ConfigError(
            f"not run: {str(exc).rstrip('.')}. Set it (for a scheduled run: add it to the "
            f"job's secrets) and run this school again{others}.",
            school=school.name,
        )
    return None


def preflight(
    loaded: Sequence[SchoolConfig | SchoolResult], options: Options, *, command: str
) -> dict[int, ConfigError]:
    """Before any school runs: a problem common to all (ParentPay's URL or token) stops
    everything (ConfigError, exit 2, naming every problem found, the schools' own too);
    otherwise each school's own problem, by its position in `loaded`, to fail it alone."""
    common = common_problems(options, command=command)
    others = "" if common or len(loaded) <= 1 else _OTHERS
    own: dict[int, ConfigError] = {}
    for at, school in enumerate(loaded):
        if isinstance(school, SchoolConfig) and (problem := own_problem(school, others)):
            own[at] = problem
    if common:
        also = [
            f"{school.name}: {school.message.splitlines()[0]}"
            if isinstance(school, SchoolResult)
            else f"{school.path}: {own[at]}"
            for at, school in enumerate(loaded)
            if isinstance(school, SchoolResult) or at in own
        ]
        problems = common + also
        raise ConfigError("nothing was run:\n" + "\n".join(problems), problems=problems)
    return own


OnResult = Callable[[SchoolResult], None]


def run_files(
    files: Sequence[Path],
    options: Options,
    *,
    command: str,
    jobs: int = 1,
    on_result: OnResult | None = None,
) -> list[SchoolResult]:
    """Plan (`command="plan"`) or run the school of each file, `jobs` at a time; one result
    per file, in the order given. A school's own problem (its file invalid or unreadable, its
    password variable unset or empty) fails that school alone with exit 2, recorded in its
    state when the file could be loaded; a problem common to all raises before any runs.

    With `jobs` above 1 the schools run in that many worker processes, largest first
    (engine/commands/workers.py), so a fleet uses every core; a worker that dies fails its own
    school alone. Tests that give `options` a source or target factory run in threads instead.

    Each result is finished (its results files written and its message sent, for `run`) and
    handed to `on_result` as soon as its school is done, in the order the schools finish.
    """
    loaded = load_schools(files)
    own = preflight(loaded, options, command=command)
    work = plan_school if command == "plan" else run_school
    results: dict[int, SchoolResult] = {}

    def told(at: int, result: SchoolResult) -> None:
        results[at] = result
        if on_result is not None:
            on_result(result)

    def here(at: int) -> SchoolResult:
        """A school that needs no worker: its file did not load, or its password is unset."""
        school = loaded[at]
        if isinstance(school, SchoolResult):
            school.command, school.school_file = command, files[at]
            return finish_school(school, options)
        assert isinstance(school, SchoolConfig)
        return finish_school(for_school(school, options, command, fail_with(own[at])), options)

    def one(at: int) -> SchoolResult:
        school = loaded[at]
        if isinstance(school, SchoolResult) or at in own:
            return here(at)
        return work(school, options)

    if jobs <= 1 or len(loaded) <= 1:
        for at in range(len(loaded)):
            told(at, one(at))
    elif options.source_factory is not None or options.target_factory is not None:
        # A test's factory cannot cross into another process: its schools share this one.
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="school") as pool:
            futures = {pool.submit(one, at): at for at in range(len(loaded))}
            for future in as_completed(futures):
                told(futures[future], future.result())
    else:
        # Only a fleet run needs the worker processes' machinery.
        from engine.commands.workers import largest_first, run_in_workers

        runnable: dict[int, SchoolConfig] = {}
        for at, school in enumerate(loaded):
            if isinstance(school, SchoolConfig) and at not in own:
                runnable[at] = school
            else:
                told(at, here(at))
        order = largest_first(runnable, options.state_dir)
        run_in_workers(
            [(at, runnable[at]) for at in order],
            options,
            command=command,
            jobs=jobs,
            on_result=told,
            others=_OTHERS,
        )
    return [results[at] for at in range(len(loaded))]


def sync_files(
    files: Sequence[Path],
    options: Options,
    *,
    command: str,
    jobs: int = 1,
    on_result: OnResult | None = None,
) -> Invocation:
    """`run_files` timed as one invocation; for `run`, `<DIR>/run-results.json` is written."""
    return timed(
        command,
        options,
        lambda: run_files(files, options, command=command, jobs=jobs, on_result=on_result),
    )
