"""simulators/ports.py: a simulator whose port is taken says so and exits 2, with no crash log."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bromsync import cli
from simulators.bromcom import BromcomSimulator
from simulators.parentpay import ParentPaySimulator, PortUnavailable
from simulators.parentpay.__main__ import main as parentpay_main


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something else is listening on, for the whole test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def message(port: int) -> str:
    return f"port {port} is already in use: choose another with --port, or stop what is using it"


def test_both_simulators_raise_port_unavailable(taken: int, tmp_path: Path) -> None:
    with pytest.raises(PortUnavailable, match="already in use") as bromcom:
        BromcomSimulator(tmp_path, port=taken).start()
    with pytest.raises(PortUnavailable, match="already in use") as parentpay:
        ParentPaySimulator(tmp_path / "pp", "t", port=taken).start()
    assert str(bromcom.value) == str(parentpay.value) == message(taken)
    assert bromcom.value.port == taken


@pytest.mark.parametrize(
    "args",
    [["simulate", "bromcom", "--data", "{data}"], ["simulate", "parentpay", "--data", "{data}"]],
    ids=["bromcom", "parentpay"],
)
def test_simulate_on_a_taken_port_exits_2_with_what_to_do(
    taken: int, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "data").mkdir()
    argv = [a.format(data=tmp_path / "data") for a in args] + ["--port", str(taken)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {message(taken)}\n"  # not the crash log's words


def test_python_m_simulators_parentpay_on_a_taken_port(
    taken: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parentpay_main(["--data", str(tmp_path), "--port", str(taken)])
    assert exit_.value.code == 2
    assert message(taken) in capsys.readouterr().err
