namespace Bus.Transports;

/// <summary>
/// The receive order of a transport with <see cref="PriorityOrdering.PriorityQueue"/>: one per endpoint queue, it takes
/// from the priority queue first, but after <see cref="Ratio"/> priority messages in a row it gives the normal queue a
/// turn, so a steady stream of priority messages never starves the normal queue. With ratio 4 and both queues full, a
/// receiver takes 4 priority messages, then a receive from the normal queue, then 4 priority messages, and so on.
/// </summary>
/// <remarks>
/// Each <see cref="ReceiveAsync{T}"/>: (1) when the normal queue is owed its turn, a receive from it that does not
/// wait; (2) a receive of at most the rest of the ratio from the priority queue that does not wait; (3) when that was
/// empty, a receive from the normal queue that may wait (the transport's long poll). A priority message that arrives
/// during that long poll is taken by the next receive, so its wait is at most one long poll. Safe to call concurrently
/// (the count of priority messages in a row is shared; the order between concurrent calls is approximate).
/// </remarks>
public sealed class PriorityDrain
{
    /// <summary>The default ratio: 4 priority messages for each receive from the normal queue.</summary>
    public const int DefaultRatio = 4;

    private int _priorityInARow;

    /// <summary>Creates the order for one endpoint queue.</summary>
    /// <param name="ratio">At most this many priority messages in a row while the normal queue has messages: 1 to 100.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ratio"/> is not 1 to 100.</exception>
    public PriorityDrain(int ratio = DefaultRatio)
    {
        Validate(ratio, nameof(ratio));
        Ratio = ratio;
    }

    /// <summary>At most this many priority messages are taken in a row while the normal queue has messages.</summary>
    public int Ratio { get; }

    /// <summary>Throws unless <paramref name="ratio"/> is 1 to 100, naming <paramref name="setting"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ratio"/> is not 1 to 100.</exception>
    public static void Validate(int ratio, string setting)
    {
        if (ratio is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(
                setting, ratio, $"{setting} must be 1 to 100: how many priority messages a receiver takes in a row before it takes from the normal queue (default {DefaultRatio}).");
        }
    }

    /// <summary>Receives up to <paramref name="maxMessages"/> messages from one of the two queues.</summary>
    /// <typeparam name="T">What a receive returns per message.</typeparam>
    /// <param name="maxMessages">The most messages to return.</param>
    /// <param name="receivePriority">Receives up to the given number from the priority queue without waiting.</param>
    /// <param name="receiveNormal">Receives up to the given number from the normal queue; may wait (long-poll) when the
    /// flag is true, must not when it is false.</param>
    /// <param name="cancellationToken">Cancels the receive.</param>
    public async ValueTask<IReadOnlyList<T>> ReceiveAsync<T>(
        int maxMessages,
        Func<int, CancellationToken, ValueTask<IReadOnlyList<T>>> receivePriority,
        Func<int, bool, CancellationToken, ValueTask<IReadOnlyList<T>>> receiveNormal,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentNullException.ThrowIfNull(receivePriority);
        ArgumentNullException.ThrowIfNull(receiveNormal);

        var inARow = Volatile.Read(ref _priorityInARow);
        if (inARow >= Ratio)
        {
            // The normal queue's turn; when it has nothing, the priority queue may go on.
            var owed = await receiveNormal(maxMessages, false, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _priorityInARow, 0);
            if (owed.Count > 0)
            {
                return owed;
            }

            inARow = 0;
        }

        var urgent = await receivePriority(Math.Min(maxMessages, Ratio - inARow), cancellationToken).ConfigureAwait(false);
        if (urgent.Count > 0)
        {
            Interlocked.Add(ref _priorityInARow, urgent.Count);
            return urgent;
        }

        var normal = await receiveNormal(maxMessages, true, cancellationToken).ConfigureAwait(false);
        if (normal.Count > 0)
        {
            Interlocked.Exchange(ref _priorityInARow, 0);
        }

        return normal;
    }
}
