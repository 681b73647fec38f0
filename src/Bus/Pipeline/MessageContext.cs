using System.Globalization;
using Bus.Diagnostics;
using Bus.Jobs;
using Bus.Leases;
using Bus.Steps;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>The one object of a delivery: the <see cref="IncomingContext"/> the steps see and, once the handling attempt
/// starts, the handlers' <see cref="IMessageContext"/>, with the messages the handler sends (held until it succeeds) and
/// the signals that end it early.</summary>
internal sealed class MessageContext : IncomingContext, IMessageContext
{
    private static readonly AsyncLocal<MessageContext?> Ambient = new();
    private readonly HandlerServices _services;
    private HandlerEffects? _effects; // made by the first send, sticky header, decision or job status

    /// <summary>Creates the context of a delivery of <paramref name="received"/>, whose lease <paramref name="renewer"/>
    /// keeps as its delivery number <paramref name="delivery"/>.</summary>
    public MessageContext(
        IReceivedMessage received, LeaseRenewer renewer, int delivery, ShutdownSignals shutdown, HandlerServices services)
        : base(received, renewer, delivery, shutdown)
    {
        _services = services;
    }

    /// <summary>The context of the message being handled on this async flow, if any.</summary>
    public static MessageContext? Current
    {
        get => Ambient.Value;
        set => Ambient.Value = value;
    }

    /// <summary>The resolved type's wire name: never null here, as the attempt starts after the type is resolved.</summary>
    public new string MessageType => Type!.WireName;

    /// <summary>What identifies the message across copies: for a system message that names itself
    /// (<see cref="SystemMessages.ISystemMessageIdentity"/>, e.g. an EventBridge event id) <c>event:{id}</c>, which two
    /// copies of one event share whatever their queue message ids; else the message id. Steps and workflow history are
    /// keyed by it.</summary>
    public string Identity =>
        HasMessage && Message is SystemMessages.ISystemMessageIdentity { SystemMessageId: { Length: > 0 } eventId } ? $"event:{eventId}" : MessageId;

    /// <summary>Read from the headers when asked: most handlers never ask.</summary>
    public string CorrelationId => Headers.TryGetValue(MessageHeaders.CorrelationId, out var correlation) ? correlation : MessageId;

    public string? CausationId => Headers.TryGetValue(MessageHeaders.CausationId, out var causation) ? causation : null;

    public IBus Bus => _services.Bus;

    /// <summary>A small runner made when asked (most handlers run no steps; one that does keeps no state of its own).</summary>
    public IStepRunner Steps => new StepRunner(this, _services.StepStore, _services.StepGate, _services.Json);

    /// <summary>Sticky headers added while handling (e.g. the workflow id), carried by everything sent.</summary>
    public Dictionary<string, string>? AddedSticky => _effects?.AddedSticky;

    /// <summary>Whether sends are held in this context (true while the handler runs).</summary>
    public bool IsOpenForSends { get; set; } = true;

    /// <summary>How the handler decided the attempt ends (<see cref="FailAsync"/>, a checkpoint release), recorded
    /// before the exception that unwinds the handler, so that a handler swallowing that exception cannot turn the
    /// decision into a success. Null when the handler decided nothing.</summary>
    public Exception? Decision => _effects?.Decision;

    private HandlerEffects Effects => _effects ??= new HandlerEffects();

    public void AddSticky(string name, string value) => (Effects.AddedSticky ??= new(StringComparer.Ordinal))[name] = value;

    /// <summary>Stops adding a sticky header that <see cref="AddSticky"/> added (e.g. the workflow id once a workflow's
    /// handler returns, so other handlers of the same message do not carry it).</summary>
    public void RemoveSticky(string name) => AddedSticky?.Remove(name);

    public void Enlist(OutgoingMessage message) => (Effects.Pending ??= []).Add(message);

    /// <summary>Holds a message sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/>: it goes out when the attempt
    /// ends, whatever its outcome.</summary>
    public void EnlistRegardless(OutgoingMessage message) => (Effects.Regardless ??= []).Add(message);

    /// <summary>Drops what a failed attempt sent (but not what it sent regardless of the outcome).</summary>
    public void DiscardPending()
    {
        if (_effects is not null)
        {
            _effects.Pending = null;
        }
    }

    /// <summary>Sends what the handler sent regardless of the outcome (after a failed attempt).</summary>
    public Task FlushRegardlessAsync()
    {
        if (_effects?.Regardless is not { Count: > 0 } regardless)
        {
            return Task.CompletedTask;
        }

        _effects.Regardless = null;
        return _services.Sender.SendAsync(regardless, CancellationToken.None);
    }

    /// <summary>Sends what the handler sent so far (also what it sent regardless of the outcome), under the handler's
    /// token.</summary>
    public Task FlushAsync()
    {
        if (_effects is not { } effects)
        {
            return Task.CompletedTask;
        }

        var all = effects.Pending;
        if (effects.Regardless is { Count: > 0 } regardless)
        {
            all = all is null ? regardless : [.. all, .. regardless];
        }

        if (all is not { Count: > 0 })
        {
            return Task.CompletedTask;
        }

        effects.Pending = null;
        effects.Regardless = null;
        return _services.Sender.SendAsync(all, CancellationToken);
    }

    public Task FailAsync(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var decision = new FailNowException(reason);
        Effects.Decision ??= decision;
        throw decision;
    }

    public async Task ExtendLeaseAsync(TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        await Renewer.ExtendAsync(Delivery, duration, CancellationToken).ConfigureAwait(false);
    }

    public Task CheckpointAsync()
    {
        if (ShouldPause(out var resumeAfter, out var why))
        {
            var decision = new CheckpointReleaseException(resumeAfter, why);
            Effects.Decision ??= decision;
            throw decision;
        }

        return Task.CompletedTask;
    }

    /// <summary>The job's status as this attempt last saved it; null when it reported nothing.</summary>
    public JobStatus? Status => _effects?.Status;

    public async Task ReportProgressAsync(long done, long total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(done);
        ArgumentOutOfRangeException.ThrowIfLessThan(total, done);
        var status = new JobStatus(MessageId, MessageType, JobState.Running, done, total, Attempt, _services.Time.GetUtcNow(), Status?.ResultJson);
        await SaveStatusAsync(status).ConfigureAwait(false);
        BusTelemetry.Progress.Record(status.Fraction, _services.EndpointTag, new KeyValuePair<string, object?>("bus.message_type", MessageType));
        _services.Log.LogInformation("Job {MessageId} ({MessageType}) progress {Done}/{Total} ({Percent}%)",
            MessageId, MessageType, done, total, (status.Fraction * 100).ToString("0.#", CultureInfo.InvariantCulture));
    }

    public Task RecordResultAsync<T>(T result)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(result, _services.Json);
        var now = _services.Time.GetUtcNow();
        var status = Status is { } current
            ? current with { ResultJson = json, UpdatedAt = now }
            : new JobStatus(MessageId, MessageType, JobState.Running, 0, 0, Attempt, now, json);
        return SaveStatusAsync(status);
    }

    private Task SaveStatusAsync(JobStatus status)
    {
        Effects.Status = status;
        return _services.Jobs.SaveAsync(status, CancellationToken);
    }

    private bool ShouldPause(out TimeSpan resumeAfter, out string why)
    {
        if (Stopping.IsCancellationRequested)
        {
            resumeAfter = TimeSpan.Zero;
            why = "the host is stopping";
            return true;
        }

        var now = _services.Time.GetUtcNow();
        if (Handling!.Window is { } window && !window.IsOpen(now))
        {
            resumeAfter = window.NextOpening(now) - now;
            why = $"its time window {window} has closed";
            return true;
        }

        resumeAfter = default;
        why = string.Empty;
        return false;
    }
}

/// <summary>Runs memoised steps for one job (keyed by its identity: the message id, or a system message's own id).</summary>
internal sealed class StepRunner(MessageContext context, IStepStore store, StepGate gate, System.Text.Json.JsonSerializerOptions json) : IStepRunner
{
    public async Task<T> RunAsync<T>(string name, Func<CancellationToken, Task<T>> step)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(step);
        var token = context.CancellationToken;

        // Another copy of this message running the same step here finishes it first; this copy then finds its result.
        using var pass = await gate.EnterAsync(context.Identity, name, token).ConfigureAwait(false);
        var stored = await store.GetAsync(context.Identity, name, token).ConfigureAwait(false);
        if (stored is not null)
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(stored, json)!;
        }

        await context.CheckpointAsync().ConfigureAwait(false);
        var result = await step(token).ConfigureAwait(false);
        await context.FlushAsync().ConfigureAwait(false);
        await store.SaveAsync(context.Identity, name, System.Text.Json.JsonSerializer.Serialize(result, json), token).ConfigureAwait(false);
        return result;
    }

    public Task RunAsync(string name, Func<CancellationToken, Task> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return RunAsync(name, async ct =>
        {
            await step(ct).ConfigureAwait(false);
            return true;
        });
    }
}
