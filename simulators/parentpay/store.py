"""The simulator's sqlite database: token, sites, people and stored upload answers.

One connection per request (sqlite connections must not cross threads) in WAL mode, so reads
never wait for an upload; uploads take the write lock with BEGIN IMMEDIATE, which serialises
them and makes the idempotency check and the insert of the answer one atomic step.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

DB_NAME = "parentpay.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sites (site_id INTEGER PRIMARY KEY);
-- An account is ParentPay's side of a person: it keeps its balance and the payer's login
-- through convert and rekey, which change the record's type or mis_id but not the account.
CREATE TABLE IF NOT EXISTS accounts (
    account_id INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id INTEGER NOT NULL REFERENCES sites(site_id)
);
CREATE TABLE IF NOT EXISTS people (
    site_id INTEGER NOT NULL REFERENCES sites(site_id),
    mis_id TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    fields TEXT NOT NULL,
    account_id INTEGER NOT NULL UNIQUE REFERENCES accounts(account_id),
    PRIMARY KEY (site_id, mis_id)
);
CREATE TABLE IF NOT EXISTS uploads (
    site_id INTEGER NOT NULL REFERENCES sites(site_id),
    idempotency_key TEXT NOT NULL,
    upload_id TEXT NOT NULL UNIQUE,
    answer TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (site_id, idempotency_key)
);
-- Every operation an upload worked on, with its result, in order: what ParentPay did, for tests
-- that check nothing was applied twice. A replayed key adds nothing; a 5xx is rolled back.
CREATE TABLE IF NOT EXISTS operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id INTEGER NOT NULL REFERENCES sites(site_id),
    upload_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    op TEXT,
    type TEXT,
    mis_id TEXT,
    status TEXT NOT NULL,
    code TEXT
);
"""


class Store:
    """Opens connections to the simulator's database in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_NAME
        with closing(self.connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    # -- token and sites ------------------------------------------------------------------

    def token(self) -> str | None:
        with self.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'token'").fetchone()
        return row[0] if row else None

    def set_token(self, token: str) -> None:
        with self.connection() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('token', ?)", (token,))

    def add_sites(self, site_ids: Iterable[int]) -> None:
        with self.connection() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO sites (site_id) VALUES (?)", [(int(s),) for s in site_ids]
            )

    def sites(self) -> list[int]:
        with self.connection() as conn:
            return [r[0] for r in conn.execute("SELECT site_id FROM sites ORDER BY site_id")]


def site_exists(conn: sqlite3.Connection, site_id: int) -> bool:
    return conn.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)).fetchone() is not None


def list_people(
    conn: sqlite3.Connection, site_id: int, type_: str | None, status: str | None
) -> list[dict[str, Any]]:
    """People of a site as the API shows them, sorted by (type, mis_id) for stable output."""
    sql = "SELECT mis_id, type, status, fields FROM people WHERE site_id = ?"
    args: list[Any] = [site_id]
    if type_ is not None:
        sql += " AND type = ?"
        args.append(type_)
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    rows = conn.execute(sql + " ORDER BY type, mis_id", args).fetchall()
    return [{"mis_id": m, "type": t, "status": s, "fields": json.loads(f)} for m, t, s, f in rows]


def get_person(conn: sqlite3.Connection, site_id: int, mis_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT type, status, fields, account_id FROM people WHERE site_id = ? AND mis_id = ?",
        (site_id, mis_id),
    ).fetchone()
    if row is None:
        return None
    type_, status, fields, account_id = row
    return {
        "mis_id": mis_id,
        "type": type_,
        "status": status,
        "fields": json.loads(fields),
        "account_id": account_id,
    }


def insert_person(
    conn: sqlite3.Connection, site_id: int, mis_id: str, type_: str, status: str,
    fields: dict[str, Any],
) -> None:  # fmt: skip
    account_id = conn.execute("INSERT INTO accounts (site_id) VALUES (?)", (site_id,)).lastrowid
    conn.execute(
        "INSERT INTO people (site_id, mis_id, type, status, fields, account_id)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (site_id, mis_id, type_, status, _dump(fields), account_id),
    )


def update_person(
    conn: sqlite3.Connection, site_id: int, mis_id: str, *, type_: str, status: str,
    fields: dict[str, Any], new_mis_id: str | None = None,
) -> None:  # fmt: skip
    conn.execute(
        "UPDATE people SET mis_id = ?, type = ?, status = ?, fields = ?"
        " WHERE site_id = ? AND mis_id = ?",
        (new_mis_id or mis_id, type_, status, _dump(fields), site_id, mis_id),
    )


def stored_answer(conn: sqlite3.Connection, site_id: int, key: str) -> str | None:
    row = conn.execute(
        "SELECT answer FROM uploads WHERE site_id = ? AND idempotency_key = ?", (site_id, key)
    ).fetchone()
    return row[0] if row else None


def store_answer(
    conn: sqlite3.Connection, site_id: int, key: str, upload_id: str, answer: str
) -> None:
    conn.execute(
        "INSERT INTO uploads (site_id, idempotency_key, upload_id, answer) VALUES (?, ?, ?, ?)",
        (site_id, key, upload_id, answer),
    )


def log_operations(
    conn: sqlite3.Connection, site_id: int, upload_id: str, operations: list[dict[str, Any]],
    results: list[dict[str, Any]],
) -> None:  # fmt: skip
    conn.executemany(
        "INSERT INTO operations (site_id, upload_id, idx, op, type, mis_id, status, code)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (site_id, upload_id, r["index"], *_kind(op), r["mis_id"], r["status"], r["code"])
            for op, r in zip(operations, results, strict=True)
        ],
    )


def list_operations(conn: sqlite3.Connection, site_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT upload_id, idx, op, type, mis_id, status, code FROM operations"
        " WHERE site_id = ? ORDER BY seq",
        (site_id,),
    ).fetchall()
    keys = ("upload_id", "index", "op", "type", "mis_id", "status", "code")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _kind(op: dict[str, Any]) -> tuple[str | None, str | None]:
    """The op and type as sent, when they are text (a malformed operation is logged too)."""
    kind, type_ = op.get("op"), op.get("type")
    return (kind if isinstance(kind, str) else None, type_ if isinstance(type_, str) else None)


def _dump(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False)
