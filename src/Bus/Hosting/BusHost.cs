using Bus.Pipeline;
using Bus.Transports;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bus.Hosting;

/// <summary>Starts and stops the bus with the host: checks, provisioning, then receiving.</summary>
internal sealed class BusHost(BusConfiguration config, MessagePipeline pipeline, ITransport transport, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _log = loggers.CreateLogger("Bus");
    private EndpointReceiver? _receiver;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var topology = Topology();
        var problems = StartupChecks.Find(config, transport.Capabilities, topology.Subscriptions.Count > 0);
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
        if (config.Handlers.MessageTypes.Any())
        {
            _receiver = new EndpointReceiver(pipeline, config.EndpointName!, config.MaxConcurrency, config.Prefetch, config.ShutdownTimeout);
            _receiver.Start();
        }

        _log.LogInformation("Bus endpoint {Endpoint} started on {Transport} ({Concurrency} concurrent, prefetch {Prefetch}).",
            config.EndpointName, transport.Capabilities.Name, config.MaxConcurrency, config.Prefetch);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_receiver is not null)
        {
            await _receiver.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        _log.LogInformation("Bus endpoint {Endpoint} stopped.", config.EndpointName);
    }

    public async ValueTask DisposeAsync()
    {
        if (_receiver is not null)
        {
            await _receiver.DisposeAsync().ConfigureAwait(false);
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
