namespace Bus.AmazonSqs.Batching;

/// <summary>
/// Coalesces single-entry requests into batch calls per key (a queue URL): entries wait up to a short window, or
/// until the batch is full, then one call carries them all. The flush reports an outcome per entry (null = done,
/// else the exception for that entry); a failure of the whole call fails every entry of the batch.
/// </summary>
internal sealed class RequestBatcher<TItem>
{
    public delegate Task<IReadOnlyList<Exception?>> FlushAsync(string key, IReadOnlyList<TItem> items, CancellationToken cancellationToken);

    private readonly object _gate = new();
    private readonly Dictionary<string, Batch> _open = new(StringComparer.Ordinal);
    private readonly HashSet<Task> _sending = [];
    private readonly FlushAsync _flush;
    private readonly TimeSpan _window;
    private readonly TimeProvider _clock;
    private readonly int _maxBatch;

    /// <param name="flush">Sends one batch.</param>
    /// <param name="window">How long the first entry of a batch waits for company.</param>
    /// <param name="clock">The clock the window runs on: the system clock in production (this is coalescing, not
    /// message timing, so it does not follow the bus's virtual time); tests pass a manual one to decide when a
    /// window ends.</param>
    /// <param name="maxBatch">Entries per call (10 for SQS).</param>
    public RequestBatcher(FlushAsync flush, TimeSpan window, TimeProvider clock, int maxBatch = 10)
    {
        _flush = flush;
        _window = window;
        _clock = clock;
        _maxBatch = maxBatch;
    }

    /// <summary>Adds an entry and completes when its batch call has answered for it.</summary>
    public Task EnqueueAsync(string key, TItem item, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Batch? full = null;
        Batch? started = null;
        lock (_gate)
        {
            if (!_open.TryGetValue(key, out var batch))
            {
                batch = new Batch(key);
                _open[key] = batch;
                started = batch;
            }

            batch.Items.Add(item);
            batch.Completions.Add(completion);
            if (batch.Items.Count >= _maxBatch)
            {
                _open.Remove(key);
                full = batch;
            }
        }

        if (full is not null)
        {
            Track(SendAsync(full));
        }
        else if (started is not null)
        {
            Track(FlushAfterWindowAsync(started));
        }

        return completion.Task.WaitAsync(cancellationToken);
    }

    private async Task FlushAfterWindowAsync(Batch batch)
    {
        if (_window > TimeSpan.Zero)
        {
            await Task.Delay(_window, _clock).ConfigureAwait(false);
        }
        else
        {
            await Task.Yield();
        }

        lock (_gate)
        {
            if (!_open.TryGetValue(batch.Key, out var current) || !ReferenceEquals(current, batch))
            {
                return; // already sent because it filled up
            }

            _open.Remove(batch.Key);
        }

        await SendAsync(batch).ConfigureAwait(false);
    }

    /// <summary>Sends every open batch now and waits until every call under way has answered.</summary>
    public Task FlushAllAsync()
    {
        List<Batch> open;
        lock (_gate)
        {
            open = [.. _open.Values];
            _open.Clear();
        }

        foreach (var batch in open)
        {
            Track(SendAsync(batch));
        }

        Task[] sending;
        lock (_gate)
        {
            sending = [.. _sending];
        }

        return Task.WhenAll(sending);
    }

    private void Track(Task send)
    {
        lock (_gate)
        {
            if (send.IsCompleted)
            {
                return;
            }

            _sending.Add(send);
        }

        _ = send.ContinueWith(
            t =>
            {
                lock (_gate)
                {
                    _sending.Remove(t);
                }
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task SendAsync(Batch batch)
    {
        try
        {
            var outcomes = await _flush(batch.Key, batch.Items, CancellationToken.None).ConfigureAwait(false);
            for (var i = 0; i < batch.Completions.Count; i++)
            {
                if (i < outcomes.Count && outcomes[i] is { } error)
                {
                    batch.Completions[i].TrySetException(error);
                }
                else
                {
                    batch.Completions[i].TrySetResult();
                }
            }
        }
        catch (Exception e)
        {
            foreach (var completion in batch.Completions)
            {
                completion.TrySetException(e);
            }
        }
    }

    private sealed class Batch(string key)
    {
        public string Key { get; } = key;

        public List<TItem> Items { get; } = [];

        public List<TaskCompletionSource> Completions { get; } = [];
    }
}
