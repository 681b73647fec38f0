using System.Text.Json;
using Bus.Hosting;
using Bus.Jobs;
using Bus.Steps;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>What every <see cref="MessageContext"/> of the endpoint works with, given to it explicitly: the bus, the
/// sender of held messages, the step and job status stores, the clock, logs and JSON settings.</summary>
internal sealed class HandlerServices(
    IBus bus, MessageSender sender, IStepStore steps, IJobStatusStore jobs, TimeProvider time, ILoggerFactory loggers, BusConfiguration config)
{
    public IBus Bus => bus;

    public MessageSender Sender => sender;

    public IStepStore StepStore => steps;

    /// <summary>Keeps two copies of a message handled here at once from running the same step twice.</summary>
    public StepGate StepGate { get; } = new();

    public IJobStatusStore Jobs => jobs;

    public TimeProvider Time => time;

    public ILogger Log { get; } = loggers.CreateLogger("Bus");

    /// <summary>For step results and job results.</summary>
    public JsonSerializerOptions Json { get; } = new(config.Json);

    /// <summary>The tag every measurement of this endpoint carries.</summary>
    public KeyValuePair<string, object?> EndpointTag { get; } = new("bus.endpoint", config.EndpointName);
}
