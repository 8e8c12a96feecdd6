// One Key Vault secret (key-vault.bicep deploys this module only when the value is given).

@description('Name of the existing vault.')
param keyVaultName string

@description('Secret name: letters, digits and hyphens.')
param name string

@secure()
@description('Secret value.')
param value string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: name
  // checkov:skip=CKV_AZURE_41: the real expiry belongs to the credential (the client secret in Entra ID, the Office 365 or SMTP password), not to this copy; an expiry date here would stop the app on a date unrelated to the credential. docs/deploy.md describes rotation.
  properties: {
    value: value
    contentType: 'text/plain'
  }
}
