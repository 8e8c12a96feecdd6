"""One module per outside service (Azure Storage, Entra ID, Dataverse, Graph, SMTP, Application Insights)."""
