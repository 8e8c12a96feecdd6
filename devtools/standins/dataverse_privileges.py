"""Who the Dataverse stand-in's caller is and what they may do: the systemuserid a principal maps to, the
privilege check (403 ``0x80040220``), ``WhoAmI`` and ``RetrieveUserPrivileges``.

Every caller holds the same privileges: the stand-in's ``privileges`` set, which tests change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .dataverse_records import TABLES
from .dataverse_responses import DataverseError, odata_json
from .messages import Response

# What the tests' application user holds: create leads, assign them an owner, read what routing looks up.
DEFAULT_PRIVILEGES = frozenset(
    {"prvCreateLead", "prvReadLead", "prvWriteLead", "prvAssignLead"} | {table[2] for table in TABLES.values()}
)
_STANDIN_NAMESPACE = uuid.UUID("5f0c3c1e-8f0e-4a8e-9d7e-2b8f7c1d0a11")


def systemuser_id(principal: str) -> str:
    """The systemuserid Dataverse would map this caller to (stable per principal)."""
    return str(uuid.uuid5(_STANDIN_NAMESPACE, principal))


def _privilege_id(name: str) -> str:
    return str(uuid.uuid5(_STANDIN_NAMESPACE, name))


@dataclass(frozen=True)
class Caller:
    """One request's caller: the Web API root it called (``…/api/data/v9.2``), its systemuserid, its privileges."""

    api: str
    user_id: str
    privileges: set[str]

    def require(self, privilege: str, entity: str = "lead") -> None:
        if privilege not in self.privileges:
            raise DataverseError(
                403,
                "0x80040220",
                f"Principal user (Id={self.user_id}, type=8, roleCount=1, privilegeCount={len(self.privileges)}, "
                f"accessMode=4), is missing {privilege} privilege (Id={_privilege_id(privilege)}) "
                f"on OTC=4 for entity '{entity}'. context.Caller={self.user_id}",
            )


def who_am_i(caller: Caller, business_unit_id: str, organization_id: str) -> Response:
    return odata_json(
        200,
        {
            "@odata.context": f"{caller.api}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": business_unit_id,
            "UserId": caller.user_id,
            "OrganizationId": organization_id,
        },
    )


def user_privileges(api: str, privileges: set[str], business_unit_id: str) -> Response:
    """``RetrieveUserPrivileges``: every privilege held, at global depth."""
    role_privileges = [
        {"Depth": "Global", "PrivilegeId": _privilege_id(name), "BusinessUnitId": business_unit_id,
         "PrivilegeName": name}
        for name in sorted(privileges)
    ]  # fmt: skip
    return odata_json(
        200,
        {
            "@odata.context": f"{api}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
            "RolePrivileges": role_privileges,
        },
    )
