using Bus.Leases;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>A delivery held by a worker, or parked over its type's concurrency limit: the message, its lease renewer and,
/// for a parked one, the clock of its own that renews its lease while no worker holds it.</summary>
internal readonly record struct HeldMessage(IReceivedMessage Message, LeaseRenewer Renewer, LeaseClock? OwnClock) : IAsyncDisposable
{
    /// <summary>Stops and disposes the renewer, then its own clock if it has one.</summary>
    public async ValueTask DisposeAsync()
    {
        await Renewer.DisposeAsync().ConfigureAwait(false);
        OwnClock?.Dispose();
    }
}
