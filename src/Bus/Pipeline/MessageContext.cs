using System.Globalization;
using Bus.Diagnostics;
using Bus.Jobs;
using Bus.Leases;
using Bus.Steps;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>The context of one message being handled: what <see cref="IMessageContext"/> exposes, plus the
/// messages the handler sends (held until it succeeds) and the signals that end it early.</summary>
internal sealed class MessageContext : IMessageContext
{
    private static readonly AsyncLocal<MessageContext?> Ambient = new();
    private readonly HandlerServices _services;
    private readonly IncomingContext _delivery;
    private List<OutgoingMessage>? _pending;
    private List<OutgoingMessage>? _regardless;
    private string? _identity;

    /// <summary>Creates the handlers' context of <paramref name="delivery"/>, whose type is resolved: it reads the
    /// message, its lease renewer, its type's time window and the host's stopping signal from there.</summary>
    public MessageContext(IncomingContext delivery, HandlerServices services)
    {
        _services = services;
        _delivery = delivery;
    }

    /// <summary>The context of the message being handled on this async flow, if any.</summary>
    public static MessageContext? Current
    {
        get => Ambient.Value;
        set => Ambient.Value = value;
    }

    public IReceivedMessage Received => _delivery.Received;

    public MessageType Type => _delivery.Type!;

    /// <summary>Read from the headers when asked: a message the bus made in this process formats its id then.</summary>
    public string MessageId => Received.Message.MessageId ?? string.Empty;

    public string MessageType => Type.WireName;

    /// <summary>What identifies the message across copies: for a system message that names itself
    /// (<see cref="SystemMessages.ISystemMessageIdentity"/>, e.g. an EventBridge event id) <c>event:{id}</c>, which two
    /// copies of one event share whatever their queue message ids; else the message id. Steps and workflow history are
    /// keyed by it.</summary>
    public string Identity
    {
        get => _identity ?? MessageId;
        set => _identity = value;
    }

    public IReadOnlyDictionary<string, string> Headers => Received.Message.Headers;

    /// <summary>Read from the headers when asked: most handlers never ask.</summary>
    public string CorrelationId => Headers.TryGetValue(MessageHeaders.CorrelationId, out var correlation) ? correlation : MessageId;

    public string? CausationId => Headers.TryGetValue(MessageHeaders.CausationId, out var causation) ? causation : null;

    public int Attempt => Received.ReceiveCount;

    public string Queue => Received.Queue;

    public IBus Bus => _services.Bus;

    /// <summary>The handler's token; its source is made when first read.</summary>
    public CancellationToken CancellationToken => _delivery.Renewer.HandlerToken;

    /// <summary>A small runner made when asked (most handlers run no steps; one that does keeps no state of its own).</summary>
    public IStepRunner Steps => new StepRunner(this, _services.StepStore, _services.StepGate, _services.Json);

    /// <summary>Sticky headers added while handling (e.g. the workflow id), carried by everything sent.</summary>
    public Dictionary<string, string>? AddedSticky { get; private set; }

    /// <summary>Whether sends are held in this context (true while the handler runs).</summary>
    public bool IsOpenForSends { get; set; } = true;

    /// <summary>How the handler decided the attempt ends (<see cref="FailAsync"/>, a checkpoint release), recorded
    /// before the exception that unwinds the handler, so that a handler swallowing that exception cannot turn the
    /// decision into a success. Null when the handler decided nothing.</summary>
    public Exception? Decision { get; private set; }

    public void AddSticky(string name, string value) => (AddedSticky ??= new(StringComparer.Ordinal))[name] = value;

    /// <summary>Stops adding a sticky header that <see cref="AddSticky"/> added (e.g. the workflow id once a workflow's
    /// handler returns, so other handlers of the same message do not carry it).</summary>
    public void RemoveSticky(string name) => AddedSticky?.Remove(name);

    public void Enlist(OutgoingMessage message) => (_pending ??= []).Add(message);

    /// <summary>Holds a message sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/>: it goes out when the attempt
    /// ends, whatever its outcome.</summary>
    public void EnlistRegardless(OutgoingMessage message) => (_regardless ??= []).Add(message);

    /// <summary>Drops what a failed attempt sent (but not what it sent regardless of the outcome).</summary>
    public void DiscardPending() => _pending = null;

    /// <summary>Sends what the handler sent regardless of the outcome (after a failed attempt).</summary>
    public Task FlushRegardlessAsync()
    {
        if (_regardless is not { Count: > 0 } regardless)
        {
            return Task.CompletedTask;
        }

        _regardless = null;
        return _services.Sender.SendAsync(regardless, CancellationToken.None);
    }

    /// <summary>Sends what the handler sent so far (also what it sent regardless of the outcome), under the handler's
    /// token.</summary>
    public Task FlushAsync()
    {
        List<OutgoingMessage>? all = _pending;
        if (_regardless is { Count: > 0 } regardless)
        {
            all = all is null ? regardless : [.. all, .. regardless];
        }

        if (all is not { Count: > 0 })
        {
            return Task.CompletedTask;
        }

        _pending = null;
        _regardless = null;
        return _services.Sender.SendAsync(all, CancellationToken);
    }

    public Task FailAsync(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var decision = new FailNowException(reason);
        Decision ??= decision;
        throw decision;
    }

    public async Task ExtendLeaseAsync(TimeSpan duration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        await _delivery.Renewer.ExtendAsync(duration, CancellationToken).ConfigureAwait(false);
    }

    public Task CheckpointAsync()
    {
        if (ShouldPause(out var resumeAfter, out var why))
        {
            var decision = new CheckpointReleaseException(resumeAfter, why);
            Decision ??= decision;
            throw decision;
        }

        return Task.CompletedTask;
    }

    /// <summary>The job's status as this attempt last saved it; null when it reported nothing.</summary>
    public JobStatus? Status { get; private set; }

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
        Status = status;
        return _services.Jobs.SaveAsync(status, CancellationToken);
    }

    private bool ShouldPause(out TimeSpan resumeAfter, out string why)
    {
        if (_delivery.Stopping.IsCancellationRequested)
        {
            resumeAfter = TimeSpan.Zero;
            why = "the host is stopping";
            return true;
        }

        var now = _services.Time.GetUtcNow();
        if (_delivery.Handling!.Window is { } window && !window.IsOpen(now))
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
