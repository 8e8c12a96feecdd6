// An Azure Monitor workbook over the lead events (leads/core/events.py, customDimensions in Application Insights):
// leads per day by offer and action, failures with their reasons, and speed to lead (received -> in Dynamics and
// received -> contacts notified). Marketplace test leads (MSFT_TEST, Partner Center's Validate) are left out.
// tests/test_infra.py checks that the event names below are ones the app emits.

@description('Display name of the workbook in the portal (Monitor > Workbooks, or the Application Insights component).')
param displayName string

@description('Azure region.')
param location string

@description('Tags for the workbook.')
param tags object = {}

@description('Name of the Application Insights component the workbook reads.')
param applicationInsightsName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Shared start of the queries: real leads' events (not the validation lead) with their fields as columns.
var events = 'traces | extend event = tostring(customDimensions.lead_event), lead_id = tostring(customDimensions.lead_id), offer_id = tostring(customDimensions.offer_id), action = tostring(customDimensions.action), reason = tostring(customDimensions.reason) | where isnotempty(event) and tostring(customDimensions.is_test) != "True"'

// Speed to lead counts leads received over the HTTPS endpoint only: an imported lead (Partner Center's export, or
// Microsoft's Azure Table destination) was received by the marketplace maybe days before, and its events carry no
// durations (leads/core/speed.py measures_speed). Events logged before `origin` existed have none ("").
var speedEvents = '${events} | where tostring(customDimensions.origin) in ("", "https") and event in ("lead.in_dynamics", "lead.notified") | extend seconds = todouble(iff(event == "lead.in_dynamics", tostring(customDimensions.seconds_to_dynamics), tostring(customDimensions.seconds_to_notified))) | where isnotnull(seconds)'

var queries = {
  leadsPerDay: '${events} | where event == "lead.received" | summarize leads = count() by day = bin(timestamp, 1d), offer_action = strcat(offer_id, " / ", action) | order by day asc'
  leadsByOffer: '${events} | where event == "lead.received" | summarize leads = count() by offer_id, action | order by leads desc'
  failures: '${events} | where event in ("lead.failed", "lead.poisoned") | project timestamp, event, lead_id, offer_id, action, reason | order by timestamp desc'
  failuresByReason: '${events} | where event == "lead.failed" | summarize failed = count() by reason | order by failed desc'
  speedToLead: '${speedEvents} | extend step = iff(event == "lead.in_dynamics", "received -> in Dynamics", strcat("received -> notified by ", tostring(customDimensions.channel))) | summarize leads = count(), p50_seconds = percentile(seconds, 50), p95_seconds = percentile(seconds, 95), max_seconds = max(seconds) by step'
  speedPerDay: '${speedEvents} | summarize p95_seconds = percentile(seconds, 95) by day = bin(timestamp, 1d), event | order by day asc'
}

// One workbook item per panel: a title, a query over the component and how to show it.
var panels = [
  {
    name: 'leads-per-day'
    title: 'Leads per day by offer and action'
    query: queries.leadsPerDay
    visualization: 'barchart'
  }
  {
    name: 'leads-by-offer'
    title: 'Leads by offer and action'
    query: queries.leadsByOffer
    visualization: 'table'
  }
  {
    name: 'failures'
    title: 'Failed leads and poison messages, with the failure\'s class'
    query: queries.failures
    visualization: 'table'
  }
  {
    name: 'failures-by-reason'
    title: 'Failures by reason'
    query: queries.failuresByReason
    visualization: 'piechart'
  }
  {
    name: 'speed-to-lead'
    title: 'Speed to lead (seconds): p50, p95 and max'
    query: queries.speedToLead
    visualization: 'table'
  }
  {
    name: 'speed-per-day'
    title: 'Speed to lead per day (p95 seconds)'
    query: queries.speedPerDay
    visualization: 'linechart'
  }
]

var intro = {
  type: 1
  name: 'intro'
  content: {
    json: '## Marketplace leads\nLeads received, failures and speed to lead over the last 30 days, from the events the app logs (no contact details). Failed leads: `python -m leads status --status failed`, then `python -m leads replay --failed`.'
  }
}

// (Bicep allows a for-expression only as a whole variable's value, hence the separate list.)
var panelItems = [for panel in panels: {
  type: 3
  name: panel.name
  content: {
    version: 'KqlItem/1.0'
    title: panel.title
    query: panel.query
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: panel.visualization
    size: 0
    timeContext: {
      durationMs: 2592000000
    }
  }
}]

var workbook = {
  version: 'Notebook/1.0'
  items: concat([
    intro
  ], panelItems)
  fallbackResourceIds: [
    applicationInsights.id
  ]
}

resource leadsWorkbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; this one is stable per resource group and component.
  name: guid(resourceGroup().id, applicationInsights.id, 'marketplace-leads-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsights.id
    version: 'Notebook/1.0'
    serializedData: string(workbook)
  }
}

output id string = leadsWorkbook.id
