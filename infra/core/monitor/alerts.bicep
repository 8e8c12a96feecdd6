// Alerts that reach the operations address through Azure Monitor's own email (an action group), so they arrive even
// when the app's mail (Graph or SMTP, its settings or its mailbox) is what broke. Each rule is a log search over
// Application Insights: the lead events the app logs with their fields (leads/core/events.py: customDimensions) and
// the function executions the Functions host reports (requests). tests/test_infra.py checks that the event names
// below are ones the app emits and that every rule notifies the action group.

@description('Name prefix of the rules and the action group.')
param name string

@description('Azure region of the rules (the action group is global).')
param location string

@description('Tags for every resource.')
param tags object = {}

@description('Name of the Application Insights component the rules query.')
param applicationInsightsName string

@description('Address the alerts are emailed to; empty: the rules fire (visible under Alerts in the portal) but email nobody.')
param operationsEmail string

@description('Name of the function bound to the poison queue (function_app.py).')
param poisonFunctionName string = 'lead_failed'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Email through Azure Monitor (sender azure-noreply@microsoft.com), not through the app.
resource operations 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${name}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'leads-ops'
    enabled: true
    emailReceivers: empty(operationsEmail) ? [] : [
      {
        name: 'operations'
        emailAddress: operationsEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// One rule per signal: name, what it means for a publisher, severity (0 critical .. 4 verbose), the query, how many
// results over which window make it fire, and how often it looks.
var rules = [
  {
    key: 'lead-failed'
    displayName: 'A marketplace lead failed'
    description: 'A lead could not be put into Dynamics 365 or its mail could not be sent, and retrying will not help (reason: the failure\'s class). The lead is kept: run `python -m leads status --status failed`, fix the cause, then `python -m leads replay --failed`.'
    severity: 1
    query: 'traces | where tostring(customDimensions.lead_event) == "lead.failed" | project timestamp, lead_id = tostring(customDimensions.lead_id), offer_id = tostring(customDimensions.offer_id), reason = tostring(customDimensions.reason)'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT15M'
  }
  {
    key: 'lead-poison'
    displayName: 'A lead message reached the poison queue'
    description: 'A lead kept failing for about 20 minutes (5 deliveries, host.json) and its queue message moved to the poison queue; the app marks the lead failed. Usually Dynamics, the sign-in or the mail was unavailable for that long. Check `python -m leads status --status failed` and replay once the service is back.'
    severity: 1
    query: 'requests | where name == "${poisonFunctionName}" | project timestamp, success, resultCode'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT15M'
  }
  {
    key: 'lead-stranded'
    displayName: 'A lead was still waiting after the grace period'
    description: 'A lead stayed "received" longer than RECONCILE_GRACE_MINUTES (it was stored but not processed, for example because the queue was unavailable); the reconciliation timer queued it again. One now and then is harmless; repeated alerts mean the queue or the queue function is not working.'
    severity: 2
    query: 'traces | where tostring(customDimensions.lead_event) == "lead.reenqueued" | project timestamp, lead_id = tostring(customDimensions.lead_id)'
    threshold: 0
    windowSize: 'PT15M'
    evaluationFrequency: 'PT15M'
  }
  {
    key: 'function-failing'
    displayName: 'The lead functions are failing repeatedly'
    description: 'More than 5 failed function executions in an hour (the lead endpoint answering errors, the queue function retrying, the timer failing). A single lead that is retried fails up to 5 times, so this means several leads or a broken setting or service. See Failures in Application Insights and run `python -m leads check`.'
    severity: 1
    query: 'requests | where success == false | project timestamp, name, resultCode'
    threshold: 5
    windowSize: 'PT1H'
    evaluationFrequency: 'PT15M'
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: '${rule.key}-${name}'
  location: location
  tags: tags
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: rule.evaluationFrequency
    windowSize: rule.windowSize
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: rule.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // Each firing is a new email; nothing to resolve automatically (a failed lead stays failed until replayed).
    autoMitigate: false
    actions: {
      actionGroups: [
        operations.id
      ]
    }
  }
}]

output actionGroupId string = operations.id
