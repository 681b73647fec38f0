using Bus.Leases;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>A delivery held by a worker, or parked over its type's concurrency limit: the message, the renewer that keeps
/// its lease (the worker's, or a parked message's own) and its delivery number on that renewer.</summary>
internal readonly record struct HeldMessage(IReceivedMessage Message, LeaseRenewer Renewer, int Delivery, bool Parked) : IAsyncDisposable
{
    /// <summary>Ends the delivery on its renewer; a parked message's own renewer is disposed with it.</summary>
    public ValueTask DisposeAsync() => Parked ? Renewer.DisposeAsync() : Renewer.EndAsync();
}
