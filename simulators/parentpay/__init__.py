"""A local ParentPay People API for `bromsync demo`, `bromsync simulate` and tests.

The API is described in docs/parentpay-api.md. See README.md in this folder for how to run it, what it stores and how to inject faults.
"""

from __future__ import annotations

from ..ports import PortUnavailable
from .faults import FAULT_KINDS, RequestRecord
from .simulator import ParentPaySimulator, serve

__all__ = ["FAULT_KINDS", "ParentPaySimulator", "PortUnavailable", "RequestRecord", "serve"]
