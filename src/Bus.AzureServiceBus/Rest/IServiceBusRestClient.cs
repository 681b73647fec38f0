namespace Bus.AzureServiceBus.Rest;

/// <summary>
/// The broker operations the transport needs, in broker terms. The REST implementation is
/// <see cref="HttpServiceBusRestClient"/>; an AMQP one could replace it without touching the transport.
/// Lock operations throw <see cref="Bus.Transports.LeaseLostException"/> when the lock is lost and
/// <see cref="ServiceBusRequestException"/> for other failures.
/// </summary>
internal interface IServiceBusRestClient : IDisposable
{
    /// <summary>Sends messages to a queue or topic (one request, or a batch request when there are several).</summary>
    Task SendAsync(string entityPath, IReadOnlyList<OutgoingBrokerMessage> messages, CancellationToken cancellationToken);

    /// <summary>Receives and locks the next message of a queue, subscription or dead-letter subqueue; null when none
    /// arrived within <paramref name="timeout"/> (zero: do not wait).</summary>
    Task<LockedBrokerMessage?> PeekLockAsync(string entityPath, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Renews the lock and returns its new expiry.</summary>
    Task<DateTimeOffset> RenewLockAsync(LockedBrokerMessage message, CancellationToken cancellationToken);

    /// <summary>Deletes the locked message.</summary>
    Task CompleteAsync(LockedBrokerMessage message, CancellationToken cancellationToken);

    /// <summary>Releases the lock; the broker counts a delivery.</summary>
    Task UnlockAsync(LockedBrokerMessage message, CancellationToken cancellationToken);

    /// <summary>The description of a queue, topic or subscription (<c>topic/Subscriptions/name</c>), or null when it
    /// does not exist.</summary>
    Task<EntityInfo?> GetEntityAsync(string entityPath, CancellationToken cancellationToken);

    /// <summary>Creates an entity from its Atom description; false when it already existed. A description that forwards
    /// (ForwardTo, ForwardDeadLetteredMessagesTo) is sent with the authorization each target needs.</summary>
    /// <param name="entityPath">The entity path.</param>
    /// <param name="atomEntry">The Atom entry XML.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task<bool> CreateEntityAsync(string entityPath, string atomEntry, CancellationToken cancellationToken);

    /// <summary>Replaces the description of an existing entity (<c>If-Match: *</c>), with the authorization its
    /// forwarding targets need.</summary>
    /// <param name="entityPath">The entity path.</param>
    /// <param name="atomEntry">The whole new Atom entry XML.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    Task UpdateEntityAsync(string entityPath, string atomEntry, CancellationToken cancellationToken);
}

/// <summary>What the transport needs to know about an existing entity.</summary>
/// <param name="LockDuration">The peek-lock duration, when the entity has one (queues, subscriptions).</param>
/// <param name="ForwardTo">The path of the entity it forwards to (without the namespace), or null when it does not forward.</param>
/// <param name="Description">The entity's whole description element as read (e.g. <c>SubscriptionDescription</c>), for
/// an update that changes one setting and keeps the others.</param>
internal sealed record EntityInfo(TimeSpan? LockDuration, string? ForwardTo = null, System.Xml.Linq.XElement? Description = null);
