// Switchyard on Azure: the Service Bus namespace (topic `integration`,
// subscriptions with filters, a park queue), and the Function App that runs
// `azure-app` as a custom handler (every registered function with a Service
// Bus or HTTP trigger: erp-sync, crm-writeback, audit-log, crm-webhook), with its storage account and
// Application Insights. Checked offline with checkov (scripts/test.sh); the
// settings below are also asserted by functions/azure-app/tests/infra.rs.

@description('Where everything is deployed.')
param location string = resourceGroup().location

@description('Prefix of every resource name (lower case letters and digits).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'switchyard'

@description('The ERP API erp-sync calls.')
param erpBaseUrl string

@description('The idempotency store: rediss://:<key>@<name>.redis.cache.windows.net:6380 (Azure Cache for Redis).')
@secure()
param idempotencyStore string

@description('The audit table of audit-log: file:<path> on the app\'s persistent /home share (an embedded table; run one instance, see infra/README.md).')
param auditStore string = 'file:/home/data/switchyard/audit.redb'

@description('The Standard Webhooks secret of crm-webhook (whsec_...).')
@secure()
param standardWebhookSecret string

@description('Access token(s) of CloudEvents producers (Event Grid: access_token=<token> in the endpoint URL); empty disables /webhooks/cloudevents.')
@secure()
param cloudEventsWebhookToken string = ''

@description('Origins the CloudEvents validation handshake consents to (comma-separated, or *).')
param cloudEventsAllowedOrigins string = 'eventgrid.azure.net'

@description('OAuth 2.0 client credentials erp-sync sends to the ERP: the Entra ID tenant (ERP_TENANT_ID), or a token endpoint (ERP_TOKEN_URL); empty client id sends none.')
param erpTenantId string = ''
param erpTokenUrl string = ''
param erpClientId string = ''
@secure()
param erpClientSecret string = ''
param erpScope string = ''

@description('The Dataverse environment crm-writeback writes Dynamics orders to (DATAVERSE_URL), e.g. https://contoso.crm.dynamics.com; empty disables Dynamics write-back.')
param dataverseUrl string = ''
@description('The Entra ID application user crm-writeback authenticates to Dataverse as.')
param dataverseTenantId string = ''
param dataverseClientId string = ''
@secure()
param dataverseClientSecret string = ''

@description('HubSpot private app token crm-writeback writes deals with; empty disables HubSpot write-back.')
@secure()
param hubSpotAccessToken string = ''

@description('Salesforce My Domain URL and connected app (client credentials flow) crm-writeback writes orders with; empty URL disables Salesforce write-back.')
param salesforceUrl string = ''
param salesforceClientId string = ''
@secure()
param salesforceClientSecret string = ''

@description('Deliveries of one message to erp-sync before Service Bus dead-letters it.')
param erpSyncMaxDeliveryCount int = 5

@description('How long the Functions host holds the peek-lock of one message (renewed up to maxAutoLockRenewalDuration).')
param lockDuration string = 'PT1M'

var suffix = uniqueString(resourceGroup().id)
var topicName = 'integration'
var parkQueueName = 'park'

// ------------------------------------------------------------ Service Bus

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: '${namePrefix}-${suffix}'
  location: location
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    minimumTlsVersion: '1.2'
    // SAS rules below (Send-only, Listen-only) are how the app authenticates.
    disableLocalAuth: false
    publicNetworkAccess: 'Enabled'
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: namespace
  name: topicName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    defaultMessageTimeToLive: 'P14D'
    maxSizeInMegabytes: 1024
    enableBatchedOperations: true
  }
}

// erp-sync: order.placed and customer.updated. Naming a rule `$Default`
// replaces the catch-all TrueFilter Service Bus creates with a subscription.
resource erpSync 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: topic
  name: 'erp-sync'
  properties: {
    maxDeliveryCount: erpSyncMaxDeliveryCount
    lockDuration: lockDuration
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: 'P14D'
    enableBatchedOperations: true
  }
}

resource erpSyncOrderPlaced 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: erpSync
  name: '$Default'
  properties: {
    filterType: 'CorrelationFilter'
    correlationFilter: {
      properties: {
        type: 'order.placed'
      }
    }
  }
}

resource erpSyncCustomerUpdated 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: erpSync
  name: 'customer-updated'
  properties: {
    filterType: 'CorrelationFilter'
    correlationFilter: {
      properties: {
        type: 'customer.updated'
      }
    }
  }
}

// crm-writeback: the ERP's confirmations, to write the ERP number back into
// the CRM record the order came from.
resource crmWriteback 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: topic
  name: 'crm-writeback'
  properties: {
    maxDeliveryCount: 5
    lockDuration: lockDuration
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: 'P14D'
    enableBatchedOperations: true
  }
}

resource crmWritebackErpSynced 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: crmWriteback
  name: '$Default'
  properties: {
    filterType: 'CorrelationFilter'
    correlationFilter: {
      properties: {
        type: 'erp.order-synced'
      }
    }
  }
}

// audit: what erp-sync reports back (the audit-log function's input).
resource audit 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: topic
  name: 'audit'
  properties: {
    maxDeliveryCount: 10
    lockDuration: lockDuration
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: 'P14D'
  }
}

resource auditErpSynced 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: audit
  name: '$Default'
  properties: {
    filterType: 'SqlFilter'
    sqlFilter: {
      sqlExpression: 'type = \'erp.order-synced\''
    }
  }
}

// audit-log also records customer changes (as the AWS rule delivers them).
resource auditCustomerUpdated 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: audit
  name: 'customer-updated'
  properties: {
    filterType: 'CorrelationFilter'
    correlationFilter: {
      properties: {
        type: 'customer.updated'
      }
    }
  }
}

// Permanent failures and poison messages, with their reason as application
// properties (switchyard.park.*). Duplicate detection keeps one copy when a
// message is parked twice.
resource parkQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: parkQueueName
  properties: {
    maxDeliveryCount: 10
    lockDuration: lockDuration
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
}

// Least rights: the publisher (crm-webhook, erp-sync, the park target) may
// only send; the Functions host's trigger may only listen, on the topic only.
resource sendRule 'Microsoft.ServiceBus/namespaces/authorizationRules@2022-10-01-preview' = {
  parent: namespace
  name: 'switchyard-send'
  properties: {
    rights: [
      'Send'
    ]
  }
}

resource listenRule 'Microsoft.ServiceBus/namespaces/topics/authorizationRules@2022-10-01-preview' = {
  parent: topic
  name: 'functions-host-listen'
  properties: {
    rights: [
      'Listen'
    ]
  }
}

// ------------------------------------------------------------ Function App

// The Functions host of a Consumption plan reaches its storage over the
// public endpoint (network rules need VNet integration, a Premium plan).
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = { // checkov:skip=CKV_AZURE_35: Consumption-plan host needs the public endpoint; access is by key over TLS 1.2 only
  // checkov:skip=CKV_AZURE_43: the name is namePrefix (3-11 lower-case letters/digits) + uniqueString(), at most 24 characters; checkov cannot evaluate the expression
  name: take('${namePrefix}${suffix}', 24)
  location: location
  sku: {
    name: 'Standard_GRS'
  }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
  }
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs-${suffix}'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = { // checkov:skip=CKV_AZURE_225: a Consumption (Y1) plan has no zone redundancy setting; the platform places instances
  name: '${namePrefix}-plan-${suffix}'
  location: location
  kind: 'linux'
  sku: {
    name: 'Y1'
    tier: 'Dynamic'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2023-12-01' = { // checkov:skip=CKV_AZURE_222: CRMs call the webhook route from the internet; every request is signature-verified in the app
  // checkov:skip=CKV_AZURE_17: CRM webhook senders present no client certificates; requests are authenticated by their signatures
  // checkov:skip=CKV_AZURE_212: a Consumption plan scales instances itself; there is no minimum instance count
  // checkov:skip=CKV_AZURE_213: the custom handler serves only function routes and the Consumption plan has no health-check probe
  name: '${namePrefix}-func-${suffix}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertMode: 'Optional'
    siteConfig: {
      linuxFxVersion: ''
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [
        {
          name: 'AzureWebJobsStorage'
          value: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'
        }
        {
          name: 'FUNCTIONS_EXTENSION_VERSION'
          value: '~4'
        }
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'custom'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          // The Service Bus triggers' connection (the generated function.json files): Listen only.
          name: 'ServiceBusListenConnection'
          value: listenRule.listKeys().primaryConnectionString
        }
        {
          // The publisher's and park target's connection: Send only.
          name: 'SERVICEBUS_CONNECTION_STRING'
          value: sendRule.listKeys().primaryConnectionString
        }
        {
          name: 'SERVICEBUS_ENTITY'
          value: topicName
        }
        {
          name: 'SWITCHYARD_PARK_QUEUE'
          value: parkQueueName
        }
        {
          // Per-function settings (<FUNCTION>__<VAR> wins over <VAR>):
          // each Service Bus function names its own subscription.
          name: 'ERP_SYNC__SWITCHYARD_SERVICEBUS_SOURCE'
          value: '${topicName}/subscriptions/erp-sync'
        }
        {
          name: 'CRM_WRITEBACK__SWITCHYARD_SERVICEBUS_SOURCE'
          value: '${topicName}/subscriptions/crm-writeback'
        }
        {
          name: 'AUDIT_LOG__SWITCHYARD_SERVICEBUS_SOURCE'
          value: '${topicName}/subscriptions/audit'
        }
        {
          name: 'AUDIT_STORE'
          value: auditStore
        }
        {
          name: 'SWITCHYARD_INVOCATION_TIMEOUT_MS'
          value: '300000'
        }
        {
          name: 'ERP_BASE_URL'
          value: erpBaseUrl
        }
        {
          name: 'SWITCHYARD_IDEMPOTENCY'
          value: idempotencyStore
        }
        // OAuth 2.0 / Entra ID client credentials (switchyard-auth) of the
        // ERP and the CRMs; an empty value counts as unset.
        {
          name: 'ERP_TENANT_ID'
          value: erpTenantId
        }
        {
          name: 'ERP_TOKEN_URL'
          value: erpTokenUrl
        }
        {
          name: 'ERP_CLIENT_ID'
          value: erpClientId
        }
        {
          name: 'ERP_CLIENT_SECRET'
          value: erpClientSecret
        }
        {
          name: 'ERP_SCOPE'
          value: erpScope
        }
        {
          name: 'DATAVERSE_URL'
          value: dataverseUrl
        }
        {
          name: 'DATAVERSE_TENANT_ID'
          value: dataverseTenantId
        }
        {
          name: 'DATAVERSE_CLIENT_ID'
          value: dataverseClientId
        }
        {
          name: 'DATAVERSE_CLIENT_SECRET'
          value: dataverseClientSecret
        }
        {
          name: 'HUBSPOT_ACCESS_TOKEN'
          value: hubSpotAccessToken
        }
        {
          name: 'SALESFORCE_URL'
          value: salesforceUrl
        }
        {
          name: 'SALESFORCE_CLIENT_ID'
          value: salesforceClientId
        }
        {
          name: 'SALESFORCE_CLIENT_SECRET'
          value: salesforceClientSecret
        }
        {
          name: 'SWITCHYARD_STANDARD_WEBHOOK_SECRET'
          value: standardWebhookSecret
        }
        {
          name: 'SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN'
          value: cloudEventsWebhookToken
        }
        {
          name: 'SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS'
          value: cloudEventsAllowedOrigins
        }
      ]
    }
  }
}

output functionAppName string = functionApp.name
output serviceBusNamespace string = namespace.name
