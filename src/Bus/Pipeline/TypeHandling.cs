using Bus.Hosting;
using Bus.Leases;
using Bus.Recoverability;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>How messages of one type are handled on an endpoint: its handlers, options, execution profile and retry
/// policy.</summary>
internal sealed class TypeHandling(MessageType type, IHandlerInvoker[] invokers, HandlerOptions? options, ExecutionProfile profile, RetryPolicy retry)
{
    public MessageType Type => type;

    public IHandlerInvoker[] Invokers => invokers;

    public HandlerOptions? Options => options;

    public ExecutionProfile Profile => profile;

    public RetryPolicy Retry => retry;

    /// <summary>The daily window the handlers run in, if any.</summary>
    public TimeWindow? Window => options?.Window;
}
