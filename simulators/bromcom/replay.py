"""ReplaySimulator: serve a recorded run (`bromsync plan --record DIR`) as the Bromcom service.

A school's real answers become a test case: each SOAP call is answered with the body recorded
for the same operation, entityName (any case) and entityFilter, with the recorded HTTP status
and Content-Type, byte for byte. The WSDL, envelope parsing, injected faults and request log
are the simulator's own (server.py, handler.py).

The folder is the one engine/sources/recording.py writes (read here independently, as the
simulators share no code with the engine):

    DIR/<org_id>/manifest.json   {"format": "bromsync-bromcom-recording/1", "calls": [
                                   {"operation", "entityName", "entityFilter", "status",
                                    "content_type", "file", ...}, ...]}
    DIR/<org_id>/<file>          the recorded body

The request's schoolID picks the school folder; DIR may also be one school's folder itself
(it holds manifest.json), which then answers for any schoolID. Credentials are NOT checked:
the recording has them scrubbed, so any username and password are accepted and the answer is
whatever Bromcom gave the recorded run (a recorded "Invalid username or password" fault is
replayed as that fault). A call with no recording gets a fault that names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import soap
from .server import SimulatorBase, run_until_interrupted
from .service import PROCESS

FORMAT = "bromsync-bromcom-recording/1"
MANIFEST = "manifest.json"
_ANY_SCHOOL = ""


class ReplayError(ValueError):
    """The folder given for replay is not a recording bromsync can serve."""


@dataclass(frozen=True)
class RecordedCall:
    status: int
    content_type: str
    path: Path


@dataclass(frozen=True)
class Recording:
    """One school's recorded calls, keyed by (operation, entityName lower-cased, entityFilter)."""

    folder: Path
    calls: dict[tuple[str, str, str], RecordedCall]

    def find(
        self, operation: str, entity: str | None, entity_filter: str | None
    ) -> RecordedCall | None:
        return self.calls.get(_key(operation, entity, entity_filter))


def _key(operation: str, entity: str | None, entity_filter: str | None) -> tuple[str, str, str]:
    return operation, (entity or "").lower(), (entity_filter or "").strip()


def load_recording(folder: Path) -> Recording:
    """Read and check one school's manifest; every file it names must be there."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReplayError(f"{path}: cannot be read as a recording ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ReplayError(f'{path}: not a bromsync recording (its "format" is not {FORMAT!r})')
    raw_calls = manifest.get("calls")
    if not isinstance(raw_calls, list):
        raise ReplayError(f'{path}: "calls" must be a list')
    root = folder.resolve()
    calls: dict[tuple[str, str, str], RecordedCall] = {}
    for number, raw in enumerate(raw_calls, start=1):
        call = _call(path, number, raw)
        target = (folder / call["file"]).resolve()
        if not target.is_relative_to(root):
            raise ReplayError(f"{path}: call {number}: file {call['file']!r} is outside {folder}")
        if not target.is_file():
            raise ReplayError(f"{path}: call {number}: file {call['file']!r} is missing")
        key = _key(call["operation"], call["entityName"], call["entityFilter"])
        calls[key] = RecordedCall(call["status"], call["content_type"], target)
    return Recording(folder, calls)


def _call(path: Path, number: int, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ReplayError(f"{path}: call {number} must be an object")
    shape: dict[str, type | tuple[type, ...]] = {
        "operation": str,
        "file": str,
        "status": int,
        "content_type": str,
        "entityName": (str, type(None)),
        "entityFilter": (str, type(None)),
    }
    for name, kind in shape.items():
        if not isinstance(raw.get(name), kind) or isinstance(raw.get(name), bool):
            raise ReplayError(f"{path}: call {number}: {name!r} is missing or of the wrong type")
    return raw


def load_recordings(record_dir: Path) -> dict[str, Recording]:
    """Each school's recording by org_id (the folder name); "" for a single school's folder."""
    record_dir = Path(record_dir)
    if not record_dir.is_dir():
        raise ReplayError(f"the recording folder {record_dir} does not exist")
    if (record_dir / MANIFEST).is_file():
        return {_ANY_SCHOOL: load_recording(record_dir)}
    found = {
        sub.name: load_recording(sub)
        for sub in sorted(record_dir.iterdir())
        if sub.is_dir() and (sub / MANIFEST).is_file()
    }
    if not found:
        raise ReplayError(
            f"{record_dir} holds no recording (no {MANIFEST} in it or in a school folder under "
            "it): make one with `bromsync plan SCHOOL_FILE --record DIR`"
        )
    return found


class ReplaySimulator(SimulatorBase):
    """Answers Bromcom calls from a recorded run under `record_dir`; credentials are not checked."""

    def __init__(
        self, record_dir: Path, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
    ) -> None:
        super().__init__(host, port, verbose=verbose)
        self.record_dir = Path(record_dir)
        self.recordings = load_recordings(self.record_dir)

    def answer(self, request: soap.SoapRequest) -> tuple[int, str, bytes]:
        params = request.params
        recording = self._recording_for(params.get("schoolID"))
        entity, entity_filter = params.get("entityName"), params.get("entityFilter")
        call = recording.find(request.operation, entity, entity_filter)
        if call is None:
            what = f"{request.operation}"
            if request.operation.startswith("getEntityData"):
                what += f" of entity '{entity or ''}' with entityFilter '{entity_filter or ''}'"
            raise soap.SoapFault(
                f"{PROCESS}Replay: no recording exists for {what} in {recording.folder}; "
                "record a run that makes this call (bromsync plan --record DIR)"
            )
        try:
            body = call.path.read_bytes()
        except OSError as exc:
            raise soap.SoapFault(
                f"{PROCESS}Replay: cannot read {call.path}: {exc.strerror}"
            ) from None
        return call.status, call.content_type or soap.CONTENT_TYPES[request.version], body

    def _recording_for(self, school_id: str | None) -> Recording:
        if _ANY_SCHOOL in self.recordings:
            return self.recordings[_ANY_SCHOOL]
        wanted = (school_id or "").strip()
        if wanted in self.recordings:
            return self.recordings[wanted]
        raise soap.SoapFault(
            f"{PROCESS}Replay: no recording exists for school ID {wanted or '(none)'} in "
            f"{self.record_dir} (it holds {', '.join(sorted(self.recordings))})"
        )


def serve_replay(record_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    """Serve the recording in `record_dir` until Ctrl-C (`bromsync simulate bromcom --replay`)."""
    sim = ReplaySimulator(Path(record_dir), host, port, verbose=True)
    run_until_interrupted(
        sim, f"Bromcom replay of {record_dir} (any username and password accepted)"
    )
