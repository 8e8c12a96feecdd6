"""The deployment templates in infra/ (Bicep, Azure Developer CLI conventions).

- checkov finds no failed security check (every deliberate exception is an inline ``// checkov:skip=ID: reason``);
- the app settings the templates create match ``leads.settings.SETTINGS`` both ways (drift test), and the secret
  settings are Key Vault references created by sign-in / mail mode, not by whether the secret value was given;
- the operator gets Key Vault Secrets Officer, so the documented ``az keyvault secret set`` works;
- the JSON files the deployment relies on parse, main.parameters.json's ``${NAME=default}`` defaults agree with
  main.bicep, and the scale cap still fits host.json's queue concurrency.

The Bicep compiler is not available offline, so checkov's own Bicep parser is the syntax check: a file it cannot
parse fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leads.core import events
from leads.core.lead_row import Status
from leads.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MAIN_BICEP = INFRA / "main.bicep"

# Settings the app reads that the templates deliberately leave unset, each with the reason.
NOT_SET_BY_TEMPLATES: dict[str, str] = {
    "AzureWebJobsStorage": "a connection string needs the account key, and shared keys are disabled on the storage "
    "account; in Azure the host and the app use the identity-based AzureWebJobsStorage__* settings instead (even "
    "an empty AzureWebJobsStorage makes a Flex Consumption host try it). It is for Azurite and local runs.",
    "MARKETPLACE_TABLE_CONNECTION": "it holds the account key of the publisher's other storage account (a secret); "
    "in Azure the app reads that table with its identity instead (MARKETPLACE_TABLE_ENDPOINT, from "
    "marketplaceStorageAccountId, with Storage Table Data Reader granted on the table). It is for the command line.",
    "LOOPBACK_CA_FILE": "a test CA for services on the developer's own machine (`make run`'s stand-ins); nothing in "
    "Azure listens on loopback, and the app's outgoing HTTPS trusts the platform's CA bundle.",
    "AzureWebJobsStorage__accountName": "the templates set the explicit https service URIs "
    "(AzureWebJobsStorage__blobServiceUri, __queueServiceUri, __tableServiceUri), which the host and the app "
    "prefer and which also hold outside the public cloud.",
}

# Settings the templates (or local.settings.sample.json) set that the app's code does not read: the platform does.
PLATFORM_SETTINGS: dict[str, str] = {
    "AzureWebJobsStorage__blobServiceUri": "the Functions host's own storage (keys, timer and singleton leases); "
    "the app itself only uses tables and queues.",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where the host and the worker send telemetry.",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "telemetry authenticated with the user-assigned identity "
    "(Application Insights has local authentication disabled).",
    "FUNCTIONS_WORKER_RUNTIME": "Core Tools needs it locally; on Flex Consumption the runtime is "
    "functionAppConfig.runtime and this setting is not allowed, so the templates do not set it.",
}

SECRET_SETTINGS = ("AZURE_CLIENT_SECRET", "DYNAMICS_PASSWORD", "SMTP_PASSWORD", "TEAMS_WEBHOOK_URL")

# When main.bicep creates each secret's Key Vault reference: by the mode that needs the secret, never by whether the
# secret's parameter has a value (`azd provision` replaces every app setting, so a provision without the value would
# otherwise delete the reference to a secret that is still in the vault).
SECRET_SETTING_CONDITIONS: dict[str, str] = {
    "AZURE_CLIENT_SECRET": "dynamicsAuth == 'client_secret'",
    "DYNAMICS_PASSWORD": "dynamicsAuth == 'username_password'",
    "SMTP_PASSWORD": "mailTransport == 'smtp' && !empty(smtpUsername)",
    "TEAMS_WEBHOOK_URL": "toLower(teamsNotifications) == 'true'",
}
SECRET_PARAMETERS = ("azureClientSecret", "dynamicsPassword", "smtpPassword", "teamsWebhookUrl")

# Built-in role the operator (azd's AZURE_PRINCIPAL_ID) gets on the vault, so docs/deploy.md's
# `az keyvault secret set` works: Key Vault Secrets Officer.
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"

# Dataverse service-protection limit: concurrent requests per user (the application user) per web server.
DATAVERSE_CONCURRENT_REQUESTS = 52

_BLOCK = re.compile(r"^\s*// app-settings:begin\b.*?$(.*?)^\s*// app-settings:end\b", re.MULTILINE | re.DOTALL)
_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+?)\s*$")
# azd substitution in main.parameters.json: "${NAME}" or "${NAME=default}".
_AZD_VALUE = re.compile(r"^\$\{(\w+)(?:=([^}]*))?\}$")


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def template_settings() -> dict[str, str]:
    """Every app setting the templates create: name → the Bicep expression of its value.

    Settings are the keys of the objects between ``// app-settings:begin`` and ``// app-settings:end`` markers.
    """
    found: dict[str, str] = {}
    for path in bicep_files():
        for block in _BLOCK.findall(path.read_text(encoding="utf-8")):
            for line in block.splitlines():
                if line.strip().startswith("//"):
                    continue
                match = _KEY.match(line)
                if match:
                    name, value = match.groups()
                    assert name not in found, f"{path.relative_to(ROOT)} sets {name} twice"
                    found[name] = value
    return found


def bicep_params(path: Path) -> dict[str, str]:
    """``param name type [= default]`` declarations: name → default (empty when there is none)."""
    params: dict[str, str] = {}
    for match in re.finditer(r"^param\s+(\w+)\s+\w+(?:\s*=\s*(.+?))?\s*$", path.read_text(encoding="utf-8"), re.M):
        params[match.group(1)] = match.group(2) or ""
    return params


def parameter_file_defaults() -> dict[str, str]:
    """main.parameters.json values of the form ``${NAME=default}``: parameter name → default."""
    defaults: dict[str, str] = {}
    for name, entry in load_json("infra/main.parameters.json")["parameters"].items():
        match = _AZD_VALUE.match(str(entry.get("value", "")))
        if match and match.group(2) is not None:
            defaults[name] = match.group(2)
    return defaults


def load_json(name: str) -> Any:
    path = ROOT / name
    if not path.exists():
        pytest.fail(f"{name} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        pytest.fail(f"{name} is not valid JSON: {exc}")


# --- checkov ---------------------------------------------------------------------------------------------


def checkov_command() -> list[str]:
    """checkov from $CHECKOV, this interpreter, the tool venv .venv/checkov (see docs/deploy.md) or PATH."""
    if os.environ.get("CHECKOV"):
        return [os.environ["CHECKOV"]]
    if importlib.util.find_spec("checkov") is not None:
        return [sys.executable, "-m", "checkov.main"]
    for candidate in (ROOT / ".venv" / "checkov" / "bin" / "checkov", shutil.which("checkov")):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    pytest.fail(
        "checkov is not installed. It pins packaging<24 while pytest 9 needs packaging>=24, so it lives in its own "
        "virtualenv: python3 -m venv .venv/checkov && .venv/checkov/bin/pip install -r infra/requirements-checkov.txt "
        "(or point $CHECKOV at a checkov executable)"
    )


def run_checkov() -> dict[str, Any]:
    command = [
        *checkov_command(),
        *("--directory", str(INFRA), "--framework", "bicep", "--skip-download", "--compact"),
        *("--output", "json"),  # parsed here, so not --quiet: that would drop the skipped checks and their reasons
    ]
    # No update check against PyPI: the scan is offline.
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    except OSError as exc:
        pytest.fail(f"cannot run checkov ({' '.join(command[:3])}): {exc}")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not produce a JSON report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    if isinstance(report, list):  # one report per framework when several ran
        report = next((item for item in report if item.get("check_type") == "bicep"), {})
    assert isinstance(report, dict) and "summary" in report, f"unexpected checkov report: {done.stdout[:2000]}"
    return report


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    return run_checkov()


def test_checkov_parses_every_template(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    unparsed = checkov_report["results"].get("parsing_errors", [])
    assert summary["parsing_errors"] == 0, f"checkov could not parse: {unparsed}"
    assert summary["resource_count"] > 0


def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} "
        f"({check['file_path']}:{check['file_line_range'][0]})"
        for check in checkov_report["results"]["failed_checks"]
    ]
    advice = "fix them, or add `// checkov:skip=ID: reason` inside the resource"
    assert not failed, f"checkov failed checks ({advice}):\n" + "\n".join(failed)


def test_every_checkov_skip_says_why(checkov_report: dict[str, Any]) -> None:
    unexplained = [
        f"{check['check_id']} on {check['resource']} ({check['file_path']})"
        for check in checkov_report["results"]["skipped_checks"]
        if len((check.get("check_result") or {}).get("suppress_comment") or "") < 20
    ]
    assert not unexplained, "skips without a reason: " + ", ".join(unexplained)


# The security settings the templates promise (docs/deploy.md), as they must appear in the Bicep text. checkov covers
# some of them, not all (it has no Bicep check for allowBlobPublicAccess, for example).
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    "core/storage/storage-account.bicep": (
        "allowBlobPublicAccess: false",
        "allowSharedKeyAccess: false",
        "minimumTlsVersion: 'TLS1_2'",
        "supportsHttpsTrafficOnly: true",
        "defaultToOAuthAuthentication: true",
    ),
    "app/api.bicep": (
        "name: 'FC1'",
        "tier: 'FlexConsumption'",
        "httpsOnly: true",
        "minTlsVersion: '1.2'",
        "scmMinTlsVersion: '1.2'",
        "ftpsState: 'Disabled'",
        "type: 'UserAssigned'",
        "keyVaultReferenceIdentity: identityId",
        "type: 'UserAssignedIdentity'",
        "name: 'python'",
    ),
    "core/security/key-vault.bicep": (
        "enableRbacAuthorization: true",
        "enableSoftDelete: true",
        "enablePurgeProtection: true",
    ),
    "core/monitor/monitoring.bicep": ("DisableLocalAuth: true",),
}


@pytest.mark.parametrize("path", sorted(REQUIRED_SETTINGS))
def test_security_settings_are_in_place(path: str) -> None:
    text = (INFRA / path).read_text(encoding="utf-8")
    lines = {line.strip() for line in text.splitlines()}
    missing = [setting for setting in REQUIRED_SETTINGS[path] if setting not in lines]
    assert not missing, f"infra/{path} lacks: {missing}"


def test_basic_publishing_credentials_are_off_for_ftp_and_scm() -> None:
    text = (INFRA / "app" / "api.bicep").read_text(encoding="utf-8")
    policy = r"basicPublishingCredentialsPolicies@[\w-]+' = \{\s*parent: site\s*name: '(\w+)'"
    policies = re.findall(policy + r"\s*properties: \{\s*allow: false", text)
    assert sorted(policies) == ["ftp", "scm"]


def test_python_version_is_3_11() -> None:
    assert re.search(r"^param pythonVersion string = '3\.11'$", (INFRA / "app" / "api.bicep").read_text(), re.M)


# --- app settings drift -------------------------------------------------------------------------------------


def test_every_app_setting_is_set_by_the_templates_or_excluded_with_a_reason() -> None:
    settings = template_settings()
    assert settings, "no `// app-settings:begin` ... `// app-settings:end` block found in infra/"
    missing = sorted(name for name in SETTINGS if name not in settings and name not in NOT_SET_BY_TEMPLATES)
    assert not missing, f"the app reads these settings but infra/ does not set them: {missing}"
    both = sorted(name for name in NOT_SET_BY_TEMPLATES if name in settings)
    assert not both, f"set by infra/ yet listed in NOT_SET_BY_TEMPLATES: {both}"
    stale = sorted(name for name in NOT_SET_BY_TEMPLATES if name not in SETTINGS)
    assert not stale, f"NOT_SET_BY_TEMPLATES names settings the app no longer reads: {stale}"


def test_every_template_setting_is_read_by_the_app_or_the_platform() -> None:
    unknown = sorted(name for name in template_settings() if name not in SETTINGS and name not in PLATFORM_SETTINGS)
    assert not unknown, f"infra/ sets settings nobody reads (typo, or add them to PLATFORM_SETTINGS): {unknown}"


def test_identity_based_storage_settings() -> None:
    settings = template_settings()
    assert settings["AzureWebJobsStorage__credential"] == "'managedidentity'"
    for service in ("blob", "queue", "table"):
        assert f"AzureWebJobsStorage__{service}ServiceUri" in settings
    assert "AzureWebJobsStorage" not in settings


def test_secrets_are_key_vault_references() -> None:
    settings = template_settings()
    for name in SECRET_SETTINGS:
        assert settings[name].startswith("'@Microsoft.KeyVault(SecretUri="), f"{name} must be a Key Vault reference"


def test_secret_references_follow_the_mode_not_the_secret_value() -> None:
    text = MAIN_BICEP.read_text(encoding="utf-8")
    for name, condition in SECRET_SETTING_CONDITIONS.items():
        match = re.search(rf"^var \w+ = (.+?) \? \{{\s*{name}:", text, re.M)
        assert match, f"main.bicep: no `var ... = <condition> ? {{ {name}: ... }} : {{}}`"
        assert match.group(1) == condition, f"{name} is created when {match.group(1)!r}, expected {condition!r}"
        assert not any(param in match.group(1) for param in SECRET_PARAMETERS), f"{name} depends on the secret value"


def test_operator_can_write_key_vault_secrets() -> None:
    text = (INFRA / "app" / "rbac.bicep").read_text(encoding="utf-8")
    assert f"keyVaultSecretsOfficer: '{KEY_VAULT_SECRETS_OFFICER}'" in text
    assignment = re.search(
        r"resource \w+ '[^']+' = if \(!empty\(operatorPrincipalId\)\) \{\s*"
        r"name: guid\(vault\.id, operatorPrincipalId, roles\.keyVaultSecretsOfficer\)\s*scope: vault\b",
        text,
    )
    assert assignment, "app/rbac.bicep: the operator needs Key Vault Secrets Officer on the vault"


@pytest.mark.parametrize("name", ["RECONCILE_SCHEDULE"])
def test_timer_schedules_are_always_set(name: str) -> None:
    # The reconciliation timer reads %RECONCILE_SCHEDULE%: an unset or empty setting stops the host indexing it.
    value = template_settings()[name]
    assert "'0 */5 * * * *'" in value, f"{name} needs a fallback for an empty parameter: {value}"


def test_the_marketplace_table_is_readable_by_the_app_only_when_configured() -> None:
    text = MAIN_BICEP.read_text(encoding="utf-8")
    module = re.search(r"^module \w+ 'app/marketplace-table-reader\.bicep' = if \((\w+)\)", text, re.M)
    assert module, "main.bicep: the marketplace table reader module must be conditional"
    assert f"var {module.group(1)} = !empty(marketplaceTable) && !empty(marketplaceStorageAccountId)" in text
    reader = (INFRA / "app" / "marketplace-table-reader.bicep").read_text(encoding="utf-8")
    assert "var storageTableDataReader = '76199698-9eea-4c19-bc75-cec21354c6b6'" in reader
    assert "scope: table" in reader


# --- JSON files and scale ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["host.json", "local.settings.sample.json", "infra/main.parameters.json"])
def test_json_files_parse(name: str) -> None:
    assert isinstance(load_json(name), dict)


def test_local_settings_sample_names_known_settings() -> None:
    values = load_json("local.settings.sample.json").get("Values", {})
    unknown = sorted(name for name in values if name not in SETTINGS and name not in PLATFORM_SETTINGS)
    assert not unknown, f"local.settings.sample.json sets settings nobody reads: {unknown}"


def test_parameters_file_matches_main_bicep() -> None:
    declared = bicep_params(MAIN_BICEP)
    given = load_json("infra/main.parameters.json")["parameters"]
    unknown = sorted(name for name in given if name not in declared)
    assert not unknown, f"infra/main.parameters.json sets parameters main.bicep does not declare: {unknown}"
    required = sorted(name for name, default in declared.items() if not default and name not in given)
    assert not required, f"main.bicep parameters without a default or a value in main.parameters.json: {required}"


def test_parameter_file_defaults_match_main_bicep() -> None:
    # "${LEADS_MAX_INSTANCES=8}" and the like: azd uses the default when the variable is not in the azd environment,
    # so it must agree with the template's own default (azd converts numeric strings for int parameters).
    declared = bicep_params(MAIN_BICEP)
    differ = {
        name: (default, declared[name])
        for name, default in parameter_file_defaults().items()
        if declared.get(name) and declared[name].strip("'") != default
    }
    assert not differ, f"main.parameters.json default vs main.bicep default: {differ}"


def test_integer_parameters_can_be_set_with_azd_env_set() -> None:
    given = load_json("infra/main.parameters.json")["parameters"]
    for name in ("maximumInstanceCount", "instanceMemoryMB", "httpAlwaysReadyInstances"):
        assert _AZD_VALUE.match(str(given.get(name, {}).get("value", ""))), f"{name} is not mapped to an azd variable"
        assert int(parameter_file_defaults()[name]) == int(bicep_params(MAIN_BICEP)[name])


def test_instance_cap_keeps_dataverse_under_its_concurrency_limit() -> None:
    queues = load_json("host.json")["extensions"]["queues"]
    per_instance = queues["batchSize"] + queues["newBatchThreshold"]
    cap = max(
        int(bicep_params(MAIN_BICEP)["maximumInstanceCount"]), int(parameter_file_defaults()["maximumInstanceCount"])
    )
    assert cap * per_instance <= DATAVERSE_CONCURRENT_REQUESTS, (
        f"maximumInstanceCount {cap} x {per_instance} leads per instance (host.json) exceeds Dataverse's "
        f"{DATAVERSE_CONCURRENT_REQUESTS} concurrent requests: lower maximumInstanceCount in infra/main.bicep "
        "and LEADS_MAX_INSTANCES's default in infra/main.parameters.json, and update the comment and docs/deploy.md"
    )


# --- alerts and the workbook (infra/core/monitor) ------------------------------------------------------------

ALERTS_BICEP = INFRA / "core" / "monitor" / "alerts.bicep"
WORKBOOK_BICEP = INFRA / "core" / "monitor" / "workbook.bicep"
_EVENT_NAME = re.compile(r'"(lead\.\w+)"')
_DIMENSION = re.compile(r"customDimensions\.(\w+)")


def emitted_fields() -> set[str]:
    """Every field the app's events carry (leads/core/events.py), from an entity with every column they read."""
    entity = {"LeadId": "abc12345", "OfferId": "o", "Action": "INS", "ReceivedAt": datetime(2026, 1, 1, tzinfo=UTC)}
    at = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    samples = [
        events.received(entity),
        events.in_dynamics(entity, at),
        events.sent(entity, "NotifiedAt", at),
        events.finished(entity, Status.FAILED, "DataverseRejected: 400"),
        events.poisoned(entity),
        events.reenqueued(entity),
    ]
    return {field for sample in samples for field in sample}


def alert_rules() -> list[str]:
    """The entries of alerts.bicep's ``rules`` list, one text each."""
    text = ALERTS_BICEP.read_text(encoding="utf-8")
    body = re.search(r"^var rules = \[\n(.*?)^\]", text, re.M | re.S)
    assert body, "alerts.bicep: no `var rules = [ ... ]`"
    return re.findall(r"^  \{\n(.*?)^  \}", body.group(1), re.M | re.S)


def test_alerts_and_workbook_are_deployed_from_main_with_application_insights() -> None:
    text = MAIN_BICEP.read_text(encoding="utf-8")
    for module, path in (("alerts", "core/monitor/alerts.bicep"), ("workbook", "core/monitor/workbook.bicep")):
        declared = re.search(rf"^module {module} '{path}' = \{{(.*?)^\}}", text, re.M | re.S)
        assert declared, f"main.bicep does not deploy {path} as module {module}"
        assert "applicationInsightsName: monitoring.outputs.applicationInsightsName" in declared.group(1)
    assert re.search(r"^\s*operationsEmail: operationsAddress$", text, re.M)


def test_operations_address_defaults_to_the_first_contact() -> None:
    text = MAIN_BICEP.read_text(encoding="utf-8")
    assert bicep_params(MAIN_BICEP)["operationsEmail"] == "''"
    assert re.search(
        r"^var operationsAddress = !empty\(trim\(operationsEmail\)\) \? trim\(operationsEmail\) "
        r": trim\(first\(split\(notifyTo, ';'\)\)\)$",
        text,
        re.M,
    ), "operationsEmail must fall back to NOTIFY_TO's first address"


def test_the_action_group_emails_the_operations_address() -> None:
    text = ALERTS_BICEP.read_text(encoding="utf-8")
    group = re.search(r"^resource operations 'Microsoft\.Insights/actionGroups@[\w-]+' = \{(.*?)^\}", text, re.M | re.S)
    assert group, "alerts.bicep: no action group `operations`"
    assert "emailAddress: operationsEmail" in group.group(1)
    assert "useCommonAlertSchema: true" in group.group(1)


def test_every_alert_rule_notifies_the_action_group() -> None:
    text = ALERTS_BICEP.read_text(encoding="utf-8")
    resources = re.findall(
        r"^resource \w+ 'Microsoft\.Insights/scheduledQueryRules@[\w-]+' = (.*?)^\}", text, re.M | re.S
    )
    assert len(resources) == 1, "one scheduledQueryRules resource, looping over `rules`"
    (rule_resource,) = resources
    assert rule_resource.startswith("[for rule in rules: {")
    assert re.search(r"actionGroups: \[\s*operations\.id\s*\]", rule_resource)
    assert "scopes: [\n      applicationInsights.id\n    ]" in rule_resource
    others = [p for p in bicep_files() if p != ALERTS_BICEP and "scheduledQueryRules" in p.read_text(encoding="utf-8")]
    assert not others, f"alert rules outside alerts.bicep escape this check: {others}"


def test_the_four_alert_rules_watch_what_the_issue_asks_for() -> None:
    rules = {re.search(r"key: '([\w-]+)'", rule).group(1): rule for rule in alert_rules()}  # type: ignore[union-attr]
    assert sorted(rules) == ["function-failing", "lead-failed", "lead-poison", "lead-stranded"]
    assert f'"{events.FAILED}"' in rules["lead-failed"]
    assert f'"{events.REENQUEUED}"' in rules["lead-stranded"]
    assert "requests | where success == false" in rules["function-failing"]
    assert 'requests | where name == "${poisonFunctionName}"' in rules["lead-poison"]
    for key, rule in rules.items():
        for part in (
            "displayName: '",
            "description: '",
            "severity: ",
            "threshold: ",
            "windowSize: 'PT",
            "evaluationFrequency: 'PT",
        ):
            assert part in rule, f"alert rule {key} lacks {part.strip(': ')}"


def test_the_poison_alert_watches_the_function_bound_to_the_poison_queue() -> None:
    default = bicep_params(ALERTS_BICEP)["poisonFunctionName"].strip("'")
    app = (ROOT / "function_app.py").read_text(encoding="utf-8")
    bound = re.search(r'queue_name="%LEADS_QUEUE%-poison"[^\n]*\)\ndef (\w+)\(', app)
    assert bound and bound.group(1) == default, f"the poison alert watches {default!r}, function_app.py binds {bound}"


@pytest.mark.parametrize("path", [ALERTS_BICEP, WORKBOOK_BICEP], ids=lambda p: p.name)
def test_queries_name_only_events_and_fields_the_app_emits(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    unknown = sorted(set(_EVENT_NAME.findall(text)) - set(events.ALL))
    assert not unknown, f"{path.name} queries events the app does not log (leads/core/events.py): {unknown}"
    fields = sorted(set(_DIMENSION.findall(text)) - emitted_fields())
    assert not fields, f"{path.name} reads customDimensions the events do not carry: {fields}"


def test_the_workbook_shows_leads_failures_and_speed_to_lead() -> None:
    text = WORKBOOK_BICEP.read_text(encoding="utf-8")
    names = set(_EVENT_NAME.findall(text))
    assert {events.RECEIVED, events.FAILED, events.IN_DYNAMICS, events.NOTIFIED} <= names
    for panel in ("leads-per-day", "failures", "speed-to-lead"):
        assert f"name: '{panel}'" in text, f"workbook panel {panel} is missing"
    assert "percentile(seconds, 50)" in text and "percentile(seconds, 95)" in text
    assert "serializedData: string(workbook)" in text and "sourceId: applicationInsights.id" in text


def test_speed_to_lead_in_the_workbook_counts_leads_received_over_https_only() -> None:
    # An imported lead's ReceivedAt is when the marketplace got it, maybe days earlier (speed.measures_speed).
    text = WORKBOOK_BICEP.read_text(encoding="utf-8")
    speed = re.search(r"^var speedEvents = '(.*)'$", text, re.M)
    assert speed, "workbook.bicep: no `var speedEvents = '…'`"
    assert 'tostring(customDimensions.origin) in ("", "https")' in speed.group(1)
    assert "| where isnotnull(seconds)" in speed.group(1)
    for query in ("speedToLead", "speedPerDay"):
        assert re.search(rf"^  {query}: '\$\{{speedEvents\}} ", text, re.M), f"{query} must start from speedEvents"


# --- extra Teams channels (routing rules' `teams = "NAME"`) ----------------------------------------------------------


def test_extra_teams_channels_deploy_as_key_vault_references_by_name() -> None:
    text = MAIN_BICEP.read_text(encoding="utf-8")
    params = bicep_params(MAIN_BICEP)
    assert params["teamsChannelSettings"] == "''" and params["teamsChannelUrls"] == "''"
    assert re.search(r"^@secure\(\)\n@description\('[^\n]*'\)\nparam teamsChannelUrls string", text, re.M)
    given = load_json("infra/main.parameters.json")["parameters"]
    assert given["teamsChannelSettings"]["value"] == "${LEADS_TEAMS_CHANNELS}"
    assert given["teamsChannelUrls"]["value"] == "${LEADS_TEAMS_CHANNEL_URLS}"
    # One app setting per listed name, a reference to the secret named like it: created by the names, never by the
    # URLs (a provision without them must keep the references, as for the other secrets).
    loop = re.search(
        r"^var teamsChannelAppSettings = \[for name in teamsChannelNames: \{\n(.*?)^\}\]", text, re.M | re.S
    )
    assert loop, "main.bicep: no `var teamsChannelAppSettings = [for name in teamsChannelNames: {...}]`"
    assert "value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${toLower(replace(name, '_', '-'))})'" in (
        loop.group(1)
    )
    assert "teamsChannelUrls" not in loop.group(1)
    assert re.search(
        r"^var teamsChannelNames = filter\(split\(replace\(teamsChannelSettings, ' ', ''\), ','\)", text, re.M
    )
    assert "var keyVaultUri = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/'" in text
    assert re.search(
        r"^module keyVault 'core/security/key-vault\.bicep' = \{.*?^    name: keyVaultName$", text, re.M | re.S
    )
    api = re.search(r"^module api 'app/api\.bicep' = \{(.*?)^\}", text, re.M | re.S)
    assert api and "extraAppSettings: teamsChannelAppSettings" in api.group(1)
    assert "appSettings: concat(settingList, extraAppSettings)" in (INFRA / "app" / "api.bicep").read_text()


def test_extra_teams_channel_secrets_are_written_only_when_given() -> None:
    vault = (INFRA / "core" / "security" / "key-vault.bicep").read_text(encoding="utf-8")
    assert re.search(r"^@secure\(\)\n@description\('[^\n]*'\)\nparam teamsChannelUrls string = ''$", vault, re.M)
    assert "contains(teamsChannelNames, substring(pair, 0, indexOf(pair, '=')))" in vault
    loop = r"^module \w+ 'key-vault-secret\.bicep' = \[for \(pair, index\) in teamsChannelPairs: \{(.*?)^\}\]"
    module = re.search(loop, vault, re.M | re.S)
    assert module, "key-vault.bicep: the extra channels' secrets come from teamsChannelPairs"
    assert "name: toLower(replace(substring(pair, 0, indexOf(pair, '=')), '_', '-'))" in module.group(1)
    assert "'secret-teams-channel-${index}'" in module.group(1)  # the deployment's name holds no part of a URL
