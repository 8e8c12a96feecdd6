// The user-assigned managed identity the Function App runs as: it reaches storage, Application Insights and
// Key Vault with Entra ID tokens (no keys anywhere), and in DYNAMICS_AUTH=managed_identity mode also Dataverse.
// A user-assigned identity (rather than system-assigned) exists before the app, so its roles can be granted
// first, and it survives re-creating the app (the Dataverse application user stays valid).

@description('Name of the identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
