using System.Text.Json;
using Bus.Diagnostics;
using Bus.Hosting;
using Bus.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.Workflows;

/// <summary>
/// Runs one message type through a workflow, inside the pipeline's handler scope: finds or starts the instance,
/// skips messages already in its history, calls the handler with the workflow id sticky, and saves the state with
/// optimistic concurrency (a conflict fails the attempt, which the retry policy repeats on fresh state).
/// </summary>
internal sealed class WorkflowInvoker<TWorkflow, TState>(
    WorkflowDefinition<TWorkflow, TState> definition,
    WorkflowMessageBinding<TState> binding,
    BusConfiguration config) : IHandlerInvoker
    where TWorkflow : Workflow<TState>
    where TState : class, new()
{
    private JsonSerializerOptions? _json;

    public string Name { get; } = $"workflow:{definition.Name}";

    private JsonSerializerOptions Json => _json ??= new JsonSerializerOptions(config.Json);

    public async Task InvokeAsync(object message, MessageContext context, IServiceProvider services)
    {
        var store = services.GetRequiredService<IWorkflowStore>();
        var time = services.GetRequiredService<TimeProvider>();
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger("Bus.Workflows");
        var token = context.CancellationToken;

        string? correlation = null;
        string? workflowId = null;
        if (binding.Correlate is not null)
        {
            correlation = binding.Correlate(message);
            if (string.IsNullOrEmpty(correlation))
            {
                await UnmatchedAsync(message, context, time, log, "its correlation value is empty", canRetry: false).ConfigureAwait(false);
                return;
            }
        }
        else if (context.Headers.TryGetValue(MessageHeaders.WorkflowId, out var header) && header.Length > 0)
        {
            workflowId = header;
        }

        // One message at a time per instance in this process, from the read to the save: two copies of one event handled
        // at once would otherwise both read the same version, both pass the history check and both run their side
        // effects. (Across processes the save's version check and the launch's idempotency token keep them apart.)
        var instanceKey = await InstanceKeyAsync(store, correlation, workflowId, context, token).ConfigureAwait(false);
        var registry = services.GetRequiredService<WorkflowRegistry>();
        using var turn = await registry.InstanceGate.EnterAsync(definition.Name, instanceKey, token).ConfigureAwait(false);

        WorkflowInstance? instance;
        if (correlation is not null)
        {
            instance = await store.FindAsync(definition.Name, correlation, token).ConfigureAwait(false);
        }
        else
        {
            instance = workflowId is not null ? await store.GetAsync(definition.Name, workflowId, token).ConfigureAwait(false) : null;
            if (instance is null && binding.IsStart && context.Identity.Length > 0)
            {
                instance = await store.GetAsync(definition.Name, NewIdFor(context), token).ConfigureAwait(false);
            }
        }

        var handledKey = context.Identity;
        if (instance is null && !binding.IsStart)
        {
            await UnmatchedAsync(message, context, time, log, correlation is null ? "no instance has its workflow id" : $"no instance is correlated on '{correlation}'")
                .ConfigureAwait(false);
            return;
        }

        if (instance is not null && handledKey.Length > 0 && instance.History.Any(h => h.MessageId == handledKey))
        {
            log.LogInformation("Workflow {Workflow} instance {WorkflowId} already handled message {MessageId} ({MessageType}); skipped.",
                definition.Name, instance.Id, handledKey, context.MessageType);
            return;
        }

        if (instance is { Status: not WorkflowStatus.Running })
        {
            if (binding.IsStart)
            {
                log.LogInformation("Workflow {Workflow} instance {WorkflowId} for {MessageType} already exists ({Status}); not started again.",
                    definition.Name, instance.Id, context.MessageType, instance.Status);
                return;
            }

            // Retrying cannot help a finished instance: it never runs again.
            await UnmatchedAsync(message, context, time, log, $"instance {instance.Id} is {instance.Status.ToString().ToLowerInvariant()}", canRetry: false).ConfigureAwait(false);
            return;
        }

        var isNew = instance is null;
        var state = isNew ? new TState() : JsonSerializer.Deserialize<TState>(instance!.StateJson, Json) ?? new TState();
        if (isNew && correlation is not null)
        {
            definition.CorrelationProperty!.SetValue(state, correlation);
        }

        var id = instance?.Id ?? (correlation is null ? NewIdFor(context) : Guid.CreateVersion7(time.GetUtcNow()).ToString());
        var workflowContext = new WorkflowContext<TState>(id, isNew, state, context, config.EndpointName!) { Services = services };
        var workflow = services.GetRequiredService<TWorkflow>();
        var handler = WorkflowDefinition<TWorkflow, TState>.Configure(workflow).Bindings[binding.MessageType].Handler;

        var previousSticky = context.AddedSticky?.GetValueOrDefault(MessageHeaders.WorkflowId);
        context.AddSticky(MessageHeaders.WorkflowId, id);
        try
        {
            await handler(message, workflowContext).ConfigureAwait(false);
        }
        finally
        {
            if (previousSticky is null)
            {
                context.RemoveSticky(MessageHeaders.WorkflowId);
            }
            else
            {
                context.AddSticky(MessageHeaders.WorkflowId, previousSticky);
            }
        }

        if (workflowContext.IsDiscarded)
        {
            log.LogInformation("Workflow {Workflow} instance {WorkflowId} discarded message {MessageId} ({MessageType}).",
                definition.Name, id, context.MessageId, context.MessageType);
            return;
        }

        // Send what the handler sent before the message is recorded as handled. If sending fails, the message is retried
        // and nothing is lost; if the save then fails (a concurrent update), the retry may send again: at-least-once,
        // never lost.
        await context.FlushAsync().ConfigureAwait(false);

        var now = time.GetUtcNow();
        var entry = new WorkflowHistoryEntry(now, context.MessageType, handledKey, workflowContext.Note);
        var stateJson = JsonSerializer.Serialize(workflowContext.State, Json);
        if (isNew)
        {
            var created = new WorkflowInstance(definition.Name, id, correlation, 1, workflowContext.Status, stateJson, [entry], now, now,
                workflowContext.FailureReason);
            await store.InsertAsync(created, token).ConfigureAwait(false);
            log.LogInformation("Workflow {Workflow} instance {WorkflowId} started by {MessageType} ({Status}).",
                definition.Name, id, context.MessageType, workflowContext.Status);
            return;
        }

        var updated = instance! with
        {
            Status = workflowContext.Status,
            StateJson = stateJson,
            History = [.. instance.History, entry],
            UpdatedAt = now,
            FailureReason = workflowContext.FailureReason,
        };
        await store.UpdateAsync(updated, instance.Version, token).ConfigureAwait(false);
        log.LogDebug("Workflow {Workflow} instance {WorkflowId} handled {MessageType} ({Status}).", definition.Name, id, context.MessageType, workflowContext.Status);
    }

    /// <summary>
    /// The key that serialises the messages of one instance: the same for a message matched by its correlation value
    /// and for one carrying the instance's workflow id. An instance that has a correlation value is keyed by it (a
    /// message with only the id finds it in the stored instance: it is set at the start and never changes); one without
    /// is keyed by its id.
    /// </summary>
    private async ValueTask<string> InstanceKeyAsync(IWorkflowStore store, string? correlation, string? workflowId, MessageContext context, CancellationToken token)
    {
        if (correlation is null && workflowId is not null && definition.CorrelationProperty is not null
            && await store.GetAsync(definition.Name, workflowId, token).ConfigureAwait(false) is { CorrelationValue: { Length: > 0 } stored })
        {
            correlation = stored;
        }

        return correlation is not null
            ? WorkflowRegistry.CorrelatedInstanceKey(correlation)
            : WorkflowRegistry.InstanceKeyOf(workflowId ?? NewIdFor(context)); // a new instance started without a correlation value
    }

    /// <summary>Whether an unmatched message under <see cref="UnmatchedMessagePolicy.RetryThenComplete"/> is retried once
    /// more: it is younger than the window (from its event time or sent-at header) and the retry policy has attempts
    /// left, so it is never dead-lettered for being unmatched.</summary>
    private bool StillRetrying(object message, MessageContext context, TimeProvider time, out TimeSpan window)
    {
        window = binding.UnmatchedRetryFor ?? TimeSpan.FromMinutes(5);
        if (!config.Retry.HasAttemptsLeft(context.Attempt))
        {
            return false;
        }

        DateTimeOffset? since = message is SystemMessages.ISystemMessageIdentity { OccurredAt: { } occurred } ? occurred : null;
        if (since is null && context.Headers.TryGetValue(MessageHeaders.SentAt, out var sentAt)
            && DateTimeOffset.TryParse(sentAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var sent))
        {
            since = sent;
        }

        return since is null || time.GetUtcNow() - since.Value < window;
    }

    /// <summary>The id of an instance started by an uncorrelated message: derived from the message's identity, so a
    /// redelivery (or another copy of the same event) finds the instance it started.</summary>
    private static string NewIdFor(MessageContext context) => context.Identity.Length > 0 ? context.Identity : Guid.NewGuid().ToString();

    private async Task UnmatchedAsync(object message, MessageContext context, TimeProvider time, ILogger log, string why, bool canRetry = true)
    {
        BusTelemetry.WorkflowUnmatched.Add(1,
            new KeyValuePair<string, object?>("bus.endpoint", config.EndpointName),
            new KeyValuePair<string, object?>("bus.workflow", definition.Name));
        var reason = $"Message {context.MessageId} ({context.MessageType}) matches no running instance of workflow '{definition.Name}': {why}.";
        switch (binding.Unmatched ?? definition.Unmatched)
        {
            case UnmatchedMessagePolicy.DeadLetter:
                log.LogWarning("{Reason} Dead-lettering it, as the workflow asks.", reason);
                await context.FailAsync(reason).ConfigureAwait(false);
                break;
            case UnmatchedMessagePolicy.Retry when canRetry:
                throw new WorkflowInstanceNotFoundException(reason + " It is retried, as the workflow asks.");
            case UnmatchedMessagePolicy.RetryThenComplete when canRetry && StillRetrying(message, context, time, out var window):
                throw new WorkflowInstanceNotFoundException(reason + $" It is retried for up to {window}, as the workflow asks.");
            case UnmatchedMessagePolicy.RetryThenComplete:
                log.LogInformation("{Reason} Completed without effect: it was retried for as long as the workflow asks, so it belongs to no instance.", reason);
                break;
            default:
                log.LogWarning("{Reason} Completed without effect (choose another UnmatchedMessagePolicy to dead-letter or retry such messages).", reason);
                break;
        }
    }
}

/// <summary>A message matched no running instance and its workflow asked for a retry.</summary>
internal sealed class WorkflowInstanceNotFoundException(string message) : Exception(message);
