"""A loopback simulator of Bromcom's third-party read-only SOAP service (TPReadOnlyDataService).

See README.md here for the dataset folder it serves, the faults it answers and the test hooks;
`ReplaySimulator` serves a run recorded with `--record DIR` instead (replay.py).
It shares no code with the engine's SOAP client (CONTRIBUTING.md: a reader tested only against its
own writer proves nothing).
"""

from __future__ import annotations

from ..ports import PortUnavailable
from .catalogue import CATALOGUE, catalogue_columns
from .faults import Fault
from .filter import FilterError, compile_filter
from .replay import ReplayError, ReplaySimulator, serve_replay
from .server import SERVICE_PATH, BromcomSimulator, LoggedRequest, SimulatorBase, serve
from .store import DataError

__all__ = [
    "CATALOGUE",
    "SERVICE_PATH",
    "BromcomSimulator",
    "DataError",
    "Fault",
    "FilterError",
    "LoggedRequest",
    "PortUnavailable",
    "ReplayError",
    "ReplaySimulator",
    "SimulatorBase",
    "catalogue_columns",
    "compile_filter",
    "serve",
    "serve_replay",
]
