"""`python -m simulators.parentpay --port N --data DIR [--token T] [--site ID ...]`.

The same as `bromsync simulate parentpay`, for running the simulator without the CLI.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..ports import PortUnavailable
from .simulator import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.parentpay", description="Run the ParentPay People API simulator."
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free one)")
    parser.add_argument("--data", type=Path, required=True, help="folder for parentpay.sqlite3")
    parser.add_argument("--token", help="bearer token (default: the stored one, or a new one)")
    parser.add_argument(
        "--site", type=int, action="append", default=[],
        help="a site id to serve, and only those (default: any, each added on first use)",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    args = parser.parse_args(argv)
    try:
        serve(args.data, args.port, args.token, args.site, args.host)
    except (ValueError, PortUnavailable) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
