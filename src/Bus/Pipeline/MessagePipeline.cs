using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Bus.Diagnostics;
using Bus.Hosting;
using Bus.Jobs;
using Bus.Leases;
using Bus.Recoverability;
using Bus.Serialization;
using Bus.Steps;
using Bus.SystemMessages;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>
/// Handles one delivery from start to settlement: resolves the wire name (or a system message), deserializes,
/// calls every handler in a DI scope under a renewed lease, then completes, retries, releases or dead-letters.
/// Nothing is ever deleted without being handled or dead-lettered.
/// </summary>
internal sealed class MessagePipeline
{
    private readonly BusConfiguration _config;
    private readonly IServiceProvider _root;
    private readonly IServiceScopeFactory _scopes;
    private readonly SystemMessageMap _systemMessages;
    private readonly ConcurrentDictionary<MessageType, TypeHandling> _handling = new(ReferenceEqualityComparer.Instance);
    private TypeHandling? _lastHandling;

    public MessagePipeline(
        BusConfiguration config,
        ITransport transport,
        IMessageSerializer serializer,
        IServiceProvider root,
        IStepStore stepStore,
        IJobStatusStore jobs,
        SystemMessageMap systemMessages,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _config = config;
        _root = root;
        _scopes = root.GetRequiredService<IServiceScopeFactory>();
        _systemMessages = systemMessages;
        Transport = transport;
        Serializer = serializer;
        StepStore = stepStore;
        Jobs = jobs;
        Time = time;
        Log = loggers.CreateLogger("Bus");
        Json = new JsonSerializerOptions(config.Json);
        Sender = new MessageSender(config.Messages, config.Handlers, config.Routes, config.EndpointName!, serializer, transport, time);
        Bus = new MessageBus(Sender);
        EndpointTag = new("bus.endpoint", config.EndpointName);
    }

    /// <summary>The tag every measurement of this endpoint carries.</summary>
    public KeyValuePair<string, object?> EndpointTag { get; }

    public ITransport Transport { get; }

    public IMessageSerializer Serializer { get; }

    public IStepStore StepStore { get; }

    /// <summary>Keeps two copies of a message handled here at once from running the same step twice.</summary>
    public StepGate StepGate { get; } = new();

    public IJobStatusStore Jobs { get; }

    public TimeProvider Time { get; }

    public ILogger Log { get; }

    public JsonSerializerOptions Json { get; }

    public MessageSender Sender { get; }

    public IBus Bus { get; }

    /// <summary>How a received message is handled here, from its type header (before it is deserialized); null for a
    /// foreign payload or an unknown wire name, which the worker reports. The receive loop asks once per message, for
    /// the lease's profile and for reading ahead.</summary>
    public TypeHandling? HandlingFor(IReceivedMessage received) =>
        received.Message.Headers.TryGetValue(MessageHeaders.MessageType, out var name) && _config.Messages.TryResolve(name, out var type)
            ? HandlingOf(type)
            : null;

    /// <summary>The endpoint's profile, for messages whose type is not known at receive.</summary>
    public ExecutionProfile DefaultProfile => _config.Profile;

    /// <summary>The time window the handlers of <paramref name="type"/> run in, if any.</summary>
    public TimeWindow? WindowFor(MessageType type) => HandlingOf(type).Options?.Window;

    /// <summary>How messages of <paramref name="type"/> are handled here, found once per type (the last one found is
    /// checked first: an endpoint mostly receives runs of one type).</summary>
    private TypeHandling HandlingOf(MessageType type)
    {
        if (Volatile.Read(ref _lastHandling) is { } last && ReferenceEquals(last.Type, type))
        {
            return last;
        }

        var found = _handling.TryGetValue(type, out var known) ? known : _handling.GetOrAdd(type, NewHandling);
        Volatile.Write(ref _lastHandling, found);
        return found;
    }

    private TypeHandling NewHandling(MessageType type)
    {
        var options = _config.OptionsFor(type.ClrType);
        return new TypeHandling(type, _config.Handlers.For(type.ClrType), options, options?.Profile ?? _config.Profile);
    }

    /// <summary>The lease asked for at receive: the longest any handler's profile wants.</summary>
    public TimeSpan ReceiveLease =>
        _config.AllHandlerOptions.Values.Select(o => o.Profile?.LeaseDuration ?? TimeSpan.Zero).Append(_config.Profile.LeaseDuration).Max();

    /// <summary>
    /// Reads a received message ahead of its handler, on the receive loop: its type, and its body deserialized (or the
    /// error that stopped it). Only when nothing would keep it from being handled when a worker takes it: no delay hop,
    /// a known type with handlers here, no time window. A worker then only handles it, so a single worker does not also
    /// deserialize. Anything else is left to <see cref="ProcessAsync"/>, which does the same checks and reports.
    /// </summary>
    public PreparedMessage Prepare(IReceivedMessage received, TypeHandling handling)
    {
        try
        {
            return PrepareOrNot(received, handling);
        }
        catch (Exception ex)
        {
            // Never stops the receive loop: the worker does the same steps again and reports what fails.
            Log.LogWarning(ex, "Reading message {MessageId} ahead failed; its worker reads it.", received.Message.MessageId);
            return default;
        }
    }

    private PreparedMessage PrepareOrNot(IReceivedMessage received, TypeHandling handling)
    {
        var type = handling.Type;
        if (received.Message.Headers.ContainsKey(MessageHeaders.DeliverAt)
            || VersionProblem(received.Message.Headers, type) is not null
            || handling.Invokers.Length == 0
            || handling.Options?.Window is not null)
        {
            return default;
        }

        try
        {
            return new PreparedMessage(type, Serializer.Deserialize(received.Message.Body.Span, type.ClrType), null);
        }
        catch (Exception ex)
        {
            return new PreparedMessage(type, null, ex);
        }
    }

    public async Task ProcessAsync(IReceivedMessage received, LeaseRenewer renewer, PreparedMessage prepared, CancellationToken stopping, CancellationToken hardStop)
    {
        BusTelemetry.Received.Add(1, EndpointTag);
        using var activity = StartActivity(received);
        var timed = BusTelemetry.HandlerDuration.Enabled; // the clock is read only for a listener
        var started = timed ? Time.GetTimestamp() : 0;
        var outcome = "unknown";
        if (Log.IsEnabled(LogLevel.Debug))
        {
            Log.LogDebug("Processing message {MessageId} from {Queue}, attempt {Attempt}.", received.Message.MessageId, received.Queue, received.ReceiveCount);
        }

        try
        {
            MessageType type;
            object? message;
            Exception? unreadable = null;
            TypeHandling handling;
            if (prepared.Type is { } known)
            {
                (type, message, unreadable) = (known, prepared.Message, prepared.Error);
                handling = HandlingOf(type);
            }
            else
            {
                // Most messages carry no deliver-at time: checked here, the async hop is not entered for them.
                if (received.Message.Headers.ContainsKey(MessageHeaders.DeliverAt) && await DelayHopAsync(received).ConfigureAwait(false))
                {
                    outcome = "delayed";
                    return;
                }

                if (!TryResolve(received, out type, out message, out var failure))
                {
                    outcome = "dead-lettered";
                    await DeadLetterAsync(received, failure!, renewer).ConfigureAwait(false);
                    return;
                }

                handling = HandlingOf(type);
                if (handling.Invokers.Length == 0)
                {
                    outcome = "dead-lettered";
                    await DeadLetterAsync(received, Failure(received, $"No handler for message type '{type.WireName}' on endpoint '{_config.EndpointName}'.", null), renewer).ConfigureAwait(false);
                    return;
                }

                var window = handling.Options?.Window;
                if (window is not null && Time.GetUtcNow() is var now && !window.IsOpen(now))
                {
                    outcome = "deferred";
                    var opens = window.NextOpening(now);
                    Log.LogInformation("Message {MessageId} ({MessageType}) arrived outside its window {Window}; deferred until {Opens}.",
                        received.Message.MessageId, type.WireName, window, opens);
                    await SettleAsync(received, renewer, Settlement.Release, Cap(opens - now)).ConfigureAwait(false);
                    BusTelemetry.Released.Add(1, EndpointTag);
                    return;
                }

                if (message is null)
                {
                    try
                    {
                        message = Serializer.Deserialize(received.Message.Body.Span, type.ClrType);
                    }
                    catch (Exception ex)
                    {
                        unreadable = ex;
                    }
                }
            }

            var retry = handling.Options?.Retry ?? _config.Retry;
            if (received.ReceiveCount > retry.ReceiveCountCap)
            {
                outcome = "dead-lettered";
                await DeadLetterAsync(received, Failure(received,
                    $"Received {received.ReceiveCount} times without being settled (RetryPolicy.MaxReceiveCount is {retry.ReceiveCountCap}): " +
                    "its handler crashed or stalled its process each time, or the workers holding it were killed.", null), renewer).ConfigureAwait(false);
                return;
            }

            if (unreadable is not null || message is null)
            {
                outcome = "dead-lettered";
                await DeadLetterAsync(received, Failure(received,
                    $"The body could not be deserialized as '{type.WireName}' ({type.ClrType.FullName}): {unreadable?.Message ?? "the serializer returned null"}", unreadable), renewer).ConfigureAwait(false);
                return;
            }

            outcome = await HandleAsync(received, type, message, handling, renewer, stopping, hardStop).ConfigureAwait(false);
        }
        finally
        {
            await renewer.StopAsync().ConfigureAwait(false);
            if (Log.IsEnabled(LogLevel.Debug))
            {
                Log.LogDebug("Message {MessageId}: {Outcome}.", received.Message.MessageId, outcome);
            }

            if (timed)
            {
                var elapsed = Time.GetElapsedTime(started);
                BusTelemetry.HandlerDuration.Record(elapsed.TotalMilliseconds, EndpointTag, new KeyValuePair<string, object?>("bus.outcome", outcome));
            }

            activity?.SetTag("bus.outcome", outcome);
        }
    }

    private async ValueTask<string> HandleAsync(
        IReceivedMessage received,
        MessageType type,
        object message,
        TypeHandling handling,
        LeaseRenewer renewer,
        CancellationToken stopping,
        CancellationToken hardStop)
    {
        renewer.BeginHandling(hardStop);
        var context = new MessageContext(this, received, type, renewer, stopping);

        // The ambient context lets an IBus injected anywhere enlist its sends. It is not set back afterwards: an async
        // method's changes to the execution context never reach its caller.
        MessageContext.Current = context;
        try
        {
            // A scope only when a handler could take something from one; otherwise it would change nothing but the cost.
            AsyncServiceScope? scope = handling.NeedsScope ? _scopes.CreateAsyncScope() : null;
            try
            {
                var services = scope?.ServiceProvider ?? _root;
                foreach (var invoker in handling.Invokers)
                {
                    await invoker.InvokeAsync(message, context, services).ConfigureAwait(false);
                }
            }
            finally
            {
                if (scope is { } made)
                {
                    await made.DisposeAsync().ConfigureAwait(false);
                }
            }

            if (context.Decision is { } decided)
            {
                // The handler swallowed the exception of FailAsync or a checkpoint: the decision stands.
                throw decided;
            }

            context.IsOpenForSends = false;
            await context.FlushAsync().ConfigureAwait(false);
            await renewer.StopAsync().ConfigureAwait(false);
            if (await SettleAsync(received, renewer, Settlement.Complete).ConfigureAwait(false))
            {
                await FinishJobAsync(context, JobState.Completed).ConfigureAwait(false);
                BusTelemetry.Completed.Add(1, EndpointTag);
            }

            return "completed";
        }
        catch (Exception ex)
        {
            context.IsOpenForSends = false;
            context.DiscardPending();
            await renewer.StopAsync().ConfigureAwait(false);
            if (!renewer.IsLeaseLost && !await SendRegardlessAsync(context).ConfigureAwait(false))
            {
                // What the handler sent regardless of the outcome did not go out: try the whole attempt again.
                return await RetrySendsAsync(received, type, ex, context, handling.Options?.Retry ?? _config.Retry, renewer).ConfigureAwait(false);
            }

            // A decision the handler made (FailAsync, a checkpoint) stands even when it threw something else after it.
            return await FailAsync(received, type, context.Decision ?? ex, context, handling.Options?.Retry ?? _config.Retry, renewer, hardStop).ConfigureAwait(false);
        }
    }

    /// <summary>Sends what a failed attempt sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/>; false when that
    /// failed (logged).</summary>
    private async ValueTask<bool> SendRegardlessAsync(MessageContext context)
    {
        try
        {
            await context.FlushRegardlessAsync().ConfigureAwait(false);
            return true;
        }
        catch (Exception ex)
        {
            Log.LogError(ex, "Messages that the handler of {MessageId} sent regardless of its outcome could not be sent.", context.MessageId);
            return false;
        }
    }

    /// <summary>The attempt is retried (its outcome not applied) because what it sent regardless of the outcome could
    /// not be sent; the last attempt dead-letters as usual.</summary>
    private async ValueTask<string> RetrySendsAsync(
        IReceivedMessage received, MessageType type, Exception ex, MessageContext context, RetryPolicy retry, LeaseRenewer renewer)
    {
        var attempt = received.ReceiveCount;
        if (!retry.HasAttemptsLeft(attempt))
        {
            await FinishJobAsync(context, JobState.DeadLettered).ConfigureAwait(false);
            await DeadLetterAsync(received, Failure(received,
                $"Attempts exhausted ({attempt} of {retry.MaxAttempts}); the messages the handler sent regardless of its outcome could not be sent: {ex.Message}", ex), renewer).ConfigureAwait(false);
            return "dead-lettered";
        }

        await FinishJobAsync(context, JobState.Failed).ConfigureAwait(false);
        if (await SettleAsync(received, renewer, Settlement.Abandon, Cap(retry.DelayAfter(attempt))).ConfigureAwait(false))
        {
            BusTelemetry.Retried.Add(1, EndpointTag);
        }

        return "retried";
    }

    /// <summary>Records how a job ended, when it reported progress or a result (most messages never do).</summary>
    private async ValueTask FinishJobAsync(MessageContext context, JobState state)
    {
        if (context.Status is not { } status)
        {
            return;
        }

        try
        {
            await Jobs.SaveAsync(status with { State = state, UpdatedAt = Time.GetUtcNow() }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The job's outcome stands; only its status is stale.
            Log.LogWarning(ex, "Could not save the final status ({State}) of job {MessageId}.", state, context.MessageId);
        }
    }

    private async ValueTask<string> FailAsync(
        IReceivedMessage received, MessageType type, Exception ex, MessageContext context, RetryPolicy retry, LeaseRenewer renewer, CancellationToken hardStop)
    {
        var attempt = received.ReceiveCount;
        if (renewer.IsLeaseLost)
        {
            Log.LogWarning("Handler of {MessageId} ({MessageType}) ended after its lease was lost; it is not settled here and will be delivered again.",
                context.MessageId, type.WireName);
            return "lease-lost";
        }

        switch (ex)
        {
            case FailNowException failNow:
                await FinishJobAsync(context, JobState.DeadLettered).ConfigureAwait(false);
                await DeadLetterAsync(received, Failure(received, failNow.Message, null), renewer).ConfigureAwait(false);
                return "dead-lettered";

            case CheckpointReleaseException checkpoint:
                Log.LogInformation("Job {MessageId} ({MessageType}) {Reason}; it resumes in {ResumeAfter}.",
                    context.MessageId, type.WireName, checkpoint.Message, checkpoint.ResumeAfter);
                await FinishJobAsync(context, JobState.Released).ConfigureAwait(false);
                await SettleAsync(received, renewer, Settlement.Release, Cap(checkpoint.ResumeAfter)).ConfigureAwait(false);
                BusTelemetry.Released.Add(1, EndpointTag);
                return "released";

            case OperationCanceledException when hardStop.IsCancellationRequested && !renewer.IsRuntimeExceeded:
                Log.LogWarning("Handler of {MessageId} ({MessageType}) was cancelled by shutdown; released for another worker.", context.MessageId, type.WireName);
                await FinishJobAsync(context, JobState.Released).ConfigureAwait(false);
                await SettleAsync(received, renewer, Settlement.Release, TimeSpan.Zero).ConfigureAwait(false);
                BusTelemetry.Released.Add(1, EndpointTag);
                return "released";
        }

        var reason = renewer.IsRuntimeExceeded
            ? $"Exceeded its max runtime of {renewer.Profile.MaxRuntime}"
            : null;
        await FinishJobAsync(context, JobState.Failed).ConfigureAwait(false);
        if (reason is null && !retry.IsRetryable(ex))
        {
            Log.LogError(ex, "Handler of {MessageId} ({MessageType}) failed with a non-retryable {ExceptionType}; dead-lettering.",
                context.MessageId, type.WireName, ex.GetType().Name);
            await DeadLetterAsync(received, Failure(received, $"Non-retryable {ex.GetType().Name}: {ex.Message}", ex), renewer).ConfigureAwait(false);
            return "dead-lettered";
        }

        if (!retry.HasAttemptsLeft(attempt))
        {
            Log.LogError(ex, "Handler of {MessageId} ({MessageType}) failed attempt {Attempt} of {MaxAttempts}; dead-lettering.",
                context.MessageId, type.WireName, attempt, retry.MaxAttempts);
            await DeadLetterAsync(received, Failure(received,
                $"Attempts exhausted ({attempt} of {retry.MaxAttempts}): {reason ?? $"{ex.GetType().Name}: {ex.Message}"}", ex), renewer).ConfigureAwait(false);
            return "dead-lettered";
        }

        var delay = Cap(retry.DelayAfter(attempt));
        Log.LogWarning(ex, "Handler of {MessageId} ({MessageType}) failed attempt {Attempt} of {MaxAttempts}{Why}; retrying in {Delay}.",
            context.MessageId, type.WireName, attempt, retry.MaxAttempts, reason is null ? string.Empty : $" ({reason})", delay);
        if (await SettleAsync(received, renewer, Settlement.Abandon, delay).ConfigureAwait(false))
        {
            BusTelemetry.Retried.Add(1, EndpointTag);
        }

        return "retried";
    }

    private bool TryResolve(IReceivedMessage received, out MessageType type, out object? message, out FailureDetails? failure)
    {
        message = null;
        failure = null;
        var headers = received.Message.Headers;
        if (headers.TryGetValue(MessageHeaders.MessageType, out var wireName))
        {
            if (!_config.Messages.TryResolve(wireName, out type))
            {
                failure = Failure(received, $"Unknown message type '{wireName}': no type is registered under this wire name on endpoint '{_config.EndpointName}'.", null);
                return false;
            }

            if (VersionProblem(headers, type) is { } problem)
            {
                failure = Failure(received, problem, null);
                return false;
            }

            return true;
        }

        if (_systemMessages.TryRecognize(received.Message.Body, out var systemType, out var systemMessage, out var error))
        {
            type = _config.Messages.Get(systemType!);
            message = systemMessage;
            return true;
        }

        type = null!;
        failure = Failure(received, error ?? "The message has no bus-message-type header and matches no registered system message.", null);
        return false;
    }

    /// <summary>
    /// Why a message of <paramref name="type"/> cannot be read for its version header, or null when it can. A message's
    /// identity is its wire name and version: an older version is read into the current type (a tolerant reader); a
    /// newer one is kept for an endpoint that knows it (deploy it, then redrive).
    /// </summary>
    private string? VersionProblem(IReadOnlyDictionary<string, string> headers, MessageType type)
    {
        if (!headers.TryGetValue(MessageHeaders.MessageVersion, out var versionText))
        {
            return null;
        }

        if (!int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version < 1)
        {
            return $"Message type '{type.WireName}' has an invalid version '{versionText}': versions are whole numbers from 1.";
        }

        return version > type.Version
            ? $"Message type '{type.WireName}' is version {version}, newer than the version {type.Version} endpoint '{_config.EndpointName}' knows " +
              $"({type.ClrType.FullName}). Deploy a handler that knows version {version}, then redrive it."
            : null;
    }

    /// <summary>For a delay longer than the transport holds at once: waits another hop without counting an attempt.</summary>
    private async Task<bool> DelayHopAsync(IReceivedMessage received)
    {
        if (!received.Message.Headers.TryGetValue(MessageHeaders.DeliverAt, out var value)
            || !DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var due))
        {
            return false;
        }

        var left = due - Time.GetUtcNow();
        if (left <= TimeSpan.FromSeconds(1))
        {
            return false;
        }

        if (await SettleAsync(received, null, Settlement.Release, Cap(left)).ConfigureAwait(false))
        {
            BusTelemetry.Released.Add(1, EndpointTag);
        }

        return true;
    }

    private async Task DeadLetterAsync(IReceivedMessage received, FailureDetails failure, LeaseRenewer? renewer)
    {
        Log.LogError("Dead-lettering message {MessageId} from {Queue}: {Reason}", received.Message.MessageId, received.Queue, failure.Reason);
        if (await SettleAsync(received, renewer, Settlement.DeadLetter, failure: failure).ConfigureAwait(false))
        {
            BusTelemetry.DeadLettered.Add(1, EndpointTag);
        }
    }

    private FailureDetails Failure(IReceivedMessage received, string reason, Exception? ex) =>
        FailureDetails.From(reason, ex, received.ReceiveCount, received.Queue, Time.GetUtcNow());

    private TimeSpan Cap(TimeSpan delay)
    {
        var max = Transport.Capabilities.MaxDelay;
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > max ? max : delay;
    }

    /// <summary>Settles once; a lost lease is logged and counted, never settled again. Returns whether it settled.
    /// The settlement is named, not passed as a lambda: a lambda capturing a delay would cost a closure per message.
    /// A settlement the transport completes at once (in memory) returns without entering an async method.</summary>
    private ValueTask<bool> SettleAsync(
        IReceivedMessage received, LeaseRenewer? renewer, Settlement settlement, TimeSpan delay = default, FailureDetails? failure = null)
    {
        if (renewer is not null && (!renewer.StopAsync().IsCompletedSuccessfully || renewer.IsLeaseLost))
        {
            return SettleSlowAsync(received, renewer, settlement, delay, failure);
        }

        Task settled;
        try
        {
            settled = Settle(received, settlement, delay, failure);
        }
        catch (Exception ex)
        {
            settled = Task.FromException(ex);
        }

        return settled.IsCompletedSuccessfully ? new ValueTask<bool>(true) : SettleSlowAsync(received, null, settlement, delay, failure, settled);
    }

    private static Task Settle(IReceivedMessage received, Settlement settlement, TimeSpan delay, FailureDetails? failure) => settlement switch
    {
        Settlement.Complete => received.CompleteAsync(CancellationToken.None),
        Settlement.Abandon => received.AbandonAsync(delay, CancellationToken.None),
        Settlement.Release => received.ReleaseAsync(delay, CancellationToken.None),
        _ => received.DeadLetterAsync(failure!, CancellationToken.None),
    };

    /// <summary>Settles, waiting for the renewer and the transport; <paramref name="started"/> is a settlement already
    /// under way.</summary>
    private async ValueTask<bool> SettleSlowAsync(
        IReceivedMessage received, LeaseRenewer? renewer, Settlement settlement, TimeSpan delay, FailureDetails? failure, Task? started = null)
    {
        var action = settlement switch
        {
            Settlement.Complete => "complete",
            Settlement.Abandon => "abandon",
            Settlement.Release => "release",
            _ => "dead-letter",
        };
        if (renewer is not null)
        {
            await renewer.StopAsync().ConfigureAwait(false);
            if (renewer.IsLeaseLost)
            {
                Log.LogWarning("Not settling message {MessageId} ({Action}): its lease was lost.", received.Message.MessageId, action);
                return false;
            }
        }

        try
        {
            await (started ?? Settle(received, settlement, delay, failure)).ConfigureAwait(false);
            return true;
        }
        catch (LeaseLostException ex)
        {
            BusTelemetry.LeasesLost.Add(1, EndpointTag);
            Log.LogWarning(ex, "Could not {Action} message {MessageId}: its lease was lost; it will be delivered again.", action, received.Message.MessageId);
            return false;
        }
        catch (Exception ex)
        {
            Log.LogError(ex, "Could not {Action} message {MessageId}; it stays in {Queue} and will be delivered again when its lease expires.",
                action, received.Message.MessageId, received.Queue);
            return false;
        }
    }

    private static Activity? StartActivity(IReceivedMessage received)
    {
        if (!BusTelemetry.Source.HasListeners())
        {
            return null;
        }

        var headers = received.Message.Headers;
        ActivityContext parent = default;
        if (headers.TryGetValue(MessageHeaders.TraceParent, out var traceParent))
        {
            headers.TryGetValue(MessageHeaders.TraceState, out var traceState);
            ActivityContext.TryParse(traceParent, traceState, out parent);
        }

        var name = headers.TryGetValue(MessageHeaders.MessageType, out var type) ? type : "system-message";
        var activity = BusTelemetry.Source.StartActivity($"process {name}", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.message.id", received.Message.MessageId);
        activity?.SetTag("messaging.destination.name", received.Queue);
        return activity;
    }
}

/// <summary>What the receive loop read of a message ahead of its handler (<see cref="MessagePipeline.Prepare"/>): its
/// type and body, or the error that stopped the body from being read. Default when it was left to the worker.</summary>
internal readonly record struct PreparedMessage(MessageType? Type, object? Message, Exception? Error);

/// <summary>How messages of one type are handled on an endpoint: its handlers (whether any needs a DI scope), options
/// and execution profile.</summary>
internal sealed class TypeHandling(MessageType type, IHandlerInvoker[] invokers, HandlerOptions? options, ExecutionProfile profile)
{
    public MessageType Type => type;

    public IHandlerInvoker[] Invokers => invokers;

    public HandlerOptions? Options => options;

    public ExecutionProfile Profile => profile;

    private bool? _needsScope;

    /// <summary>Whether any handler could take something from a per-message scope. Decided when first asked, by a
    /// worker about to handle a message of the type (the application's registrations are complete by then), never on
    /// the receive loop, which only reads the profile.</summary>
    public bool NeedsScope => _needsScope ??= invokers.Any(invoker => invoker.NeedsScope);
}

/// <summary>How a delivery is settled.</summary>
internal enum Settlement
{
    /// <summary>Handled: delete it.</summary>
    Complete,

    /// <summary>A failed attempt: visible again after a delay, counted.</summary>
    Abandon,

    /// <summary>Given back without counting an attempt (deferral, checkpoint, shutdown).</summary>
    Release,

    /// <summary>Moved to the dead-letter queue with the failure.</summary>
    DeadLetter,
}
