using System.Collections.Concurrent;
using Bus.PostgreSql.Schema;
using Npgsql;

namespace Bus.PostgreSql.Transport;

/// <summary>
/// Wake-ups per queue: one connection per transport listens (<c>LISTEN</c>) on the schema's channel, and every
/// <c>NOTIFY</c> carrying a queue's name, from any host, wakes the receivers waiting on that queue. While the listening
/// connection is down (it reconnects after a second), receivers fall back to their poll interval, and every queue is
/// woken once it is back.
/// </summary>
internal sealed class QueueNotifications(PostgreSqlDatabase database) : IAsyncDisposable
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _queues = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Task? _listening; // completes when LISTEN is first active
    private Task? _loop;

    /// <summary>A task that completes at the next wake-up of <paramref name="queue"/>. Take it before looking for
    /// messages, so a send in between is not missed.</summary>
    public Task Next(string queue) =>
        _queues.GetOrAdd(queue, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Wakes the receivers waiting on <paramref name="queue"/> in this process.</summary>
    public void Notify(string queue)
    {
        if (_queues.TryRemove(queue, out var signal))
        {
            signal.TrySetResult();
        }
    }

    /// <summary>Starts listening unless it runs; completes once <c>LISTEN</c> is active, so nothing sent after is missed.</summary>
    /// <exception cref="BusConfigurationException">The server cannot be reached.</exception>
    public Task EnsureListeningAsync()
    {
        lock (_gate)
        {
            if (_listening is null || _listening.IsFaulted)
            {
                var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _listening = ready.Task;
                _loop = ListenAsync(ready, _stopping.Token);
            }

            return _listening;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task? loop;
        lock (_gate)
        {
            loop = _loop;
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        foreach (var queue in _queues.Keys)
        {
            Notify(queue);
        }

        _stopping.Dispose();
    }

    private async Task ListenAsync(TaskCompletionSource ready, CancellationToken stopping)
    {
        await Task.Yield();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenAsync(stopping).ConfigureAwait(false);
                connection.Notification += (_, e) => Notify(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN \"{database.Channel}\";", connection))
                {
                    await listen.ExecuteNonQueryAsync(stopping).ConfigureAwait(false);
                }

                ready.TrySetResult();
                WakeAll(); // what was sent while nobody listened is looked for now
                while (true)
                {
                    await connection.WaitAsync(stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                ready.TrySetCanceled(stopping);
                return;
            }
            catch (Exception e) when (!ready.Task.IsCompleted)
            {
                ready.TrySetException(e); // the first connection failed: the receive reports it; the next one retries
                return;
            }
            catch (Exception)
            {
                WakeAll();
                try
                {
                    await Task.Delay(ReconnectDelay, TimeProvider.System, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void WakeAll()
    {
        foreach (var queue in _queues.Keys)
        {
            Notify(queue);
        }
    }
}
