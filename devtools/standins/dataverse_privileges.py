"""Who the Dataverse stand-in's caller is and what they may do: the systemuserid a principal maps to, the
privilege check (403 ``0x80040220``), ``WhoAmI``, ``RetrieveUserPrivileges`` and
``RetrieveUserSetOfPrivilegesByNames``.

Every caller holds the same privileges: those of its own security roles (the stand-in's ``privileges`` set) and
those it inherits from the roles of teams it is a member of (``team_privileges``); tests change both. Dataverse
enforces both kinds. Which function reports which kind:
- RetrieveUserSetOfPrivilegesByNames: both. Confirmed by its Web API reference ("privileges for a system user
  (user) has through their roles, and inherited privileges from their team membership") and by "Verifying access
  in code" (these messages "include privileges that the user might have from teams").
- RetrieveUserPrivileges: the user's own roles only. Microsoft's pages disagree (the Web API function page: "through
  his or her roles in the specified business unit"; the current SDK class page adds team membership), so this is
  the narrower reading [U]; the app does not rely on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .dataverse_records import TABLES
from .dataverse_responses import DataverseError, odata_json
from .messages import Response

# What the tests' application user holds: create leads, assign them an owner, read what routing looks up, add notes
# to leads (returning customers).
DEFAULT_PRIVILEGES = frozenset(
    {"prvCreateLead", "prvReadLead", "prvWriteLead", "prvAppendLead", "prvAssignLead", "prvAppendToLead"}
    | {"prvCreateNote", "prvAppendNote"}
    | {"prvAppendToCampaign", "prvAppendToContact", "prvAppendToAccount"}
    | {table[2] for table in TABLES.values()}
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


def user_privileges(api: str, privileges: set[str], business_unit_id: str, response: str = "") -> Response:
    """``RetrieveUserPrivileges`` (or, with ``response``, another function answering RolePrivileges): every
    privilege in ``privileges``, at global depth."""
    role_privileges = [
        {"Depth": "Global", "PrivilegeId": _privilege_id(name), "BusinessUnitId": business_unit_id,
         "PrivilegeName": name}
        for name in sorted(privileges)
    ]  # fmt: skip
    return odata_json(
        200,
        {
            "@odata.context": f"{api}/$metadata#Microsoft.Dynamics.CRM.{response or 'RetrieveUserPrivilegesResponse'}",
            "RolePrivileges": role_privileges,
        },
    )
