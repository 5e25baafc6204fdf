"""The dataset folder the simulator serves: one folder per school, named by its MIS OrgID.

    DATA/<org_id>/account.json   {"username": ..., "password": ..., "permitted": [entity, ...]}
    DATA/<org_id>/<Entity>.json  {"columns": [[name, xs type], ...], "rows": [{...}, ...]}

(README.md in this folder has the details.) Files are read when first needed and parsed again
when their content changes, so a test can edit a pupil between two runs against one running
simulator. The content itself is compared, not the modified time: two same-size writes within
one clock tick of the file system leave time, size and inode all unchanged. Values are checked
and typed at load, and each row's XML is rendered once there, so a request only filters and
joins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from .catalogue import catalogue_columns
from .dataset import XS_TYPES, Column, render_cells
from .sqltypes import Value

T = TypeVar("T")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class DataError(Exception):
    """A file in the simulator's dataset folder is not in the documented format."""


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    permitted: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    name: str  # as the service spells it (the file name)
    columns: tuple[Column, ...]
    rows: tuple[dict[str, Value], ...]  # typed, for entityFilter
    cells: tuple[tuple[str, ...], ...]  # each row's rendered child elements


class DataStore:
    """Reads school folders under `root`, caching each file until it changes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"simulator data folder {self.root} does not exist")
        self._cache: dict[Path, tuple[bytes, Any]] = {}  # path -> (content digest, parsed)
        self._lock = threading.Lock()

    def account(self, org_id: int) -> Account | None:
        """The school's web-service account, or None when there is no such school."""
        path = self.root / str(org_id) / "account.json"
        if org_id <= 0 or not path.is_file():
            return None
        return self._load(path, _parse_account)

    def permitted(self, org_id: int, account: Account) -> list[str]:
        """The permitted entities as findEntitiesBySchoolID spells them (file name first)."""
        files = self._entity_files(org_id)
        names: list[str] = []
        for name in account.permitted:
            path = files.get(name.lower())
            spelled = path.stem if path else name
            if spelled.lower() not in {n.lower() for n in names}:
                names.append(spelled)
        return names

    def entity(self, org_id: int, name: str) -> Entity:
        """A permitted entity's data; one with no file is empty but keeps its known columns."""
        path = self._entity_files(org_id).get(name.lower())
        if path is None:
            columns = tuple(catalogue_columns(name) or ())
            return Entity(name, columns, (), ())
        return self._load(path, _parse_entity)

    def _entity_files(self, org_id: int) -> dict[str, Path]:
        folder = self.root / str(org_id)
        return {
            p.stem.lower(): p
            for p in sorted(folder.glob("*.json"))
            if p.name.lower() != "account.json"
        }

    def _load(self, path: Path, parse: Callable[[Path, Any], T]) -> T:
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
        stamp = hashlib.blake2b(content, digest_size=16).digest()
        with self._lock:
            hit = self._cache.get(path)
            if hit is not None and hit[0] == stamp:
                return hit[1]  # type: ignore[no-any-return]
            try:
                raw = json.loads(content.decode("utf-8"))
            except ValueError as exc:
                raise DataError(f"{path}: not valid JSON ({exc})") from None
            value = parse(path, raw)
            self._cache[path] = (stamp, value)
            return value


def _parse_account(path: Path, raw: Any) -> Account:
    if not isinstance(raw, dict):
        raise DataError(f"{path}: must be a JSON object")
    username, password, permitted = raw.get("username"), raw.get("password"), raw.get("permitted")
    if not isinstance(username, str) or not isinstance(password, str):
        raise DataError(f'{path}: "username" and "password" must be strings')
    if not isinstance(permitted, list) or not all(isinstance(p, str) for p in permitted):
        raise DataError(f'{path}: "permitted" must be a list of entity names')
    return Account(username, password, tuple(permitted))


def _parse_entity(path: Path, raw: Any) -> Entity:
    if not isinstance(raw, dict):
        raise DataError(f"{path}: must be a JSON object with columns and rows")
    columns = _parse_columns(path, raw.get("columns"))
    rows_raw = raw.get("rows", [])
    if not isinstance(rows_raw, list):
        raise DataError(f'{path}: "rows" must be a list of objects')
    types = dict(columns)
    rows: list[dict[str, Value]] = []
    for number, item in enumerate(rows_raw, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{path}: row {number} must be an object")
        unknown = [key for key in item if key not in types]
        if unknown:
            raise DataError(f"{path}: row {number} has {unknown[0]!r}, which is not in columns")
        rows.append(
            {name: _typed(path, number, name, item.get(name), types[name]) for name in types}
        )
    cells = tuple(render_cells(row, columns) for row in rows)  # type: ignore[arg-type]
    return Entity(path.stem, tuple(columns), tuple(rows), cells)


def _parse_columns(path: Path, raw: Any) -> list[Column]:
    if raw is None:
        known = catalogue_columns(path.stem)
        if known is None:
            raise DataError(f'{path}: "columns" is needed, {path.stem!r} is not a known entity')
        return known
    columns: list[Column] = []
    if not isinstance(raw, list):
        raise DataError(f'{path}: "columns" must be a list of [name, type] pairs')
    for pair in raw:
        ok = isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
        if not ok or not _XML_NAME.fullmatch(pair[0]) or pair[1] not in XS_TYPES:
            raise DataError(
                f"{path}: column {pair!r} must be [name, type] with type one of "
                + ", ".join(XS_TYPES)
            )
        if pair[0] in dict(columns):
            raise DataError(f"{path}: column {pair[0]!r} is listed twice")
        columns.append((pair[0], pair[1]))
    return columns


def _typed(path: Path, number: int, name: str, value: Any, xs_type: str) -> Value:
    if value is None:
        return None
    ok: bool
    if xs_type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif xs_type == "string":
        ok = isinstance(value, str)
    elif xs_type == "boolean":
        ok = isinstance(value, bool)
    elif xs_type == "decimal":
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                return Decimal(str(value))
            except InvalidOperation:
                pass
        ok = False
    else:
        try:
            parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            return parsed
        ok = False
    if not ok:
        hint = ' ("YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS", UK wall-clock time, no offset)'
        raise DataError(
            f"{path}: row {number}, {name}: {value!r} is not an xs:{xs_type}"
            + (hint if xs_type == "dateTime" else "")
        )
    return value  # type: ignore[no-any-return]
