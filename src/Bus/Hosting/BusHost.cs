using Bus.Diagnostics;
using Bus.Pipeline;
using Bus.Schedules;
using Bus.Steps;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bus.Hosting;

/// <summary>Starts and stops the bus with the host: checks, provisioning, then receiving.</summary>
internal sealed class BusHost(
    BusConfiguration config, IServiceProvider services, ITransport transport, IStepStore steps, IWorkflowStore workflowStore,
    WorkflowRegistry workflows, IScheduleStore scheduleStore, ScheduleRunner schedules, TimeProvider time, ILoggerFactory loggers,
    ReceiveLoopState receiveLoop)
    : IHostedService, IAsyncDisposable
{
    private readonly ILogger _log = loggers.CreateLogger("Bus");
    private readonly CancellationTokenSource _stopping = new();
    private EndpointReceiver? _receiver;
    private Task? _retention;
    private QueueStatisticsSampler? _sampler;
    private Task? _sampling;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var topology = Topology();
        var problems = StartupChecks.Find(config, transport.Capabilities, topology.Subscriptions.Count > 0, steps, workflows.Any ? workflowStore : null,
            config.Schedules.Count > 0 ? scheduleStore : null);
        if (problems.Count > 0)
        {
            var text = string.Join(Environment.NewLine + "- ", problems.Prepend($"Endpoint '{config.EndpointName}' cannot run as configured on the {transport.Capabilities.Name} transport:"));
            if (config.Strict)
            {
                throw new BusConfigurationException(text + Environment.NewLine + "(Set bus.Strict = false to start anyway with warnings.)");
            }

            _log.LogWarning("{Problems}", text);
        }

        await transport.ProvisionAsync(topology, cancellationToken).ConfigureAwait(false);
        // An endpoint receives when it handles something or subscribed to an event: what a subscription brings must be
        // handled or dead-lettered, never left to pile up unread. A send-only endpoint does not poll.
        if (config.Handlers.MessageTypes.Any() || topology.Subscriptions.Count > 0)
        {
            _receiver = ActivatorUtilities.CreateInstance<EndpointReceiver>(services);
            _receiver.Start();
        }
        else
        {
            receiveLoop.SendOnly();
        }

        if (config.QueueStatisticsInterval is { } interval && transport.Statistics is { } statistics)
        {
            _sampler = new QueueStatisticsSampler(statistics, config.EndpointName!, interval, time, _log);
            _sampling = Task.Run(() => _sampler.RunAsync(_stopping.Token), CancellationToken.None);
        }

        await schedules.StartAsync(cancellationToken).ConfigureAwait(false);
        if (config.StepRetention is { } retention)
        {
            _retention = Task.Run(() => ExpireStepsAsync(retention, _stopping.Token), CancellationToken.None);
        }

        _log.LogInformation("Bus endpoint {Endpoint} started on {Transport} ({Concurrency} concurrent, prefetch {Prefetch}).",
            config.EndpointName, transport.Capabilities.Name, config.MaxConcurrency, EndpointReceiver.EffectivePrefetch(config, transport.Capabilities));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await schedules.StopAsync().ConfigureAwait(false);
        if (_receiver is not null)
        {
            await _receiver.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_retention is not null)
        {
            await _retention.ConfigureAwait(false);
        }

        if (_sampling is not null)
        {
            await _sampling.ConfigureAwait(false);
        }

        _log.LogInformation("Bus endpoint {Endpoint} stopped.", config.EndpointName);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_receiver is not null)
        {
            await _receiver.DisposeAsync().ConfigureAwait(false);
        }

        await schedules.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>Deletes the steps of jobs finished longer than <paramref name="retention"/> ago, every quarter of the
    /// retention (at most hourly), until the host stops.</summary>
    private async Task ExpireStepsAsync(TimeSpan retention, CancellationToken stopping)
    {
        var interval = retention / 4 < TimeSpan.FromHours(1) ? retention / 4 : TimeSpan.FromHours(1);
        var tag = new KeyValuePair<string, object?>("bus.endpoint", config.EndpointName);
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                await Task.Delay(interval, time, stopping).ConfigureAwait(false);
                try
                {
                    var deleted = await steps.DeleteJobsFinishedBeforeAsync(time.GetUtcNow() - retention, stopping).ConfigureAwait(false);
                    if (deleted > 0)
                    {
                        _log.LogInformation("Deleted {Count} steps of jobs finished more than {Retention} ago.", deleted, retention);
                    }

                    Diagnostics.BusTelemetry.StepsExpired.Add(deleted, tag);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _log.LogWarning(ex, "Deleting expired steps failed; trying again in {Interval}.", interval);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    internal TransportTopology Topology()
    {
        var events = config.Messages.All.Where(m => m.Kind == MessageKind.Event).ToList();
        var subscriptions = events
            .Where(e => config.ExplicitSubscriptions.Contains(e.ClrType) || config.Handlers.For(e.ClrType).Length > 0)
            .Where(e => !config.SystemMessages.MessageTypes.Contains(e.ClrType))
            .Select(e => e.WireName)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var published = events
            .Where(e => !config.SystemMessages.MessageTypes.Contains(e.ClrType))
            .Select(e => e.WireName).Distinct(StringComparer.Ordinal).ToList();
        return new TransportTopology(config.EndpointName!, published, subscriptions);
    }
}
