using System.Net;
using Bus.AzureServiceBus.Rest;
using Bus.AzureServiceBus.Topology;
using Bus.Transports;

namespace Bus.AzureServiceBus.Receiving;

/// <summary>
/// The dead letters of an endpoint live in two places: its error queue (messages the bus dead-lettered, with
/// failure headers) and the queue's native <c>$DeadLetterQueue</c> (messages Service Bus moved after MaxDeliveryCount
/// deliveries, or on expiry). Both are read with peek-lock; what is only looked at is unlocked again.
/// </summary>
internal sealed class ServiceBusDeadLetterQueue(IServiceBusRestClient client, EntityNames names, TimeProvider time) : IDeadLetterQueue
{
    /// <summary>The reason given to native dead letters that carry none.</summary>
    public const string DefaultNativeReason = "MaxDeliveryCountExceeded";

    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        var result = new List<DeadLetter>();
        foreach (var source in Sources(queue))
        {
            if (result.Count >= maxCount)
            {
                break;
            }

            await ScanAsync(source, maxCount - result.Count, (letter, _) =>
            {
                result.Add(letter);
                return Task.FromResult(false);
            }, queue, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    public async Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var target = names.Queue(queue);
        var moved = 0;
        var movedIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var source in Sources(queue))
        {
            moved += await ScanAsync(source, int.MaxValue, async (letter, locked) =>
            {
                // A message this call already moved is left where it is: it failed again at once and was dead-lettered
                // anew while the scan went on (moving it again would never end), or it is a duplicate.
                if (!Selected(letter, messageIds) || (letter.Message.MessageId is { } id && !movedIds.Add(id)))
                {
                    return false;
                }

                await client.SendAsync(target, [BrokerMessageMapping.ToBroker(letter.Message, null)], cancellationToken).ConfigureAwait(false);
                await client.CompleteAsync(locked, CancellationToken.None).ConfigureAwait(false);
                return true;
            }, queue, cancellationToken).ConfigureAwait(false);
        }

        return moved;
    }

    public async Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var purged = 0;
        foreach (var source in Sources(queue))
        {
            purged += await ScanAsync(source, int.MaxValue, async (letter, locked) =>
            {
                if (!Selected(letter, messageIds))
                {
                    return false;
                }

                await client.CompleteAsync(locked, cancellationToken).ConfigureAwait(false);
                return true;
            }, queue, cancellationToken).ConfigureAwait(false);
        }

        return purged;
    }

    private (string Entity, bool Native)[] Sources(string queue) =>
        [(names.ErrorQueue(queue), false), (names.NativeDeadLetterQueue(queue), true)];

    private static bool Selected(DeadLetter letter, IReadOnlyCollection<string>? ids) =>
        ids is null || (letter.Message.MessageId is { } id && ids.Contains(id));

    /// <summary>Locks the source's messages one by one (up to <paramref name="max"/>) and hands each to
    /// <paramref name="visit"/>, which settles it and returns true, or returns false to leave it; left ones are unlocked
    /// at the end. Stops when the source is empty or a message comes round again.</summary>
    private async Task<int> ScanAsync(
        (string Entity, bool Native) source, int max, Func<DeadLetter, LockedBrokerMessage, Task<bool>> visit, string queue, CancellationToken cancellationToken)
    {
        var held = new List<LockedBrokerMessage>();
        var seen = new HashSet<long>();
        var settled = 0;
        try
        {
            while (held.Count + settled < max)
            {
                LockedBrokerMessage? locked;
                try
                {
                    locked = await client.PeekLockAsync(source.Entity, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                }
                catch (ServiceBusRequestException e) when (e.StatusCode is HttpStatusCode.NotFound)
                {
                    return settled; // never provisioned: no dead letters
                }

                if (locked is null)
                {
                    break;
                }

                if (!seen.Add(locked.SequenceNumber))
                {
                    held.Add(locked);
                    break;
                }

                if (await visit(ToDeadLetter(locked, source.Native, queue), locked).ConfigureAwait(false))
                {
                    settled++;
                }
                else
                {
                    held.Add(locked);
                }
            }
        }
        finally
        {
            foreach (var locked in held)
            {
                try
                {
                    await client.UnlockAsync(locked, CancellationToken.None).ConfigureAwait(false);
                }
                catch (LeaseLostException)
                {
                    // The lock ran out already: the message is available again either way.
                }
            }
        }

        return settled;
    }

    private DeadLetter ToDeadLetter(LockedBrokerMessage locked, bool native, string queue)
    {
        if (!native)
        {
            var (message, _) = BrokerMessageMapping.FromBroker(locked);
            return FailureDetails.Read(message, queue);
        }

        var (original, prior) = BrokerMessageMapping.FromBroker(locked, stripDeadLetterProperties: true);
        locked.Properties.TryGetValue(BrokerMessageMapping.DeadLetterReason, out var reason);
        locked.Properties.TryGetValue(BrokerMessageMapping.DeadLetterErrorDescription, out var description);
        var failure = new FailureDetails(
            string.IsNullOrWhiteSpace(reason) ? DefaultNativeReason : reason,
            null,
            description,
            null,
            prior + Math.Max(0, locked.DeliveryCount - 1),
            queue,
            locked.EnqueuedTime ?? time.GetUtcNow());
        return new DeadLetter(original.WithoutHeaders(MessageHeaders.IsFailureHeader), failure);
    }
}
