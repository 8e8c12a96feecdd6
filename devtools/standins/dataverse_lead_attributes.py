"""The lead table's standard columns as Microsoft's published reference lists them (Lead table/entity reference,
MicrosoftDocs/dynamics-365-customer-engagement ce/developer/reference/entities/lead.md): logical name, type,
MaxLength of text columns, option values of choice columns, and whether the column can be written.

Confirmed from the reference: names, types, lengths, options, and which columns are read-only (false for both
IsValidForCreate and IsValidForUpdate). Inferred: the reference lists "writable" columns as valid for create *or*
update, "usually both"; every writable column is taken as valid for create here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_VALUE = {1: "Default Value"}


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str  # AttributeType as the Web API spells it: String, Memo, Picklist, Boolean, Lookup…
    max_length: int | None = None  # String and Memo
    options: dict[int, str] = field(default_factory=dict)  # Picklist, State, Status: value → label
    valid_for_create: bool = True
    custom: bool = False

    @property
    def type_name(self) -> str:
        """AttributeTypeName.Value (``StringType``…)."""
        return f"{self.kind}Type"


def _text(name: str, length: int, kind: str = "String", writable: bool = True) -> Attribute:
    return Attribute(name, kind, length, valid_for_create=writable)


def _choice(name: str, labels: str | dict[int, str], first: int = 0, kind: str = "Picklist") -> Attribute:
    options = labels if isinstance(labels, dict) else dict(enumerate(labels.split("|"), first))
    return Attribute(name, kind, options=options)


def _address(n: int) -> list[Attribute]:
    prefix = f"address{n}_"
    texts = {"city": 80, "country": 80, "county": 50, "fax": 50, "line1": 250, "line2": 250, "line3": 250,
             "name": 100, "postalcode": 20, "postofficebox": 20, "stateorprovince": 50, "telephone1": 50,
             "telephone2": 50, "telephone3": 50, "upszone": 4}  # fmt: skip
    return [
        Attribute(prefix + "addressid", "Uniqueidentifier"),
        _choice(prefix + "addresstypecode", DEFAULT_VALUE),
        _choice(prefix + "shippingmethodcode", DEFAULT_VALUE),
        Attribute(prefix + "latitude", "Double"),
        Attribute(prefix + "longitude", "Double"),
        Attribute(prefix + "utcoffset", "Integer"),
        *(_text(prefix + name, length) for name, length in texts.items()),
        _text(prefix + "composite", 1000, "Memo", writable=False),
    ]


INDUSTRIES = (
    "Accounting|Agriculture and Non-petrol Natural Resource Extraction|Broadcasting Printing and Publishing|Brokers|"
    "Building Supply Retail|Business Services|Consulting|Consumer Services|Design, Direction and Creative Management|"
    "Distributors, Dispatchers and Processors|Doctor's Offices and Clinics|Durable Manufacturing|"
    "Eating and Drinking Places|Entertainment Retail|Equipment Rental and Leasing|Financial|"
    "Food and Tobacco Processing|Inbound Capital Intensive Processing|Inbound Repair and Services|Insurance|"
    "Legal Services|Non-Durable Merchandise Retail|Outbound Consumer Service|"
    "Petrochemical Extraction and Distribution|Service Retail|SIG Affiliations|Social Services|"
    "Special Outbound Trade Contractors|Specialty Realty|Transportation|Utility Creation and Distribution|"
    "Vehicle Retail|Wholesale"
)
LEAD_SOURCES = (
    "Advertisement|Employee Referral|External Referral|Partner|Public Relations|Seminar|Trade Show|Web|"
    "Word of Mouth|Other"
)

_WRITABLE = [
    *_address(1),
    *_address(2),
    Attribute("budgetamount", "Money"),
    _choice("budgetstatus", "No Committed Budget|May Buy|Can Buy|Will Buy"),
    _text("businesscard", 1073741823, "Memo"),
    _text("businesscardattributes", 4000),
    Attribute("campaignid", "Lookup"),
    _text("companyname", 100),
    Attribute("confirminterest", "Boolean"),
    Attribute("customerid", "Customer"),
    Attribute("customeridtype", "EntityName"),
    Attribute("decisionmaker", "Boolean"),
    _text("description", 2000, "Memo"),
    *(Attribute(f"donot{name}", "Boolean") for name in ("bulkemail", "email", "fax", "phone", "postalmail", "sendmm")),
    *(_text(f"emailaddress{n}", 100) for n in (1, 2, 3)),
    Attribute("entityimage", "Image"),
    Attribute("estimatedamount", "Money"),
    Attribute("estimatedclosedate", "DateTime"),
    Attribute("estimatedvalue", "Double"),
    Attribute("evaluatefit", "Boolean"),
    _text("fax", 50),
    _text("firstname", 50),
    Attribute("followemail", "Boolean"),
    Attribute("importsequencenumber", "Integer"),
    _choice("industrycode", INDUSTRIES, first=1),
    _choice("initialcommunication", "Contacted|Not Contacted"),
    _text("jobtitle", 100),
    _text("lastname", 50),
    Attribute("lastonholdtime", "DateTime"),
    Attribute("lastusedincampaign", "DateTime"),
    Attribute("leadid", "Uniqueidentifier"),
    _choice("leadqualitycode", "Hot|Warm|Cold", first=1),
    _choice("leadsourcecode", LEAD_SOURCES, first=1),
    _text("middlename", 50),
    _text("mobilephone", 20),
    Attribute("msdyn_gdproptout", "Boolean"),
    _choice("msdyn_leadgrade", "Grade A|Grade B|Grade C|Grade D"),
    Attribute("msdyn_leadkpiid", "Lookup"),
    Attribute("msdyn_leadscore", "Integer"),
    _choice("msdyn_leadscoretrend", "Improving|Steady|Declining|Not enough info"),
    Attribute("msdyn_predictivescoreid", "Lookup"),
    _choice("msdyn_salesassignmentresult", "Succeeded|Failed"),
    _text("msdyn_scorehistory", 2000, "Memo"),
    _text("msdyn_scorereasons", 2000, "Memo"),
    Attribute("msdyn_segmentid", "Lookup"),
    _choice("need", "Must have|Should have|Good to have|No need"),
    Attribute("numberofemployees", "Integer"),
    Attribute("originatingcaseid", "Lookup"),
    Attribute("overriddencreatedon", "DateTime"),
    Attribute("ownerid", "Owner"),
    Attribute("owneridtype", "EntityName"),
    _text("pager", 20),
    Attribute("parentaccountid", "Lookup"),
    Attribute("parentcontactid", "Lookup"),
    Attribute("participatesinworkflow", "Boolean"),
    _choice("preferredcontactmethodcode", "Any|Email|Phone|Fax|Mail", first=1),
    _choice("prioritycode", DEFAULT_VALUE),
    Attribute("processid", "Uniqueidentifier"),
    _choice("purchaseprocess", "Individual|Committee|Unknown"),
    _choice("purchasetimeframe", "Immediate|This Quarter|Next Quarter|This Year|Unknown"),
    _text("qualificationcomments", 2000, "Memo"),
    Attribute("qualifyingopportunityid", "Lookup"),
    Attribute("relatedobjectid", "Lookup"),
    Attribute("revenue", "Money"),
    _choice("salesstage", "Qualify"),
    _choice("salesstagecode", DEFAULT_VALUE),
    _text("salutation", 100),
    Attribute("schedulefollowup_prospect", "DateTime"),
    Attribute("schedulefollowup_qualify", "DateTime"),
    _text("sic", 20),
    Attribute("slaid", "Lookup"),
    Attribute("stageid", "Uniqueidentifier"),
    _choice("statecode", "Open|Qualified|Disqualified", kind="State"),
    _choice("statuscode", "New|Contacted|Qualified|Lost|Cannot Contact|No Longer Interested|Canceled", 1, "Status"),
    _text("subject", 300),
    Attribute("teamsfollowed", "Integer"),
    *(_text(f"telephone{n}", 50) for n in (1, 2, 3)),
    Attribute("timezoneruleversionnumber", "Integer"),
    Attribute("transactioncurrencyid", "Lookup"),
    _text("traversedpath", 1250),
    Attribute("utcconversiontimezonecode", "Integer"),
    _text("websiteurl", 200),
    _text("yomicompanyname", 100),
    *(_text(f"yomi{name}name", 150) for name in ("first", "last", "middle")),
]
_READ_ONLY_KINDS = (
    ("accountid", "Lookup"), ("budgetamount_base", "Money"), ("contactid", "Lookup"), ("createdby", "Lookup"),
    ("createdon", "DateTime"), ("createdonbehalfby", "Lookup"), ("entityimage_timestamp", "BigInt"),
    ("entityimageid", "Uniqueidentifier"), ("estimatedamount_base", "Money"), ("exchangerate", "Decimal"),
    ("isautocreate", "Boolean"), ("isprivate", "Boolean"), ("masterid", "Lookup"), ("merged", "Boolean"),
    ("modifiedby", "Lookup"), ("modifiedon", "DateTime"), ("modifiedonbehalfby", "Lookup"),
    ("onholdtime", "Integer"), ("owningbusinessunit", "Lookup"), ("owningteam", "Lookup"),
    ("owninguser", "Lookup"), ("revenue_base", "Money"), ("slainvokedid", "Lookup"), ("versionnumber", "BigInt"),
)  # fmt: skip
_READ_ONLY_TEXT = (
    ("customeridname", 160), ("customeridyominame", 450), ("entityimage_url", 200), ("fullname", 160),
    ("owneridname", 100), ("owneridyominame", 100), ("timespentbymeonemailandmeetings", 1250),
    ("yomifullname", 450),
)  # fmt: skip
_READ_ONLY = [
    *(Attribute(name, kind, valid_for_create=False) for name, kind in _READ_ONLY_KINDS),
    *(_text(name, length, writable=False) for name, length in _READ_ONLY_TEXT),
]
LEAD_ATTRIBUTES: dict[str, Attribute] = {attribute.name: attribute for attribute in (*_WRITABLE, *_READ_ONLY)}
