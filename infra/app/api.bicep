// The Function App on the Flex Consumption plan (FC1, Linux), Python, running as the user-assigned identity.
// Security settings: HTTPS only, TLS 1.2 minimum (site and SCM), FTP/FTPS off, basic (user name + password)
// publishing credentials off for both FTP and SCM, so deployments need an Entra ID sign-in.

@description('Function App name (the endpoint is https://<name>.azurewebsites.net/api/leads unless Azure assigns a unique host name).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags for both resources.')
param tags object = {}

@description('azd service name (azure.yaml) that deploys the code here.')
param serviceName string = 'api'

@description('Python version (Flex Consumption supports 3.10-3.12; the project targets 3.11).')
@allowed([
  '3.10'
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Storage account used by the Functions host, for the deployment package and for the leads.')
param storageAccountName string

@description('Blob container for the deployment package.')
param deploymentContainerName string

@description('Every app setting, name to value (main.bicep builds them).')
param appSettings object

@description('More app settings as name/value pairs (built in a loop, e.g. the extra Teams channels\' Key Vault references).')
param extraAppSettings array = []

@description('Highest number of on-demand instances (per function group). See main.bicep for the reasoning.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the HTTP group (0: scale to zero; 1 avoids cold starts for the marketplace, at a cost).')
@minValue(0)
@maxValue(10)
param httpAlwaysReadyInstances int = 0

var settingList = [for setting in items(appSettings): {
  name: setting.key
  value: setting.value
}]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

var serviceTag = {
  'azd-service-name': serviceName
}
var scale = {
  maximumInstanceCount: maximumInstanceCount
  instanceMemoryMB: instanceMemoryMB
}
var alwaysReady = httpAlwaysReadyInstances > 0 ? {
  alwaysReady: [
    {
      name: 'http'
      instanceCount: httpAlwaysReadyInstances
    }
  ]
} : {}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy is offered only in some regions (elsewhere the deployment would fail); leads are a handful a day and, once received, wait in geo-redundant storage. Where the region offers it, add zoneRedundant: true to the plan's properties.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_212: siteConfig.numberOfWorkers is for Dedicated plans; Flex Consumption scales per function group (maximumInstanceCount, httpAlwaysReadyInstances).
  // checkov:skip=CKV_AZURE_213: App Service health check pings one path to evict bad instances on Dedicated/Premium plans; Flex Consumption has no such pool, and the app has no health route (the lead endpoint needs a function key).
  name: name
  location: location
  tags: union(tags, serviceTag)
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // checkov:skip=CKV_AZURE_222: the marketplace posts leads from the internet; the endpoint needs a function key.
    publicNetworkAccess: 'Enabled'
    // checkov:skip=CKV_AZURE_17: the marketplace cannot present a client certificate; the endpoint needs a function key.
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(settingList, extraAppSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: union(scale, alwaysReady)
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
