// marketplace-leads: Azure resources for `azd up` (Azure Developer CLI conventions).
// Creates a resource group with: a user-assigned managed identity, a storage account (host storage, the
// deployment package, the lead table and queues), Log Analytics + Application Insights, a Key Vault for the
// secrets, and the Function App on the Flex Consumption plan. docs/deploy.md explains every choice.
targetScope = 'subscription'

// --- azd -----------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; also makes the resource names unique.')
param environmentName string

@minLength(1)
@description('Azure region for every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the person running azd (azd sets AZURE_PRINCIPAL_ID): gets table and queue access for `python -m leads status` and `replay`, and Key Vault Secrets Officer on the app\'s vault to set and rotate secrets. Empty: none.')
param principalId string = ''

// --- scale -----------------------------------------------------------------------------------------------

// maximumInstanceCount: 8. Microsoft's Functions documentation (event-driven scaling, "Limit scale-out") says the
// cap applies to the on-demand instances of each function group (per-function scaling), not to the app's combined
// instances, and that the lowest value allowed is 1; the REST API reference describes it as "the maximum number of
// instances for the function app", which would only be stricter. Either way the queue-triggered function that writes
// to Dynamics runs on at most 8 instances. host.json (queues batchSize 4 + newBatchThreshold 2) runs at most 6 leads
// at once per instance, so at most 8 x 6 = 48 Dataverse requests are in flight: under Dataverse's service-protection
// limit of 52 concurrent requests per user (the application user is one user). The poison handler and the timer
// don't call Dataverse. Dataverse's 6,000 requests / 5 minutes, Microsoft Graph's 4 concurrent requests per mailbox
// and Exchange Online's 30 messages per minute cannot be guaranteed by any instance count (one instance can exceed
// them in a burst): the app honours 429 + Retry-After and the lead waits on the queue (visibilityTimeout 5 minutes).
// Leads are few (a handful a day), so 8 never limits normal traffic; it matters when a backlog is replayed.
// Fallback: if a deployment reports an error about the maximum instance count (earlier documentation gave 40 as the
// lowest value), set LEADS_MAX_INSTANCES=40 in the azd environment (docs/deploy.md explains what that means).
// main.parameters.json passes LEADS_MAX_INSTANCES (default 8, the same as here) to this parameter.
// tests/test_infra.py re-checks 8 x (batchSize + newBatchThreshold) <= 52 against host.json.
@description('Highest number of on-demand instances per function group: 8 keeps Dataverse under 52 concurrent requests (8 x 6 leads per instance).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 8

@description('Instance memory in MB (512, 2048 or 4096).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the HTTP intake (0: scale to zero, the cheapest; 1: no cold start when the marketplace posts, billed around the clock).')
@minValue(0)
@maxValue(10)
param httpAlwaysReadyInstances int = 0

@description('Storage redundancy (leads cannot be re-sent by Microsoft: the default keeps a copy in the paired region).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_GRS'

// --- app settings (leads/settings.py SETTINGS; docs/deploy.md lists them) ------------------------------------

@description('LEADS_TABLE: table holding every lead.')
@minLength(3)
@maxLength(63)
param leadsTable string = 'leads'

@description('LEADS_QUEUE: queue of leads waiting to be sent (the poison queue is <name>-poison, so at most 56 characters).')
@minLength(3)
@maxLength(56)
param leadsQueue string = 'leads'

@description('DYNAMICS_URL: your Dynamics 365 address, e.g. https://contoso.crm4.dynamics.com. Empty: leads are kept as held until you set it.')
param dynamicsUrl string = ''

@description('DYNAMICS_API_VERSION: Dataverse Web API version.')
param dynamicsApiVersion string = 'v9.2'

// No @allowed on the two flags: the app accepts true/1/yes/on and false/0/no/off in any case (leads/settings.py) and
// reports any other value as a settings problem; @allowed would be case-sensitive and narrower.
@description('DYNAMICS_ENABLED: true or false (also 1/0, yes/no, on/off, any case); empty: true when DYNAMICS_URL is set, else false (leads wait as held).')
param dynamicsEnabled string = ''

@description('DYNAMICS_AUTH: client_secret (app registration + secret, the default), managed_identity (this app\'s identity, no secret) or username_password (Office 365 user, not recommended).')
@allowed([
  'client_secret'
  'managed_identity'
  'username_password'
])
param dynamicsAuth string = 'client_secret'

@description('AZURE_TENANT_ID: Entra ID tenant of the app registration; empty: the tenant of this subscription.')
param azureTenantId string = ''

@description('AZURE_CLIENT_ID for client_secret and username_password: the app registration\'s client id. With managed_identity the app gets this deployment\'s identity instead.')
param azureClientId string = ''

@secure()
@description('AZURE_CLIENT_SECRET (client_secret mode): stored in Key Vault; empty: no secret is written (an existing one is kept). The app setting is a Key Vault reference in client_secret mode either way.')
param azureClientSecret string = ''

@description('DYNAMICS_USERNAME (username_password mode): the Office 365 user name.')
param dynamicsUsername string = ''

@secure()
@description('DYNAMICS_PASSWORD (username_password mode): stored in Key Vault; empty: no secret is written (an existing one is kept). The app setting is a Key Vault reference in username_password mode either way.')
param dynamicsPassword string = ''

@description('AZURE_AUTHORITY_HOST: Entra ID host for a sovereign cloud; empty: the public cloud (the setting is then not created).')
param azureAuthorityHost string = ''

@description('NOTIFY_TO: addresses told about each lead, separated by semicolons; empty: no email.')
param notifyTo string = ''

@description('NOTIFY_FROM: mailbox the notifications are sent from.')
param notifyFrom string = ''

@description('MAIL_TRANSPORT: graph, smtp or none.')
@allowed([
  'graph'
  'smtp'
  'none'
])
param mailTransport string = 'graph'

@description('GRAPH_URL: Microsoft Graph endpoint; empty: https://graph.microsoft.com.')
param graphUrl string = ''

@description('SMTP_HOST (smtp transport).')
param smtpHost string = ''

@description('SMTP_PORT.')
param smtpPort string = '587'

@description('SMTP_USERNAME (optional).')
param smtpUsername string = ''

@secure()
@description('SMTP_PASSWORD: stored in Key Vault; empty: no secret is written (an existing one is kept). The app setting is a Key Vault reference whenever MAIL_TRANSPORT is smtp and SMTP_USERNAME is set.')
param smtpPassword string = ''

@description('SMTP_STARTTLS: true or false (also 1/0, yes/no, on/off, any case).')
param smtpStartTls string = 'true'

@description('Post each lead to a Teams channel: true makes TEAMS_WEBHOOK_URL a Key Vault reference (the webhook URL carries a signature, so it is a secret).')
param teamsNotifications string = 'false'

@secure()
@description('TEAMS_WEBHOOK_URL, the channel\'s Workflows webhook: stored in Key Vault; empty: no secret is written (an existing one is kept).')
param teamsWebhookUrl string = ''

@description('Extra Teams channels for routing rules (`teams = "TEAMS_WEBHOOK_DACH"` in the rules file): their app setting names, separated by commas. Each becomes an app setting holding a Key Vault reference to the secret named like it in lower case with hyphens (TEAMS_WEBHOOK_DACH: teams-webhook-dach), whether or not this deployment is given its URL. Empty: none.')
param teamsChannelSettings string = ''

@secure()
@description('The extra channels\' webhook URLs, written to Key Vault: NAME=URL pairs separated by spaces (TEAMS_WEBHOOK_DACH=https://... TEAMS_WEBHOOK_NORDICS=https://...), for names listed in teamsChannelSettings. Empty: no secret is written (those in the vault are kept).')
param teamsChannelUrls string = ''

@description('LEAD_ROUTING_FILE: routing rules file (TOML) deployed with the app, relative to its folder (e.g. routing.toml); empty: no routing.')
param leadRoutingFile string = ''

@description('DYNAMICS_LINK_CONTACTS: true links each lead to the one active contact with its email address (also 1/0, yes/no, on/off, any case).')
param dynamicsLinkContacts string = 'false'

@description('DYNAMICS_DUPLICATES: a lead from someone with an open lead in Dynamics: create (a new lead anyway), attach (the event becomes a note on their open lead) or rules (the organisation\'s duplicate detection rules decide).')
@allowed([
  'create'
  'attach'
  'rules'
])
param dynamicsDuplicates string = 'create'

@description('DYNAMICS_DUPLICATES_DAYS: with attach, the open lead must have been created within this many days.')
param dynamicsDuplicatesDays string = '90'

@description('RECONCILE_SCHEDULE: six-field CRON schedule (UTC) of the timer that re-enqueues stranded leads; empty: every 5 minutes. Always set, because the timer trigger reads %RECONCILE_SCHEDULE%.')
param reconcileSchedule string = ''

@description('RECONCILE_GRACE_MINUTES: leads still received after this many minutes are re-enqueued.')
param reconcileGraceMinutes string = '10'

@description('LEAD_RETENTION_DAYS: days after a lead is done before its row loses the customer\'s personal data (an hourly timer); 0 keeps it. Received, held and failed leads keep theirs.')
param leadRetentionDays string = '90'

// --- operations -------------------------------------------------------------------------------------------

@description('Address the Azure Monitor alerts (lead failed, poison queue, lead stranded, functions failing) are emailed to, by Azure Monitor itself, not by the app\'s mail. Empty: the first NOTIFY_TO address; if that is empty too, the alerts only show in the portal.')
param operationsEmail string = ''
@description('MARKETPLACE_TABLE: Microsoft\'s Azure Table destination to follow (Partner Center\'s table name, e.g. MarketplaceLeads); a timer imports its new rows. Empty: not followed (the timer does nothing).')
param marketplaceTable string = ''

@description('Resource id of the storage account Microsoft\'s Azure Table destination writes to. With MARKETPLACE_TABLE set, the app reads the table with its identity: MARKETPLACE_TABLE_ENDPOINT comes from it, and the identity gets Storage Table Data Reader on that table. Empty: none.')
param marketplaceStorageAccountId string = ''


// --- names -------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var keyVaultName = 'kv-${resourceToken}'
// The vault's address, known before it is deployed, so the extra Teams channels' references can be built in a loop.
var keyVaultUri = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/'
var secretNames = {
  clientSecret: 'azure-client-secret'
  dynamicsPassword: 'dynamics-password'
  smtpPassword: 'smtp-password'
  teamsWebhookUrl: 'teams-webhook-url'
}

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity/user-assigned-identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: 'app-package'
    leadsTableName: leadsTable
    leadsQueueName: leadsQueue
  }
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'core/security/key-vault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    clientSecretName: secretNames.clientSecret
    dynamicsPasswordName: secretNames.dynamicsPassword
    smtpPasswordName: secretNames.smtpPassword
    teamsWebhookUrlName: secretNames.teamsWebhookUrl
    clientSecret: azureClientSecret
    dynamicsPassword: dynamicsPassword
    smtpPassword: smtpPassword
    teamsWebhookUrl: teamsWebhookUrl
    teamsChannelNames: teamsChannelNames
    teamsChannelUrls: teamsChannelUrls
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    identityPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
  }
}

// Microsoft's Azure Table destination, read with the app's identity. The id is padded so that its parts can be
// taken even when it is empty (the module below is then not deployed).
var marketplaceAccountParts = split('${marketplaceStorageAccountId}////////', '/')
var marketplaceAccountName = empty(marketplaceStorageAccountId) ? '' : last(split(marketplaceStorageAccountId, '/'))
var followsMarketplaceTable = !empty(marketplaceTable) && !empty(marketplaceStorageAccountId)

module marketplaceTableReader 'app/marketplace-table-reader.bicep' = if (followsMarketplaceTable) {
  name: 'marketplace-table-reader'
  scope: resourceGroup(marketplaceAccountParts[2], marketplaceAccountParts[4])
  params: {
    storageAccountName: marketplaceAccountName
    tableName: marketplaceTable
    identityPrincipalId: identity.outputs.principalId
  }
}

// The flags as the app compares them (it lower-cases too; this keeps the portal view tidy).
var dynamicsEnabledFlag = toLower(trim(dynamicsEnabled))
var smtpStartTlsFlag = toLower(trim(smtpStartTls))

// app-settings:begin (tests/test_infra.py reads the setting names between these markers)
// AZURE_CLIENT_ID has two meanings (leads/settings.py): the app registration for client_secret and
// username_password, the user-assigned identity for managed_identity. Host storage, Application Insights and
// Key Vault references name the identity explicitly, so they are not affected by it.
var leadSettings = {
  LEADS_TABLE: leadsTable
  LEADS_QUEUE: leadsQueue
  DYNAMICS_URL: dynamicsUrl
  DYNAMICS_API_VERSION: dynamicsApiVersion
  DYNAMICS_ENABLED: !empty(dynamicsEnabledFlag) ? dynamicsEnabledFlag : (empty(dynamicsUrl) ? 'false' : 'true')
  DYNAMICS_AUTH: dynamicsAuth
  AZURE_TENANT_ID: !empty(azureTenantId) ? azureTenantId : tenant().tenantId
  AZURE_CLIENT_ID: dynamicsAuth == 'managed_identity' ? identity.outputs.clientId : azureClientId
  DYNAMICS_USERNAME: dynamicsUsername
  NOTIFY_TO: notifyTo
  NOTIFY_FROM: notifyFrom
  MAIL_TRANSPORT: mailTransport
  GRAPH_URL: graphUrl
  SMTP_HOST: smtpHost
  SMTP_PORT: smtpPort
  SMTP_USERNAME: smtpUsername
  SMTP_STARTTLS: smtpStartTlsFlag
  RECONCILE_SCHEDULE: !empty(reconcileSchedule) ? reconcileSchedule : '0 */5 * * * *'
  RECONCILE_GRACE_MINUTES: reconcileGraceMinutes
  LEAD_RETENTION_DAYS: leadRetentionDays
  LEAD_ROUTING_FILE: leadRoutingFile
  DYNAMICS_LINK_CONTACTS: toLower(trim(dynamicsLinkContacts))
  DYNAMICS_DUPLICATES: dynamicsDuplicates
  DYNAMICS_DUPLICATES_DAYS: dynamicsDuplicatesDays
  MARKETPLACE_TABLE: marketplaceTable
  MARKETPLACE_TABLE_ENDPOINT: empty(marketplaceAccountName) ? '' : 'https://${marketplaceAccountName}.table.${environment().suffixes.storage}'
}
// azure-identity also reads AZURE_AUTHORITY_HOST, so it is only set when given.
var authorityHostSetting = empty(azureAuthorityHost) ? {} : {
  AZURE_AUTHORITY_HOST: azureAuthorityHost
}
// Secrets: Key Vault references (resolved by the platform with the user-assigned identity), created by the sign-in
// and mail mode, not by whether this deployment was given the value: `azd provision` replaces every app setting, so
// a provision without the value in the azd environment must keep the reference to the secret already in the vault.
// If the secret doesn't exist yet, the platform hands the app the reference text itself, and the sign-in fails with
// an error naming the setting (docs/deploy.md); creating the secret fixes it. tests/test_infra.py checks these
// conditions.
var clientSecretSetting = dynamicsAuth == 'client_secret' ? {
  AZURE_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretNames.clientSecret})'
} : {}
var dynamicsPasswordSetting = dynamicsAuth == 'username_password' ? {
  DYNAMICS_PASSWORD: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretNames.dynamicsPassword})'
} : {}
var smtpPasswordSetting = mailTransport == 'smtp' && !empty(smtpUsername) ? {
  SMTP_PASSWORD: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretNames.smtpPassword})'
} : {}
var teamsWebhookSetting = toLower(teamsNotifications) == 'true' ? {
  TEAMS_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretNames.teamsWebhookUrl})'
} : {}
// Host storage and telemetry, all through the user-assigned identity. Identity-based host storage: the host
// and the app (leads/storage.py) use these HTTPS URIs; there is deliberately no AzureWebJobsStorage
// connection string (shared keys are disabled on the account).
var platformSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
}
// app-settings:end
// Extra Teams channels (routing rules' `teams = "NAME"`): one Key Vault reference per listed setting name, created by
// the names (like the secrets above, a provision without the URLs keeps the references); a secret is written only for
// a name whose URL this deployment is given. Secret names: the setting's name in lower case, `_` becoming `-`.
var teamsChannelNames = filter(split(replace(teamsChannelSettings, ' ', ''), ','), name => !empty(name))
var teamsChannelAppSettings = [for name in teamsChannelNames: {
  name: name
  value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${toLower(replace(name, '_', '-'))})'
}]
var appSettings = union(platformSettings, leadSettings, authorityHostSetting, clientSecretSetting, dynamicsPasswordSetting, smtpPasswordSetting, teamsWebhookSetting)

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpAlwaysReadyInstances: httpAlwaysReadyInstances
    appSettings: appSettings
    extraAppSettings: teamsChannelAppSettings
  }
  // The roles first: the host, the deployment and the Key Vault references need them at start-up.
  dependsOn: [
    rbac
  ]
}

// Alerts and the workbook read Application Insights only: they work whatever the app's mail settings are.
var operationsAddress = !empty(trim(operationsEmail)) ? trim(operationsEmail) : trim(first(split(notifyTo, ';')))

module alerts 'core/monitor/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    name: resourceToken
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    operationsEmail: operationsAddress
  }
}

module workbook 'core/monitor/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    displayName: 'Marketplace leads (${environmentName})'
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

// --- outputs (azd stores them in .azure/<env>/.env) ---------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output LEADS_ENDPOINT_URL string = 'https://${api.outputs.defaultHostName}/api/leads'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
