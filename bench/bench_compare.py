"""The two choices docs/bromcom.md and the issues make, measured against their alternatives.

- Bromcom's DataSets are read from the raw response with lxml (`read_dataset`) rather than
  bound by zeep through their inline schema (docs/bromcom.md: "about 5 times slower").
- Raw rows go into DuckDB as whole columns in one statement (`State.save_raw`), never row by row.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench_timing import Row, check, timed

from engine.sources import Table
from engine.sources.dataset import read_dataset
from engine.state.store import State

DUCK_TYPES = {"int": "BIGINT", "long": "BIGINT", "boolean": "BOOLEAN", "dateTime": "TIMESTAMP",
              "date": "DATE", "decimal": "DOUBLE", "double": "DOUBLE"}  # fmt: skip
BINDING = "{http://tempuri.org/}TPReadOnlyDataServiceSoap12"
OPERATION = "getEntityDataBySchoolID"


def parse_vs_zeep(url: str, size: str, repeats: int, **login: Any) -> tuple[list[Row], Table]:
    """read_dataset against zeep's binding of the same Students response, from its bytes.

    `login` is schoolID, username and password. Both sides start from the bytes already
    received, so the network is not in either figure.
    """
    import zeep

    client = zeep.Client(f"{url}?WSDL", settings=zeep.Settings(xml_huge_tree=True))
    service = client.create_service(BINDING, url)
    with client.settings(raw_response=True):
        response = getattr(service, OPERATION)(entityName="Students", entityFilter="", **login)
    check(response.status_code == 200, f"the Bromcom simulator answered {response.status_code}")
    binding = service._binding  # zeep's own reply path: parse, then bind through the schema
    operation = binding.get(OPERATION)
    ours, (columns, rows) = timed(lambda: read_dataset(response.content), repeats)
    theirs, bound = timed(lambda: binding.process_reply(client, operation, response), repeats)
    zeep_rows = bound["_value_1"]["_value_1"]
    check(
        len(zeep_rows) == len(rows), f"zeep bound {len(zeep_rows)} rows, read_dataset {len(rows)}"
    )
    ratio = statistics.median(theirs) / statistics.median(ours)
    label = f"Students, {len(rows):,} rows, {len(response.content) / 1e6:.2f} MB"
    return [
        Row("parse: engine read_dataset (lxml)", size, ours, label),
        Row("parse: zeep binds the DataSet (baseline)", size, theirs, f"{ratio:.1f}x slower"),
    ], Table("Students", columns, rows)


def bulk_vs_row_by_row(table: Table, path: Path, size: str, repeats: int) -> list[Row]:
    """State.save_raw (whole columns, one statement) against one INSERT per row."""
    names = list(table.columns)
    typed = [f'"{n}" {DUCK_TYPES.get(t, "VARCHAR")}' for n, t in table.columns.items()]
    ddl = ", ".join(["run_id VARCHAR", *typed])
    insert = f"INSERT INTO row_by_row VALUES ({', '.join('?' * (len(names) + 1))})"
    values = [["bench", *(row.get(n) for n in names)] for row in table.rows]
    with State(path) as state:

        def row_by_row() -> None:
            # The generous version of the baseline: one transaction, one prepared statement.
            state.con.execute(f"CREATE OR REPLACE TABLE row_by_row ({ddl})")
            state.con.execute("BEGIN")
            for value in values:
                state.con.execute(insert, value)
            state.con.execute("COMMIT")

        bulk, _ = timed(lambda: state.save_raw("bench", table, 0.0), repeats)
        slow, _ = timed(row_by_row, repeats)
        for name in ("raw_students", "row_by_row"):
            got = state.con.execute(f"SELECT count(*) FROM {name}").fetchone()
            check(got is not None and got[0] == len(table.rows), f"{name} lost rows")
    ratio = statistics.median(slow) / statistics.median(bulk)
    return [
        Row(
            "DuckDB: bulk load (State.save_raw)",
            size,
            bulk,
            f"Students, {len(table.rows):,} rows",
        ),
        Row("DuckDB: row-by-row INSERTs (baseline)", size, slow, f"{ratio:.1f}x slower"),
    ]
