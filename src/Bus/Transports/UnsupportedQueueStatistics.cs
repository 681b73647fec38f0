namespace Bus.Transports;

/// <summary>What dependency injection serves as <see cref="IQueueStatistics"/> when the transport counts nothing
/// (<see cref="ITransport.Statistics"/> is null): every call says so.</summary>
internal sealed class UnsupportedQueueStatistics(string transportName) : IQueueStatistics
{
    public Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken) => throw Unsupported();

    public Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken) => throw Unsupported();

    private NotSupportedException Unsupported() => new(
        $"The {transportName} transport does not report queue statistics (its ITransport.Statistics is null). " +
        "Use a transport that does (in-memory, SQLite, SQS, Service Bus), or implement ITransport.Statistics in this one.");
}
