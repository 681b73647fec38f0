using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Bus.Diagnostics;

/// <summary>The names under which the bus reports traces and metrics, for OpenTelemetry's AddSource/AddMeter.</summary>
public static class BusTelemetry
{
    /// <summary>The ActivitySource and Meter name: "Bus".</summary>
    public const string Name = "Bus";

    internal static readonly ActivitySource Source = new(Name, "1.0");
    internal static readonly Meter Meter = new(Name, "1.0");

    internal static readonly Counter<long> Sent = Meter.CreateCounter<long>("bus.messages.sent", "{message}", "Messages sent or published.");
    internal static readonly Counter<long> Received = Meter.CreateCounter<long>("bus.messages.received", "{message}", "Messages received.");
    internal static readonly Counter<long> Completed = Meter.CreateCounter<long>("bus.messages.completed", "{message}", "Messages handled successfully.");
    internal static readonly Counter<long> Retried = Meter.CreateCounter<long>("bus.messages.retried", "{message}", "Failed attempts given back for a retry.");
    internal static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("bus.messages.dead_lettered", "{message}", "Messages moved to the dead-letter queue.");
    internal static readonly Counter<long> Released = Meter.CreateCounter<long>("bus.messages.released", "{message}", "Messages given back without counting an attempt (checkpoints, windows, shutdown, delay hops).");
    internal static readonly Counter<long> LeaseRenewals = Meter.CreateCounter<long>("bus.lease.renewals", "{renewal}", "Lease renewals (heartbeats and extensions).");
    internal static readonly Counter<long> LeasesLost = Meter.CreateCounter<long>("bus.lease.lost", "{lease}", "Leases lost while a handler ran or before it settled.");
    internal static readonly Counter<long> StepsExpired = Meter.CreateCounter<long>("bus.steps.expired", "{step}", "Steps of finished jobs deleted by the step retention.");
    internal static readonly Counter<long> WorkflowUnmatched = Meter.CreateCounter<long>("bus.workflow.unmatched", "{message}", "Messages that matched no running workflow instance.");
    internal static readonly Histogram<double> HandlerDuration = Meter.CreateHistogram<double>("bus.handler.duration", "ms", "Time from handler start to settlement.");
    internal static readonly Histogram<double> Progress = Meter.CreateHistogram<double>("bus.job.progress", "{ratio}", "Progress reported by long jobs (done / total).");
}
