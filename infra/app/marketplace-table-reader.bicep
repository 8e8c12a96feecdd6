// Read access for the app's identity to Microsoft's Azure Table destination (MARKETPLACE_TABLE), the table the
// marketplace writes leads into in the publisher's own storage account. Deployed into that account's resource
// group (main.bicep), only when MARKETPLACE_TABLE and the account are given. Least privilege: Storage Table Data
// Reader, scoped to the one table (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).

@description('Storage account that holds the marketplace\'s table.')
param storageAccountName string

@description('The table Microsoft writes leads into (MARKETPLACE_TABLE).')
param tableName string

@description('Principal (object) id of the app\'s user-assigned identity.')
param identityPrincipalId string

var storageTableDataReader = '76199698-9eea-4c19-bc75-cec21354c6b6'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: tableName
}

resource appTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(table.id, identityPrincipalId, storageTableDataReader)
  scope: table
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataReader)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}
