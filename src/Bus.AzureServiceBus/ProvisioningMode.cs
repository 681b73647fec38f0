namespace Bus.AzureServiceBus;

/// <summary>What <see cref="ServiceBusTransport"/> does about missing or differently configured queues, topics and
/// subscriptions at start-up.</summary>
public enum ProvisioningMode
{
    /// <summary>Creates missing entities with <c>ServiceBusAdministrationClient</c> (needs Manage rights or the Data
    /// Owner role), updates an endpoint queue's LockDuration, MaxDeliveryCount and size settings to the options, and points
    /// an endpoint's subscription that forwards elsewhere at the endpoint's queue.</summary>
    CreateIfMissing,

    /// <summary>Changes nothing: checks every entity and setting and fails at start-up with one error listing every
    /// missing entity and every mismatched setting.</summary>
    VerifyOnly,
}
