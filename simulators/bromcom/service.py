"""The four operations bromsync uses, with the checks and faults of the real service.

Checks run in the real service's order as bromsync assumes it (docs/bromcom.md): the school ID
first, then the username and password, then the entity's permission; only then is the
entityFilter compiled and run. Every failure is a SoapFault whose reason follows
"Server was unable to process request. ---> ". The other operations of the WSDL are answered
with a fault saying this simulator does not support them.
"""

from __future__ import annotations

import datetime as dt
import os

from .dataset import dataset, escape_text, get_xml, render_cells, uk_now
from .filter import FilterError, compile_filter
from .soap import SoapFault, SoapRequest
from .store import DataError, DataStore

PROCESS = "Server was unable to process request. ---> "
SUPPORTED = frozenset(
    {
        "findEntitiesBySchoolID",
        "findEntitiesBySchoolIDAsXml",
        "getEntityDataBySchoolID",
        "getEntityDataBySchoolIDAsXml",
    }
)
_ENTITY_NAME: tuple[tuple[str, str], ...] = (("EntityName", "string"),)


def getdate() -> dt.datetime:
    """GETDATE(): BROMSYNC_TODAY (an ISO date, read as midnight) when set, else UK time now."""
    value = os.environ.get("BROMSYNC_TODAY", "").strip()
    if not value:
        return uk_now()
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        raise SoapFault(
            f"{PROCESS}Simulator: BROMSYNC_TODAY={value!r} is not a date like 2026-09-01"
        ) from None


class BromcomService:
    """Answers parsed requests from a DataStore; returns the escaped content of the Result."""

    def __init__(self, store: DataStore) -> None:
        self.store = store

    def call(self, request: SoapRequest) -> str:
        if request.operation not in SUPPORTED:
            raise SoapFault(
                f"{PROCESS}Operation '{request.operation}' is not supported by this simulator"
            )
        try:
            return self._call(request)
        except DataError as exc:
            raise SoapFault(f"{PROCESS}Simulator data error: {exc}") from None

    def _call(self, request: SoapRequest) -> str:
        params = request.params
        org_id = _school_id(params.get("schoolID"))
        account = self.store.account(org_id)
        if account is None:
            raise SoapFault(f"{PROCESS}Invalid school ID")
        if params.get("username") != account.username or params.get("password") != account.password:
            raise SoapFault(f"{PROCESS}Invalid username or password")
        permitted = self.store.permitted(org_id, account)
        as_xml = request.operation.endswith("AsXml")
        if request.operation.startswith("findEntities"):
            columns = _ENTITY_NAME
            rows = [render_cells({"EntityName": name}, columns) for name in permitted]
        else:
            wanted = params.get("entityName") or ""
            name = next((n for n in permitted if n.lower() == wanted.lower()), None)
            if name is None:
                raise SoapFault(f"{PROCESS}Access to entity '{wanted}' is not permitted")
            entity = self.store.entity(org_id, name)
            columns = entity.columns
            try:
                keep = compile_filter(
                    params.get("entityFilter"), [c for c, _ in columns], getdate()
                )
                rows = [
                    cells for row, cells in zip(entity.rows, entity.cells, strict=True) if keep(row)
                ]
            except FilterError as exc:
                raise SoapFault(f"{PROCESS}{exc.reason}") from None
        if as_xml:
            return escape_text(get_xml(rows))
        return dataset(columns, rows)


def _school_id(text: str | None) -> int:
    # XmlSerializer leaves a missing int at 0 and refuses one that is not a number.
    if text is None:
        return 0
    try:
        return int(text.strip())
    except ValueError:
        raise SoapFault(
            "Server was unable to read request. ---> There is an error in XML document. "
            "---> Input string was not in a correct format.",
            "client",
        ) from None
