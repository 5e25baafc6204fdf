"""Schools in worker processes, for `--jobs N` above 1 (docs/cli.md, "Several schools").

Mapping, checks and DuckDB are CPU work that threads cannot spread over cores, so each school
runs in a process of its own, at most `jobs` at once, largest first. The processes are forked
from a server that imported the engine once ('forkserver'; 'spawn' where there is none), so a
school pays no start-up. Each worker sends its school's progress events and, at the end, its
finished result to the parent over its own pipe; the parent hands both on as they come.

One school's worker that dies (a crash, killed for memory) fails that school alone. Ctrl-C or
SIGTERM interrupts every worker as Ctrl-C interrupts a single school, so what each leaves is
what any cut-off run leaves: acknowledged batches recorded, a plan file `apply` can finish.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import Any

import duckdb

from engine.commands.plan import plan_school
from engine.commands.result import SchoolResult, fail_with, failed, finish_school, for_school
from engine.commands.run import run_school
from engine.config.school import SchoolConfig
from engine.errors import BromsyncError
from engine.events import Event, ignore
from engine.pipeline import Options
from engine.secrets import scrub_known
from engine.state.store import state_path

# What the fork server imports once, so that no worker imports it again.
PRELOAD = ["engine.commands.workers", "engine.sources.bromcom", "engine.targets.parentpay"]
STOP_GRACE_SECONDS = 60.0  # after Ctrl-C or SIGTERM: how long the workers get to stop cleanly


# -- largest first ----------------------------------------------------------------------------


def school_size(state: Path) -> tuple[int, int]:
    """How big a school is, to start the largest first: (1, rows) with the row count of its
    last fetch in its state file, else (0, the state file's size), (0, 0) with no state."""
    if not state.is_file():
        return (0, 0)
    try:
        con = duckdb.connect(str(state), read_only=True)
        try:
            row = con.execute(
                "SELECT sum(row_count) FROM fetches WHERE run_id = (SELECT f.run_id FROM "
                "fetches f JOIN runs r USING (run_id) ORDER BY r.started_at DESC LIMIT 1)"
            ).fetchone()
        finally:
            con.close()
    except duckdb.Error:  # in use by another run, from another version: the size will do
        row = None
    if row and row[0] is not None:
        return (1, int(row[0]))
    return (0, state.stat().st_size)


def largest_first(schools: dict[int, SchoolConfig], state_dir: Path) -> list[int]:
    """The keys of `schools`, largest school first; schools alike keep the order given."""
    sizes = {at: school_size(state_path(state_dir, s.urn)) for at, s in schools.items()}
    return sorted(schools, key=lambda at: sizes[at], reverse=True)


# -- what crosses between processes -----------------------------------------------------------


def _read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _rebuilt_error(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class _Pickler(pickle.Pickler):
    """Pickles what a school's task and result hold: read-only mappings as mappings, and
    errors whatever their constructor asks for (pickle would call it with the message alone)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, MappingProxyType):
            return (_read_only, (dict(obj),))
        if isinstance(obj, BaseException):
            return (_rebuilt_error, (type(obj), obj.args, dict(obj.__dict__)))
        return NotImplemented


def dumps(value: Any) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


@dataclass(frozen=True)
class Task:
    """One school for one worker, with the folder and environment the command was given."""

    school: SchoolConfig
    options: Options  # without its callables: the worker sends its events to the parent
    command: str
    cwd: str
    env: dict[str, str]


# -- the worker -------------------------------------------------------------------------------


def _stop_once(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM in a worker: interrupt the school once, as Ctrl-C would, and let it
    unwind (its state closed) without a second signal cutting that short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _crash_file(school: SchoolConfig) -> str:
    """An unexpected error's traceback, for the maintainers, with no secret in it."""
    fd, name = tempfile.mkstemp(prefix="bromsync-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as log:
        log.write(scrub_known(f"school: {school.name} ({school.urn})\n\n{traceback.format_exc()}"))
    return name


def work_in_child(conn: Connection, payload: bytes) -> None:
    """A worker's whole life: run one school, sending its events, then its finished result."""
    signal.signal(signal.SIGINT, _stop_once)
    signal.signal(signal.SIGTERM, _stop_once)
    task: Task = pickle.loads(payload)
    os.chdir(task.cwd)  # a fork server's children start where it started, with its variables
    os.environ.clear()
    os.environ.update(task.env)
    lock = threading.Lock()  # events come from the fetch threads too

    def send(event: Event) -> None:
        with lock:
            conn.send(("event", event))

    options = replace(task.options, on_event=send)
    work = plan_school if task.command == "plan" else run_school
    try:
        message: tuple[str, Any] = ("result", work(task.school, options))
    except KeyboardInterrupt:
        return  # the parent is stopping every school, and says so
    except Exception:  # noqa: BLE001 - an unexpected error fails this school alone
        message = ("crashed", _crash_file(task.school))
    with lock:
        conn.send_bytes(dumps(message))
    conn.close()


# -- the parent -------------------------------------------------------------------------------


def _context() -> Any:
    """The 'forkserver' context, its server started with the engine imported; else 'spawn'."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    # The server is a new interpreter that (in Python 3.11) is not given this one's sys.path:
    # it finds the engine where this process found it.
    root = str(Path(__file__).resolve().parents[2])
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, before) if p)
    try:
        forkserver.ensure_running()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    return ctx


@dataclass
class _Worker:
    at: int
    school: SchoolConfig
    process: Any
    conn: Connection
    message: tuple[str, Any] | None = None


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _lost(worker: _Worker, options: Options, command: str, others: str) -> SchoolResult:
    """The result of a school whose worker ended without one: exit 1, recorded in its state."""
    school = worker.school
    if worker.message is not None and worker.message[0] == "unreadable":
        what = (
            f"its result could not be read from the worker process ({worker.message[1]}). "
            "Please report this to the bromsync maintainers"
        )
    elif worker.message is not None and worker.message[0] == "crashed":
        what = (
            f"bromsync failed unexpectedly; the traceback was written to {worker.message[1]}. "
            "Please send that file to the bromsync maintainers"
        )
    else:
        what = (
            "the worker process syncing this school stopped before it finished "
            f"({_how(worker.process.exitcode)}; for example killed for lack of memory)"
        )
    error = BromsyncError(
        f"failed: {what}. What ParentPay acknowledged is recorded in the school's state, and "
        f"the next `bromsync {command}` of this school plans what is left{others}.",
        school=school.name,
    )
    try:
        return finish_school(for_school(school, options, command, fail_with(error)), options)
    except Exception:  # noqa: BLE001 - its state may be what killed it: report it without
        result = failed(school.name, school.urn, error)
        result.command, result.school_file = command, school.path
        return finish_school(result, options)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job) stops the workers as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _ready(running: dict[Connection, _Worker], timeout: float | None = None) -> list[_Worker]:
    """The workers with something to read (an event, a result, or their end)."""
    return [running[conn] for conn in wait(list(running), timeout) if isinstance(conn, Connection)]


def _stop(running: dict[Connection, _Worker]) -> None:
    """Interrupt every worker, give them STOP_GRACE_SECONDS to unwind, then kill the rest."""
    for worker in running.values():
        if worker.process.is_alive():
            os.kill(worker.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while running and (left := deadline - time.monotonic()) > 0:
        for worker in _ready(running, left):
            try:
                worker.conn.recv_bytes()  # read on, so a worker stuck sending can end
            except (EOFError, OSError):
                running.pop(worker.conn).process.join()
    for worker in running.values():
        worker.process.kill()
        worker.process.join()


def run_in_workers(
    tasks: Sequence[tuple[int, SchoolConfig]],
    options: Options,
    *,
    command: str,
    jobs: int,
    on_result: Callable[[int, SchoolResult], None],
    others: str,
) -> None:
    """Run each (position, school) of `tasks`, in that order, in at most `jobs` worker
    processes; events go to `options.on_event` and each result to `on_result` as it comes."""
    ctx = _context()
    portable = replace(options, on_event=ignore)
    env, cwd = dict(os.environ), os.getcwd()
    pending = list(reversed(tasks))
    running: dict[Connection, _Worker] = {}

    def start(at: int, school: SchoolConfig) -> None:
        ours, theirs = ctx.Pipe(duplex=False)
        payload = dumps(Task(school, portable, command, cwd, env))
        process = ctx.Process(
            target=work_in_child, args=(theirs, payload), name=f"school-{school.urn}", daemon=True
        )
        process.start()
        theirs.close()  # the parent's copy: the pipe then ends when the worker does
        running[ours] = _Worker(at, school, process, ours)

    def ended(worker: _Worker) -> None:
        worker.conn.close()
        worker.process.join()
        message = worker.message
        if message is not None and message[0] == "result":
            on_result(worker.at, message[1])
        else:
            on_result(worker.at, _lost(worker, options, command, others))

    with _sigterm_interrupts():
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    start(*pending.pop())
                for worker in _ready(running):
                    try:
                        kind, value = worker.conn.recv()
                    except (EOFError, OSError):
                        ended(running.pop(worker.conn))
                        continue
                    except Exception as exc:  # noqa: BLE001 - a result that cannot be read
                        worker.message = ("unreadable", f"{type(exc).__name__}: {exc}")
                        continue
                    if kind == "event":
                        options.on_event(value)
                    else:
                        worker.message = (kind, value)
        except KeyboardInterrupt:
            _stop(running)
            raise
