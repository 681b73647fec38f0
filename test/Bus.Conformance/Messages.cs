using Bus.Recoverability;

namespace Bus.Conformance;

/// <summary>A command whose <see cref="Mode"/> tells the handler what to do.</summary>
[MessageName("conformance.do-work")]
public sealed record DoWork(string Test, string Id, string Mode = "ok", int FailUntilAttempt = 0) : ICommand;

/// <summary>A command at version 2 of its wire name, for the version rules: an older version is read into it, a newer
/// one is kept for an endpoint that knows it.</summary>
[MessageName("conformance.versioned-work", Version = 2)]
public sealed record VersionedWork(string Test, string Id, string? Note = null) : ICommand;

/// <summary>Records every <see cref="VersionedWork"/> it handles.</summary>
public sealed class VersionedWorkHandler(Recorder recorder, TimeProvider time) : IHandleMessages<VersionedWork>
{
    /// <inheritdoc />
    public Task HandleAsync(VersionedWork message, IMessageContext context)
    {
        recorder.Record(new Handled(nameof(VersionedWorkHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
        return Task.CompletedTask;
    }
}

/// <summary>An event published by <see cref="DoWorkHandler"/> in mode "publish".</summary>
[MessageName("conformance.work-done")]
public sealed record WorkDone(string Test, string Id) : IEvent;

/// <summary>Handles <see cref="DoWork"/>: records, then acts on its mode.</summary>
public sealed class DoWorkHandler(Recorder recorder, TimeProvider time) : IHandleMessages<DoWork>
{
    /// <inheritdoc />
    public async Task HandleAsync(DoWork message, IMessageContext context)
    {
        using var running = recorder.Enter();
        recorder.Record(new Handled(nameof(DoWorkHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue,
            time.GetUtcNow()));
        if (context.Attempt <= message.FailUntilAttempt)
        {
            throw new InvalidOperationException($"failing attempt {context.Attempt} of {message.Id}");
        }

        switch (message.Mode)
        {
            case "ok":
                return;
            case "throw":
                throw new InvalidOperationException($"boom {message.Id}");
            case "non-retryable":
                throw new NonRetryableException($"invalid {message.Id}");
            case "fail":
                await context.FailAsync($"rejected {message.Id}");
                return;
            case "block":
                await recorder.Gate(message.Id).WaitAsync(context.CancellationToken);
                return;
            case "publish":
                await context.Bus.PublishAsync(new WorkDone(message.Test, message.Id));
                return;
            case "send-next":
                await context.Bus.SendAsync(new DoWork(message.Test, message.Id + ".next"));
                return;
            case "fail-swallowed":
                try
                {
                    await context.FailAsync($"rejected {message.Id}");
                }
                catch (Exception)
                {
                    // a handler that catches everything: the decision to dead-letter stands
                }

                await context.Bus.SendAsync(new DoWork(message.Test, message.Id + ".ghost"));
                return;
            case "compensate-then-fail":
                await context.Bus.PublishAsync(new WorkDone(message.Test, message.Id + ".compensated"), new DeliveryOptions { EvenIfHandlerFails = true });
                await context.Bus.SendAsync(new DoWork(message.Test, message.Id + ".ghost"));
                await context.FailAsync($"payment failed {message.Id}");
                return;
            case "send-then-throw":
                await context.Bus.SendAsync(new DoWork(message.Test, message.Id + ".ghost"));
                throw new InvalidOperationException("fails after sending");
            default:
                throw new ArgumentException($"unknown mode {message.Mode}");
        }
    }
}

/// <summary>Handles <see cref="WorkDone"/> by recording it.</summary>
public sealed class WorkDoneHandler(Recorder recorder, TimeProvider time) : IHandleMessages<WorkDone>
{
    /// <inheritdoc />
    public Task HandleAsync(WorkDone message, IMessageContext context)
    {
        recorder.Record(new Handled(nameof(WorkDoneHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
        return Task.CompletedTask;
    }
}

/// <summary>A long job of <see cref="Steps"/> memoised steps with a checkpoint after each.</summary>
/// <param name="Test">The test id.</param>
/// <param name="Id">The job id.</param>
/// <param name="Steps">How many steps.</param>
/// <param name="BlockAtStep">A step that waits for the gate "{Id}/step-{n}" before finishing (-1: none).</param>
/// <param name="FailAtStepOnFirstAttempt">A step that throws on attempt 1 (-1: none).</param>
[MessageName("conformance.long-job")]
/// <param name="OpenGateWhenCancelled">When the handler is cancelled, it opens the gate it blocked on, so the next attempt
/// runs through without waiting for the test to open it (on a moving virtual clock it could otherwise pass its own max
/// runtime first).</param>
public sealed record LongJob(
    string Test, string Id, int Steps, int BlockAtStep = -1, int FailAtStepOnFirstAttempt = -1, bool OpenGateWhenCancelled = false) : ICommand;

/// <summary>Runs <see cref="LongJob"/> as steps, recording each step that finishes and each start.</summary>
public sealed class LongJobHandler(Recorder recorder, TimeProvider time) : IHandleMessages<LongJob>
{
    /// <inheritdoc />
    public async Task HandleAsync(LongJob message, IMessageContext context)
    {
        using var running = recorder.Enter();
        recorder.Record(new Handled(nameof(LongJobHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
        try
        {
            for (var i = 0; i < message.Steps; i++)
            {
                var step = i;
                await context.Steps.RunAsync($"step-{step}", async ct =>
                {
                    if (step == message.FailAtStepOnFirstAttempt && context.Attempt == 1)
                    {
                        throw new InvalidOperationException($"step {step} fails on attempt 1");
                    }

                    if (step == message.BlockAtStep)
                    {
                        await recorder.Gate($"{message.Id}/step-{step}").WaitAsync(ct);
                    }

                    recorder.StepFinished(message.Id, step);
                    return step;
                });
                await context.CheckpointAsync();
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            if (message.OpenGateWhenCancelled)
            {
                recorder.Open($"{message.Id}/step-{message.BlockAtStep}");
            }

            recorder.Record(new Handled("cancelled", message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            throw;
        }
    }
}

/// <summary>A heavy job: waits at its gate (named by its id) until the test opens it.</summary>
public sealed record HeavyWork(string Test, string Id) : ICommand;

/// <summary>Handles <see cref="HeavyWork"/>: records its start, then waits at its gate.</summary>
public sealed class HeavyWorkHandler(Recorder recorder, TimeProvider time) : IHandleMessages<HeavyWork>
{
    /// <inheritdoc />
    public async Task HandleAsync(HeavyWork message, IMessageContext context)
    {
        recorder.Record(new Handled(nameof(HeavyWorkHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
        await recorder.Gate(message.Id).WaitAsync(context.CancellationToken);
        recorder.Record(new Handled("heavy-done", message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
    }
}

/// <summary>Work handled in batches; <see cref="Mode"/> "fail" fails it on its first attempt, "dead" dead-letters it.</summary>
public sealed record BatchWork(string Test, string Id, string Mode = "ok") : ICommand;

/// <summary>What one batch held: the ids and attempts of its messages, in order.</summary>
public sealed record BatchSeen(string Test, IReadOnlyList<string> Ids, IReadOnlyList<int> Attempts);

/// <summary>Handles <see cref="BatchWork"/> in batches: records each batch, fails or dead-letters the items asked to.</summary>
public sealed class BatchWorkHandler(Recorder recorder, TimeProvider time) : IHandleBatches<BatchWork>
{
    /// <inheritdoc />
    public Task HandleAsync(IReadOnlyList<BatchItem<BatchWork>> batch, CancellationToken cancellationToken)
    {
        var seen = new BatchSeen(batch[0].Message.Test, batch.Select(i => i.Message.Id).ToList(), batch.Select(i => i.Attempt).ToList());
        recorder.Record(new Handled(nameof(BatchWorkHandler), seen, batch[0].MessageId, batch[0].Headers, batch[0].Attempt, string.Empty, time.GetUtcNow()));
        foreach (var item in batch)
        {
            if (item.Message.Mode == "fail" && item.Attempt == 1)
            {
                item.Fail(new InvalidOperationException($"failing {item.Message.Id} once"));
            }
            else if (item.Message.Mode == "dead")
            {
                item.DeadLetter($"rejected {item.Message.Id}");
            }
        }

        return Task.CompletedTask;
    }
}
