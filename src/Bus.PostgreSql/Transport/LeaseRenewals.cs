using System.Threading.Channels;

namespace Bus.PostgreSql.Transport;

/// <summary>
/// Renews leases in batches: renewals asked for while one statement runs go together in the next (one <c>UPDATE</c>
/// over arrays of ids, tokens and expiries), so a thousand long jobs heartbeating cost a few statements, not a thousand.
/// </summary>
internal sealed class LeaseRenewals(MessageTable table) : IAsyncDisposable
{
    private const int MaxBatch = 1_000;
    private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private Task? _loop;

    /// <summary>Extends the lease of <paramref name="row"/> to <paramref name="expiresAt"/>; false when it is no longer held.</summary>
    public Task<bool> RenewAsync(LeasedRow row, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _loop ??= RunAsync();
        }

        var request = new Request(row.Id, row.Token, expiresAt);
        if (!_requests.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(PostgreSqlTransport));
        }

        return request.Held.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _requests.Writer.TryComplete();
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task RunAsync()
    {
        await Task.Yield();
        var reader = _requests.Reader;
        var batch = new List<Request>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var request))
            {
                batch.Add(request);
            }

            try
            {
                var held = await table.RenewAsync([.. batch.Select(r => (r.Id, r.Token, r.ExpiresAt))], CancellationToken.None)
                    .ConfigureAwait(false);
                foreach (var request in batch)
                {
                    request.Held.TrySetResult(held.Contains(request.Id));
                }
            }
            catch (Exception e)
            {
                foreach (var request in batch)
                {
                    request.Held.TrySetException(e);
                }
            }
        }
    }

    private sealed record Request(long Id, Guid Token, DateTimeOffset ExpiresAt)
    {
        public TaskCompletionSource<bool> Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
