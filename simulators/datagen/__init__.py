"""Realistic (and awkward) Bromcom schools for the Bromcom simulator, the demo and tests.

    generate_school(DATA, org_id=20002, seed=7, size="primary", today=date(2026, 11, 28),
                    username="parentpay_x", password="secret")
    -> writes DATA/20002/account.json and DATA/20002/<Entity>.json for all 21 entities

Sizes: "primary" (210 pupils R-6), "secondary" (2,000 pupils in Years 7-13), "large" (10,000
pupils in Years 7-13, ~1,500 pre-admissions, ~900 staff: five secondaries in one, for
benchmarks), "tiny" (12 pupils, 4 staff, 3 pre-admissions, and none of the forced oddities). The data follows docs/bromcom.md: one
PersonID per person, StudentID and StaffID being that PersonID, IDs unique across pupils,
pre-admissions, staff and contacts. Columns marked "assumed" there are generated as assumed.
The hand-written fixture school lives in tests/fixtures/bromcom/20001 (see its README).
"""

from __future__ import annotations

from .cohorts import cohort_range, school_year_of, year_code, year_index
from .pupils import upn_check_letter
from .school import SIZES, SchoolSummary, generate_school, generate_trust
from .schoolfile import school_file_data, write_school_file
from .tables import ENTITIES, ENTITY_COLUMNS, dump_entity, write_org

__all__ = [
    "ENTITIES",
    "ENTITY_COLUMNS",
    "SIZES",
    "SchoolSummary",
    "cohort_range",
    "dump_entity",
    "generate_school",
    "generate_trust",
    "school_file_data",
    "school_year_of",
    "upn_check_letter",
    "write_org",
    "write_school_file",
    "year_code",
    "year_index",
]
