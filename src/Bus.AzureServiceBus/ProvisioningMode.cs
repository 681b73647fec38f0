namespace Bus.AzureServiceBus;

/// <summary>What <see cref="ServiceBusTransport"/> does about missing queues, topics and subscriptions at start-up.</summary>
public enum ProvisioningMode
{
    /// <summary>Creates missing entities through the management API (needs a Manage right or the Data Owner role).</summary>
    CreateIfMissing,

    /// <summary>Only checks that every entity exists and fails at start-up naming the missing ones.</summary>
    VerifyOnly,
}
