"""bench/bench_sync.py still runs: its --quick mode on the tiny school, every measure once.

Timings are not judged here (nor anywhere); the bench's own correctness checks are, since a
bench that raises BenchError has found a real problem (e.g. a second run re-sending records).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_sync.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/bench_sync.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_sync", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_sync", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_quick_bench_runs_every_measure(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--quick", "--keep", str(tmp_path / "bench")]) == 0
    out = capsys.readouterr().out
    for what in (
        "bromsync demo",
        "plan, first time",
        "run, first time (all creates)",
        "run, second time (no changes)",
        "peak RSS of a first run",
        "parse: zeep binds the DataSet",
        "DuckDB: row-by-row INSERTs",
        "rows per entity, tiny school",
    ):
        assert what in out, out
    assert "0 pushed" in out  # the tiny school has nothing ParentPay rejects
    assert out.count("x slower") == 2  # both baselines measured, each with its ratio


def test_a_wrong_second_run_is_reported_as_a_bench_error(bench: ModuleType) -> None:
    first = bench.SchoolResult("s", 1, 0, "18 applied", applied=18)
    again = bench.SchoolResult("s", 1, 0, "3 applied", applied=3)
    with pytest.raises(bench.BenchError, match="applied 3 operations"):
        bench.check_second_run("tiny", first, again, sent=3)
    quiet = bench.SchoolResult("s", 1, 0, "nothing to push")
    with pytest.raises(bench.BenchError, match="sent 2 operations"):
        bench.check_second_run("tiny", first, quiet, sent=2)
    bench.check_second_run("tiny", first, quiet, sent=0)


def test_state_size_bench_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = BENCH.with_name("bench_state_size.py")
    spec = importlib.util.spec_from_file_location("bench_state_size", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--size", "tiny", "--runs", "1", "2", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "state file of the tiny school" in out and "| 2 |" in out
    with pytest.raises(module.BenchError, match="records rows"):
        module.check_bounded(
            [
                {"runs": 30, "rows": {"records": 10, "fetches": 3}},
                {"runs": 31, "rows": {"records": 11, "fetches": 3}},
            ]
        )
