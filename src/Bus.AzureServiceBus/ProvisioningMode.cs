namespace Bus.AzureServiceBus;

/// <summary>What <see cref="ServiceBusTransport"/> does about missing queues, topics and subscriptions at start-up.</summary>
public enum ProvisioningMode
{
    /// <summary>Creates missing entities through the management API (needs a Manage right or the Data Owner role), and
    /// updates an existing subscription of the endpoint that does not forward into the endpoint's queue.</summary>
    CreateIfMissing,

    /// <summary>Only checks that every entity exists and that the endpoint's subscriptions forward into its queue, and
    /// fails at start-up naming the missing or mismatched ones.</summary>
    VerifyOnly,
}
