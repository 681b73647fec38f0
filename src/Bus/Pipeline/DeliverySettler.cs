using Bus.Diagnostics;
using Bus.Hosting;
using Bus.Jobs;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>
/// Applies an <see cref="Outcome"/> to its delivery, once: completes, abandons (retry), releases or dead-letters the
/// received message; never settles a message whose lease was lost. Counts the outcome (the <see cref="BusTelemetry"/>
/// counters), saves the final status of a job that reported progress or a result, and tells the
/// <see cref="IDeliveryObserver"/>s.
/// </summary>
internal sealed class DeliverySettler
{
    private readonly IJobStatusStore _jobs;
    private readonly IDeliveryObserver[] _observers;
    private readonly TimeSpan _maxDelay;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly KeyValuePair<string, object?> _endpointTag;

    public DeliverySettler(
        IJobStatusStore jobs, IEnumerable<IDeliveryObserver> observers, ITransport transport, TimeProvider time, ILoggerFactory loggers, BusConfiguration config)
    {
        _jobs = jobs;
        _observers = [.. observers];
        _maxDelay = transport.Capabilities.MaxDelay;
        _time = time;
        _log = loggers.CreateLogger("Bus");
        _endpointTag = new("bus.endpoint", config.EndpointName);
    }

    /// <summary>Settles <paramref name="context"/>'s message as <paramref name="outcome"/> says; its lease renewer has
    /// stopped.</summary>
    public async Task SettleAsync(IncomingContext context, Outcome outcome)
    {
        var received = context.Received;
        if (outcome.Kind == OutcomeKind.LeaseLost)
        {
            await NotifyAsync(context, outcome).ConfigureAwait(false);
            return;
        }

        if (context.Renewer.IsLeaseLost)
        {
            _log.LogWarning("Not settling message {MessageId} ({Outcome}): its lease was lost.", context.MessageId, outcome.Kind);
            await NotifyAsync(context, Outcome.LeaseLost("the lease was lost before the message was settled")).ConfigureAwait(false);
            return;
        }

        if (outcome.Kind != OutcomeKind.Complete)
        {
            // Saved first: whoever sees the message retried or dead-lettered finds the job's status final.
            await SaveJobStatusAsync(context, outcome.JobState).ConfigureAwait(false);
        }

        var delay = outcome.Delay > _maxDelay ? _maxDelay : outcome.Delay;
        try
        {
            switch (outcome.Kind)
            {
                case OutcomeKind.Complete:
                    await received.CompleteAsync(CancellationToken.None).ConfigureAwait(false);
                    break;
                case OutcomeKind.Retry:
                    await received.AbandonAsync(delay, CancellationToken.None).ConfigureAwait(false);
                    break;
                case OutcomeKind.Release:
                    await received.ReleaseAsync(delay, CancellationToken.None).ConfigureAwait(false);
                    break;
                default:
                    _log.LogError("Dead-lettering message {MessageId} from {Queue}: {Reason}", context.MessageId, received.Queue, outcome.Reason);
                    var failure = FailureDetails.From(outcome.Reason!, outcome.Exception, received.ReceiveCount, received.Queue, _time.GetUtcNow());
                    await received.DeadLetterAsync(failure, CancellationToken.None).ConfigureAwait(false);
                    break;
            }
        }
        catch (LeaseLostException ex)
        {
            BusTelemetry.LeasesLost.Add(1, _endpointTag);
            _log.LogWarning(ex, "Could not settle message {MessageId} ({Outcome}): its lease was lost; it will be delivered again.",
                context.MessageId, outcome.Kind);
            await NotifyAsync(context, Outcome.LeaseLost("the lease was lost when the message was settled")).ConfigureAwait(false);
            return;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Could not settle message {MessageId} ({Outcome}); it stays in {Queue} and will be delivered again when its lease expires.",
                context.MessageId, outcome.Kind, received.Queue);
            return;
        }

        var counter = outcome.Kind switch
        {
            OutcomeKind.Complete => BusTelemetry.Completed,
            OutcomeKind.Retry => BusTelemetry.Retried,
            OutcomeKind.Release => BusTelemetry.Released,
            _ => BusTelemetry.DeadLettered,
        };
        counter.Add(1, _endpointTag);
        if (outcome.Kind == OutcomeKind.Complete)
        {
            await SaveJobStatusAsync(context, JobState.Completed).ConfigureAwait(false);
        }

        await NotifyAsync(context, outcome).ConfigureAwait(false);
    }

    /// <summary>Records how a job ended, when it reported progress or a result (most messages never do).</summary>
    private async Task SaveJobStatusAsync(IncomingContext context, JobState? state)
    {
        if (context.Handler?.Status is not { } status || state is not { } final)
        {
            return;
        }

        try
        {
            await _jobs.SaveAsync(status with { State = final, UpdatedAt = _time.GetUtcNow() }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The job's outcome stands; only its status is stale.
            _log.LogWarning(ex, "Could not save the final status ({State}) of job {MessageId}.", final, context.MessageId);
        }
    }

    private async Task NotifyAsync(IncomingContext context, Outcome outcome)
    {
        if (_observers.Length == 0)
        {
            return;
        }

        var delay = outcome.Delay > _maxDelay ? _maxDelay : outcome.Delay;
        var report = new DeliveryReport(context.MessageId, context.MessageType, context.Attempt, context.Queue, outcome.Kind, outcome.Reason, delay);
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnSettledAsync(report, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _log.LogWarning(ex, "Delivery observer {Observer} failed on message {MessageId}; ignored.", observer.GetType().Name, context.MessageId);
            }
        }
    }
}
