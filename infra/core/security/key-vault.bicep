// Key Vault for the app's secrets. Access is Azure RBAC only (no access policies); the app's identity gets
// "Key Vault Secrets User" (app/rbac.bicep) and the Function App reads the secrets through Key Vault references
// (@Microsoft.KeyVault(SecretUri=...)), so no secret value is stored in the app's configuration.
// Each secret is created only when its value is given; leave a value empty to manage that secret yourself.

@description('Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags for the vault.')
param tags object = {}

@description('Secret name for AZURE_CLIENT_SECRET.')
param clientSecretName string

@description('Secret name for DYNAMICS_PASSWORD.')
param dynamicsPasswordName string

@description('Secret name for SMTP_PASSWORD.')
param smtpPasswordName string

@description('Secret name for TEAMS_WEBHOOK_URL.')
param teamsWebhookUrlName string

@secure()
@description('Value of AZURE_CLIENT_SECRET (the app registration\'s client secret); empty: no secret is created.')
param clientSecret string = ''

@secure()
@description('Value of DYNAMICS_PASSWORD (the Office 365 password); empty: no secret is created.')
param dynamicsPassword string = ''

@secure()
@description('Value of SMTP_PASSWORD; empty: no secret is created.')
param smtpPassword string = ''

@secure()
@description('Value of TEAMS_WEBHOOK_URL (a Teams Workflows webhook: its signature lets anyone post); empty: no secret is created.')
param teamsWebhookUrl string = ''

@description('Setting names of the extra Teams channels (routing rules\' `teams = "NAME"`); each one\'s secret is named like it in lower case with hyphens.')
param teamsChannelNames array = []

@secure()
@description('Their webhook URLs: NAME=URL pairs separated by spaces; a secret is written for each listed name given here.')
param teamsChannelUrls string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // checkov:skip=CKV_AZURE_109: the Function App (Flex Consumption, no virtual network) resolves its Key Vault references over the public endpoint from outbound addresses that are not fixed, and App Service is not a trusted service for the firewall bypass; access is Entra ID + RBAC only.
    // checkov:skip=CKV_AZURE_189: same reason: without a virtual network the app can only reach the vault publicly.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

module clientSecretValue 'key-vault-secret.bicep' = if (!empty(clientSecret)) {
  name: 'secret-${clientSecretName}'
  params: {
    keyVaultName: vault.name
    name: clientSecretName
    value: clientSecret
  }
}

module dynamicsPasswordValue 'key-vault-secret.bicep' = if (!empty(dynamicsPassword)) {
  name: 'secret-${dynamicsPasswordName}'
  params: {
    keyVaultName: vault.name
    name: dynamicsPasswordName
    value: dynamicsPassword
  }
}

module smtpPasswordValue 'key-vault-secret.bicep' = if (!empty(smtpPassword)) {
  name: 'secret-${smtpPasswordName}'
  params: {
    keyVaultName: vault.name
    name: smtpPasswordName
    value: smtpPassword
  }
}

module teamsWebhookUrlValue 'key-vault-secret.bicep' = if (!empty(teamsWebhookUrl)) {
  name: 'secret-${teamsWebhookUrlName}'
  params: {
    keyVaultName: vault.name
    name: teamsWebhookUrlName
    value: teamsWebhookUrl
  }
}

// The extra channels' URLs, as given (only for listed names): NAME=URL, the name before the first `=`.
var teamsChannelPairs = filter(split(trim(teamsChannelUrls), ' '), pair => contains(pair, '=') && contains(teamsChannelNames, substring(pair, 0, indexOf(pair, '='))))

module teamsChannelValues 'key-vault-secret.bicep' = [for (pair, index) in teamsChannelPairs: {
  name: 'secret-teams-channel-${index}'
  params: {
    keyVaultName: vault.name
    name: toLower(replace(substring(pair, 0, indexOf(pair, '=')), '_', '-'))
    value: substring(pair, indexOf(pair, '=') + 1)
  }
}]

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
