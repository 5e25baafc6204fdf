"""The 21 entities of ParentPay's set-up guide and the columns bromsync assumes they carry.

Taken from docs/bromcom.md, "Columns bromsync assumes". The simulator uses it to serve a permitted
entity that has no data file as an empty DataSet that still carries its columns (as the real
service does for an empty table), and a data generator can use it to write entity files.
`CONFIRMED` lists the columns marked C there (seen in public client code); every other column
is an assumption (A), and a real response that differs is fixed in `mappings/`, not here.
Types are the `xs:` names the DataSet schema carries: int, string, boolean, dateTime, decimal.
"""

from __future__ import annotations

_DATES = [("StartDate", "dateTime"), ("EndDate", "dateTime")]


def _s(*names: str) -> list[tuple[str, str]]:
    return [(name, "string") for name in names]


CATALOGUE: dict[str, list[tuple[str, str]]] = {
    "Students": [
        ("StudentID", "int"),
        ("PersonID", "int"),
        *_s("UPN", "AdmissionNumber", "FirstName", "MiddleName", "LastName"),
        *_s("PreferredFirstName", "PreferredLastName"),
        ("DateOfBirth", "dateTime"),
        *_s("Gender", "YearGroup", "TutorGroup", "House"),
        *_DATES,
        ("EnrolmentStatus", "string"),
        ("DataProcessingConsent", "boolean"),
    ],
    "PreAdmissionStudents": [
        ("StudentID", "int"),
        ("PersonID", "int"),
        *_s("UPN", "AdmissionNumber", "FirstName", "LastName"),
        *_s("PreferredFirstName", "PreferredLastName"),
        ("DateOfBirth", "dateTime"),
        *_s("Gender", "YearGroup"),
        ("AdmissionDate", "dateTime"),
        ("ApplicationStatus", "string"),
        ("DataProcessingConsent", "boolean"),
    ],
    "Staff": [
        ("StaffID", "int"),
        ("PersonID", "int"),
        *_s("Title", "FirstName", "MiddleName", "LastName", "PreferredFirstName"),
        *_s("PreferredLastName", "StaffCode", "JobTitle"),
        *_DATES,
        ("DataProcessingConsent", "boolean"),
    ],
    "People": [
        ("PersonID", "int"),
        *_s("Title", "FirstName", "MiddleName", "LastName", "PreferredFirstName"),
        ("PreferredLastName", "string"),
        ("DateOfBirth", "dateTime"),
        ("Gender", "string"),
        ("DataProcessingConsent", "boolean"),
    ],
    "StudentContacts": [
        ("StudentID", "int"),
        ("ContactPersonID", "int"),
        ("Relationship", "string"),
        ("ParentalResponsibility", "boolean"),
        ("Priority", "int"),
        ("LivesWithStudent", "boolean"),
        ("ReceivesCorrespondence", "boolean"),
        ("CourtOrder", "boolean"),
        *_DATES,
    ],
    "Emails": [
        ("PersonID", "int"),
        *_s("EmailAddress", "EmailTypeDescription"),
        ("Priority", "int"),
    ],
    "PersonCommunications": [
        ("PersonID", "int"),
        *_s("CommunicationTypeDescription", "Value"),
        ("Priority", "int"),
    ],
    "StudentMeals": [("StudentID", "int"), ("FSMType", "string"), *_DATES],
    "StudentMealPatterns": [
        ("StudentID", "int"),
        ("MealTypeDescription", "string"),
        *[(day, "boolean") for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")],
        *_DATES,
    ],
    "PersonMedicalConditions": [
        ("PersonID", "int"),
        *_s("MedicalConditionDescription", "Notes"),
        *_DATES,
    ],
    "StudentEnrolments": [("StudentID", "int"), ("EnrolmentStatus", "string"), *_DATES],
    "Collections": [
        ("CollectionID", "int"),
        *_s("CollectionName", "CollectionDescription", "CollectionTypeName"),
        *_DATES,
    ],
    "CollectionAssociates": [("PersonID", "int"), ("CollectionID", "int"), *_DATES],
    "CollectionExecutives": [
        ("StaffID", "int"),
        ("CollectionID", "int"),
        ("CollectionRoleTypeDescription", "string"),
        *_DATES,
    ],
    "CollectionExecutivesRoleTypes": [
        ("CollectionRoleTypeID", "int"),
        ("CollectionRoleTypeDescription", "string"),
    ],
    "SubjectClasses": [
        ("ClassID", "int"),
        *_s("ClassDescription", "SubjectDescription"),
        *_DATES,
    ],
    "Timetable": [
        ("ClassID", "int"),
        ("ClassName", "string"),
        ("StaffID", "int"),
        ("PeriodStartDate", "dateTime"),
        ("PeriodEndDate", "dateTime"),
        *_s("DayOfWeek", "PeriodName", "LocationName"),
    ],
    "EmployeeContacts": [
        ("StaffID", "int"),
        ("ContactPersonID", "int"),
        ("Relationship", "string"),
        ("Priority", "int"),
    ],
    "Nationalities": [("PersonID", "int"), ("NationalityDescription", "string")],
    "PersonAddress": [
        ("PersonID", "int"),
        *_s("AddressTypeDescription", "HouseNumber", "Street", "Town", "PostCode"),
        *_DATES,
    ],
    "School": [
        ("SchoolID", "int"),
        ("SchoolName", "string"),
        ("URN", "int"),
        *_s("LAEstab", "Phase"),
    ],
}

CONFIRMED: dict[str, frozenset[str]] = {
    "Students": frozenset(
        [
            "StudentID",
            "UPN",
            "AdmissionNumber",
            "FirstName",
            "MiddleName",
            "LastName",
            "PreferredFirstName",
            "PreferredLastName",
            "YearGroup",
            "TutorGroup",
            "StartDate",
            "EndDate",
        ]
    ),
    "Staff": frozenset(
        [
            "StaffID",
            "FirstName",
            "MiddleName",
            "LastName",
            "PreferredFirstName",
            "PreferredLastName",
            "StaffCode",
            "StartDate",
            "EndDate",
        ]
    ),
    "Collections": frozenset({"CollectionID", "CollectionName"}),
    "CollectionAssociates": frozenset({"PersonID", "CollectionID", "StartDate", "EndDate"}),
    "CollectionExecutives": frozenset(
        {"StaffID", "CollectionID", "CollectionRoleTypeDescription", "StartDate", "EndDate"}
    ),
    "SubjectClasses": frozenset(
        {"ClassID", "ClassDescription", "SubjectDescription", "StartDate", "EndDate"}
    ),
    "Timetable": frozenset(name for name, _ in CATALOGUE["Timetable"]),
}

# Other integrators' spellings of three entities (docs/bromcom.md); the service matches names
# case-insensitively, so only the spellings that differ by more than case are listed.
ALIASES: dict[str, str] = {"personaddresses": "PersonAddress", "schools": "School"}


def catalogue_columns(entity: str) -> list[tuple[str, str]] | None:
    """The assumed columns of `entity` (any case, or an alias spelling), or None if unknown."""
    wanted = entity.lower()
    wanted = ALIASES.get(wanted, wanted).lower()
    for name, columns in CATALOGUE.items():
        if name.lower() == wanted:
            return list(columns)
    return None
