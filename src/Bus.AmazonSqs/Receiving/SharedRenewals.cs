namespace Bus.AmazonSqs.Receiving;

/// <summary>A renewal a message's handler asked for: when, and for how long.</summary>
internal sealed record RenewalAsk(DateTimeOffset At, TimeSpan Duration);

/// <summary>
/// Lease renewals shared per queue. Every held message renews on its own heartbeat, but jobs that arrive over time
/// have heartbeats that never line up, so their renewals would not share batch calls. Here, when one message of a queue
/// renews, every other held message of that queue whose handler still asks for renewals and whose lease has used a
/// tenth of its length is renewed in the same round (the same batch calls). Its own next heartbeat then finds the lease
/// covered (at least four fifths of the asked length left) and costs no request. The rounds settle into one per
/// queue: with the default five heartbeats per lease, a lease never drops below three fifths of its length, and 50 jobs
/// cost five batch calls a round whatever their arrival times.
/// </summary>
/// <remarks>A message whose handler stopped asking (a hung handler past its max runtime) is renewed along with others
/// for at most two fifths of its lease after its last ask, so its lease still runs out and it is delivered again.</remarks>
internal sealed class SharedRenewals
{
    private readonly Dictionary<string, HashSet<SqsReceivedMessage>> _byQueue = new(StringComparer.Ordinal);

    /// <summary>Whether a lease still holds at least four fifths of what was asked: renewing now would add little.</summary>
    public static bool CoveredAlready(DateTimeOffset leaseExpiresAt, RenewalAsk ask) =>
        leaseExpiresAt - ask.At >= ask.Duration * 0.8;

    /// <summary>Whether a message that last asked for <paramref name="ask"/> may be renewed along with another now.</summary>
    public static bool IsDue(DateTimeOffset leaseExpiresAt, RenewalAsk ask, DateTimeOffset now) =>
        now - ask.At <= ask.Duration * 0.4 && leaseExpiresAt - now < ask.Duration * 0.9;

    /// <summary>Holds a message that asks for renewals until it is settled or its lease is lost.</summary>
    public void Hold(SqsReceivedMessage message)
    {
        lock (_byQueue)
        {
            if (!_byQueue.TryGetValue(message.QueueUrl, out var held))
            {
                held = [];
                _byQueue[message.QueueUrl] = held;
            }

            held.Add(message);
        }
    }

    /// <summary>Lets go of a message being settled.</summary>
    public void Leave(SqsReceivedMessage message)
    {
        lock (_byQueue)
        {
            if (_byQueue.TryGetValue(message.QueueUrl, out var held) && held.Remove(message) && held.Count == 0)
            {
                _byQueue.Remove(message.QueueUrl);
            }
        }
    }

    /// <summary>Renews, along with <paramref name="renewing"/>, every other held message of its queue that is due.</summary>
    public void RenewOthersDue(SqsReceivedMessage renewing, DateTimeOffset now)
    {
        List<SqsReceivedMessage>? due = null;
        lock (_byQueue)
        {
            if (_byQueue.TryGetValue(renewing.QueueUrl, out var held))
            {
                foreach (var message in held)
                {
                    if (!ReferenceEquals(message, renewing) && message.IsDueAlong(now))
                    {
                        (due ??= []).Add(message);
                    }
                }

                // A message whose handler stopped asking a whole lease ago is gone (its delivery was abandoned).
                held.RemoveWhere(m => m.IsForgotten(now));
            }
        }

        foreach (var message in due ?? [])
        {
            message.RenewAlong(now);
        }
    }
}
