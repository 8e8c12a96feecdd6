"""The Dataverse privileges each configured feature needs from the application user's security role (docs/deploy.md
lists the same). `check` asks Dataverse which of them the user holds, including those it holds through a team
(RetrieveUserSetOfPrivilegesByNames). Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from leads.core.routing import RoutingRules


@dataclass(frozen=True)
class Needed:
    privilege: str  # prvAssignLead
    label: str  # `check`'s line: "assign leads"
    grant: str  # as the security role shows it: "Assign on Lead"
    feature: str  # why it is needed

    def advice(self) -> str:
        return f"the user lacks {self.privilege}: give its security role {self.grant} ({self.feature})"


DYNAMICS = "every lead"
# Creating a lead: PATCH leads(id) with If-None-Match: * (create, never update); linking records to it needs Append.
LEADS = (
    Needed("prvCreateLead", "create leads", "Create on Lead", DYNAMICS),
    Needed("prvReadLead", "read leads", "Read on Lead", DYNAMICS),
    Needed("prvWriteLead", "write leads", "Write on Lead", DYNAMICS),
    Needed("prvAppendLead", "append to leads", "Append on Lead", "linking leads to campaigns and contacts"),
)
OWNERS = "rules give leads an owner"
ASSIGN = Needed("prvAssignLead", "assign leads", "Assign on Lead", OWNERS)
USERS = Needed("prvReadUser", "read users", "Read on User", "owner_user looks the user up")
TEAMS = Needed("prvReadTeam", "read teams", "Read on Team", "owner_team looks the team up")
CAMPAIGNS = "rules set campaigns"
READ_CAMPAIGNS = Needed("prvReadCampaign", "read campaigns", "Read on Campaign", CAMPAIGNS)
LINK_CAMPAIGNS = Needed("prvAppendToCampaign", "append to campaigns", "Append To on Campaign", CAMPAIGNS)
CONTACTS = "DYNAMICS_LINK_CONTACTS=true"
LINK_CONTACTS = (
    Needed("prvReadContact", "read contacts", "Read on Contact", CONTACTS),
    Needed("prvAppendToContact", "append to contacts", "Append To on Contact", CONTACTS),
    Needed("prvReadAccount", "read accounts", "Read on Account", CONTACTS),
    Needed("prvAppendToAccount", "append to accounts", "Append To on Account", CONTACTS),
)
RETURNING = "DYNAMICS_DUPLICATES attach or rules"
# A returning customer's event becomes a note on their open lead (steps/returning.py); an earlier try's note is read
# back by its id. Reading and filling in the open lead take Read and Write on Lead (above).
NOTES = (
    Needed("prvCreateNote", "create notes", "Create on Note", RETURNING),
    Needed("prvReadNote", "read notes", "Read on Note", RETURNING),
    Needed("prvAppendNote", "append notes", "Append on Note", RETURNING),
    Needed("prvAppendToLead", "append to leads", "Append To on Lead", RETURNING),
)
EVERY = (*LEADS, ASSIGN, USERS, TEAMS, READ_CAMPAIGNS, LINK_CAMPAIGNS, *LINK_CONTACTS, *NOTES)


def for_duplicates(mode: str) -> list[Needed]:
    """What DYNAMICS_DUPLICATES needs beyond creating leads."""
    return list(NOTES) if mode in ("attach", "rules") else []


def for_routing(rules: RoutingRules | None, link_contacts: bool) -> list[Needed]:
    """What the rules and contact linking need beyond creating leads."""
    needed: list[Needed] = []
    if rules is not None:
        kinds = {lookup.kind for _, _, lookup in rules.lookups()}
        needed += [ASSIGN] if rules.assign_owners else []
        needed += [USERS] if "user" in kinds else []
        needed += [TEAMS] if "team" in kinds else []
        needed += [READ_CAMPAIGNS, LINK_CAMPAIGNS] if rules.sets_campaigns else []
    if link_contacts:
        needed += LINK_CONTACTS
    return needed
