"""`bromsync simulate generate`: a generated school in a folder `simulate bromcom --data` serves.

One call writes one school, `DATA/<org_id>/` (account.json and the 21 entity files of
simulators/bromcom/README.md); call it again with another `--org-id` for more schools in the
same folder. With a school file path, it also writes the school file that points bromsync at
the simulator (simulators/bromcom/README.md, "Generating a dataset").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from simulators.bromcom.server import SERVICE_PATH
from simulators.datagen import SIZES, generate_school, write_school_file

DEFAULT_PASSWORD = "simulator-password"
DEFAULT_BROMCOM_PORT = 8600


def password_env(org_id: int) -> str:
    """The variable a generated school file names for the account's password."""
    return f"BROMCOM_PASSWORD_{org_id}"


def generate(
    data_dir: Path,
    *,
    today: dt.date,
    echo: Callable[[str], None],
    size: str = "primary",
    seed: int = 2026,
    org_id: int = 20001,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    urn: int | None = None,
    name: str | None = None,
    school_file: Path | None = None,
    site_id: int = 5001,
    port: int = DEFAULT_BROMCOM_PORT,
) -> None:
    """Write one generated school into `data_dir/<org_id>/`, say what was written and how to
    serve it; raises ValueError for a folder that already holds that OrgID, or a bad value."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    if not password.strip():
        raise ValueError("the --password must not be empty")
    folder = data_dir / str(org_id)
    if folder.exists():
        raise ValueError(
            f"{folder} already holds a school: give another --org-id to add a school beside "
            "it, or delete that folder to generate it again"
        )
    if school_file is not None and school_file.exists():
        raise ValueError(
            f"the school file {school_file} already exists: give another path, or delete it"
        )
    summary = generate_school(
        data_dir,
        org_id=org_id,
        seed=seed,
        size=size,
        today=today,
        username=username or f"parentpay_{org_id}",
        password=password,
        name=name,
        urn=urn,
    )
    counts = summary.counts
    echo(
        f"generated {summary.name} ({size}, seed {seed}, as of {today.isoformat()}): "
        f"{counts.get('Students', 0)} pupils, {counts.get('PreAdmissionStudents', 0)} "
        f"pre-admissions, {counts.get('Staff', 0)} staff"
    )
    echo(f"  Bromcom OrgID {summary.org_id}, URN {summary.urn}, in {folder}")
    echo(f"  web-service account: username {summary.username}, password {summary.password}")
    echo(f"serve it:  bromsync simulate bromcom --data {data_dir} --port {port}")
    if school_file is None:
        return
    url = f"http://127.0.0.1:{port}{SERVICE_PATH}"
    variable = password_env(org_id)
    write_school_file(
        school_file, summary, url=url, password_env=variable, parentpay_site_id=site_id
    )
    echo(f"school file: {school_file} (ParentPay site {site_id}, Bromcom at {url})")
    echo(f"  it reads the password from {variable}: export {variable}={summary.password}")
