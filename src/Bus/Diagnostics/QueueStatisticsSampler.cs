using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Diagnostics;

/// <summary>
/// Reads the endpoint queue's statistics every interval while someone listens to the <c>bus.queue.*</c> gauges, and
/// keeps the latest reading for them: a gauge's callback is synchronous and must not wait on a broker, so it reports what
/// was read last. The reading is dropped when the endpoint stops.
/// </summary>
internal sealed class QueueStatisticsSampler(IQueueStatistics statistics, string queue, TimeSpan interval, TimeProvider time, ILogger log)
{
    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                if (QueueGauges.Listened)
                {
                    await SampleAsync(stopping).ConfigureAwait(false);
                }

                await Task.Delay(interval, time, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        finally
        {
            QueueGauges.Forget(this);
        }
    }

    /// <summary>Reads the statistics once and publishes them to the gauges; a failure is logged and the old reading
    /// dropped (a gauge shows nothing rather than a stale figure).</summary>
    public async Task SampleAsync(CancellationToken cancellationToken)
    {
        try
        {
            QueueGauges.Publish(this, await statistics.GetAsync(queue, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            QueueGauges.Forget(this);
            log.LogWarning(ex, "Reading the statistics of queue {Queue} failed; trying again in {Interval}.", queue, interval);
        }
    }
}
