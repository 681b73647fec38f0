using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>
/// The per-type limits of an endpoint (<c>ConfigureHandling&lt;T&gt;(h =&gt; h.MaxConcurrency(n))</c>): how many messages
/// of a limited type run at once, and the messages of it waiting for a place. A message over its type's limit is
/// parked here, its lease still renewed, and the worker goes on to other messages; the worker that finishes a message
/// of the type takes the next parked one. At most the limit's number of messages wait per type; one more is released
/// without counting an attempt (<see cref="Admission.Release"/>), so one type never fills the endpoint's places.
/// </summary>
internal sealed class TypeConcurrency
{
    private readonly object _gate = new();
    private readonly Dictionary<MessageType, Slots> _slots = new(ReferenceEqualityComparer.Instance);

    /// <summary>What to do with a message of a limited type.</summary>
    public enum Admission
    {
        /// <summary>Run it now: it holds one of its type's places until <see cref="Exit"/>.</summary>
        Run,

        /// <summary>Parked: a worker that finishes a message of its type runs it.</summary>
        Parked,

        /// <summary>Its type is at its limit and enough wait: release it, without counting an attempt.</summary>
        Release,
    }

    /// <summary>Admits a message of <paramref name="type"/> under <paramref name="limit"/>; when it is parked,
    /// <paramref name="park"/> makes what waits (under the lock, so a worker finishing the type's message finds it).</summary>
    public Admission Enter(MessageType type, int limit, Func<HeldMessage> park)
    {
        lock (_gate)
        {
            if (!_slots.TryGetValue(type, out var slots))
            {
                slots = new Slots();
                _slots[type] = slots;
            }

            if (slots.Running < limit)
            {
                slots.Running++;
                return Admission.Run;
            }

            if (slots.Parked.Count < limit)
            {
                slots.Parked.Enqueue(park());
                return Admission.Parked;
            }

            return Admission.Release;
        }
    }

    /// <summary>A message of <paramref name="type"/> finished: hands its place to the next parked message, returned
    /// in <paramref name="next"/> for the caller to run, or frees it.</summary>
    public bool Exit(MessageType type, out HeldMessage next)
    {
        lock (_gate)
        {
            var slots = _slots[type];
            if (slots.Parked.TryDequeue(out next))
            {
                return true;
            }

            slots.Running--;
            return false;
        }
    }

    /// <summary>Takes every parked message (at stop, to release them).</summary>
    public List<HeldMessage> TakeParked()
    {
        lock (_gate)
        {
            var parked = _slots.Values.SelectMany(s => s.Parked).ToList();
            foreach (var slots in _slots.Values)
            {
                slots.Parked.Clear();
            }

            return parked;
        }
    }

    private sealed class Slots
    {
        public int Running { get; set; }

        public Queue<HeldMessage> Parked { get; } = new();
    }
}
