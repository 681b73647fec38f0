using System.Runtime.ExceptionServices;
using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline;

/// <summary>
/// Gathers messages of one type into batches for an <see cref="IHandleBatches{TMessage}"/>. Each message still goes
/// through the receive path on its own worker, with its own lease renewer, scope, retries and settlement; at this step
/// it joins the open batch and waits for the batch's verdict on it. The first message of a batch waits for the batch to
/// fill or its window to pass, then runs the handler (resolved from its scope) for all, and hands each message its
/// result: completed, failed (thrown here, so the attempt step applies the retry policy) or dead-lettered.
/// </summary>
internal sealed class BatchInvoker<TMessage, THandler>(BusConfiguration config) : IHandlerInvoker
    where TMessage : class
    where THandler : class, IHandleBatches<TMessage>
{
    private readonly object _gate = new();
    private Batch? _open;

    public string Name { get; } = typeof(THandler).FullName ?? typeof(THandler).Name;

    public async Task InvokeAsync(object message, MessageContext context, IServiceProvider services)
    {
        var options = config.OptionsFor(typeof(TMessage));
        var size = options?.BatchSize ?? HandlerOptions.DefaultBatchSize;
        var window = options?.BatchWindow ?? HandlerOptions.DefaultBatchWindow;
        var entry = new Entry(new BatchItem<TMessage>((TMessage)message, context), context.CancellationToken);
        Batch batch;
        bool first;
        lock (_gate)
        {
            _open ??= new Batch();
            batch = _open;
            first = batch.Entries.Count == 0;
            batch.Entries.Add(entry);
            if (batch.Entries.Count >= size)
            {
                _open = null; // full: later messages start the next batch
                batch.Full.TrySetResult();
            }
        }

        if (first)
        {
            await RunAsync(batch, window, services).ConfigureAwait(false);
        }

        await entry.Done.Task.ConfigureAwait(false);
        if (entry.Item.DeadLetterReason is { } reason)
        {
            await context.FailAsync(reason).ConfigureAwait(false);
        }

        if (entry.Item.Failure is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Waits for the batch to fill or its window to pass, closes it and handles it.</summary>
    private async Task RunAsync(Batch batch, TimeSpan window, IServiceProvider services)
    {
        var time = services.GetRequiredService<TimeProvider>();
        using (var windowTimer = new CancellationTokenSource(window, time))
        {
            await batch.Full.Task.WaitAsync(windowTimer.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        List<Entry> entries;
        lock (_gate)
        {
            if (_open == batch)
            {
                _open = null;
            }

            entries = [.. batch.Entries];
        }

        // The batch lives as one: a lost lease, the max runtime or a hard stop of any message cancels its handler.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(entries.Select(e => e.Token).ToArray());
        try
        {
            await services.GetRequiredService<THandler>().HandleAsync(entries.Select(e => e.Item).ToList(), cancel.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            foreach (var entry in entries.Where(e => e.Item.Failure is null && e.Item.DeadLetterReason is null))
            {
                entry.Item.Fail(ex);
            }
        }
        finally
        {
            foreach (var entry in entries)
            {
                entry.Done.TrySetResult();
            }
        }
    }

    private sealed class Batch
    {
        public List<Entry> Entries { get; } = [];

        public TaskCompletionSource Full { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Entry(BatchItem<TMessage> Item, CancellationToken Token)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
