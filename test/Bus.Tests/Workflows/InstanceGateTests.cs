using System.Text;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Workflows;

public sealed record BeginJob(string JobId) : ICommand;

/// <summary>Matched by its correlation value.</summary>
public sealed record JobNoteByValue(string JobId) : ICommand;

/// <summary>Matched by the workflow-id header only (as a reply to a message the instance sent).</summary>
[MessageName("tests.job-note-by-id")]
public sealed record JobNoteById(string Note) : ICommand;

public sealed class NoteState
{
    public string? JobId { get; set; }

    public List<string> Notes { get; init; } = [];
}

/// <summary>Lets the test hold a handler inside an instance, and counts how many run in it at once.</summary>
public sealed class InstanceTurnstile
{
    private readonly object _gate = new();
    private int _inside;

    public TaskCompletionSource ValueNoteEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource IdNoteEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource ReleaseValueNote { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int MostInside { get; private set; }

    public IDisposable Enter()
    {
        lock (_gate)
        {
            MostInside = Math.Max(MostInside, ++_inside);
        }

        return new Exit(this);
    }

    private sealed class Exit(InstanceTurnstile turnstile) : IDisposable
    {
        public void Dispose()
        {
            lock (turnstile._gate)
            {
                turnstile._inside--;
            }
        }
    }
}

public sealed class NotesWorkflow(InstanceTurnstile turnstile) : Workflow<NoteState>
{
    protected override void Configure(WorkflowConfigurator<NoteState> workflow) => workflow
        .CorrelateBy(s => s.JobId)
        .StartedBy<BeginJob>(m => m.JobId, (_, _) => Task.CompletedTask)
        .Handles<JobNoteByValue>(m => m.JobId, async (_, context) =>
        {
            using var inside = turnstile.Enter();
            turnstile.ValueNoteEntered.TrySetResult();
            await turnstile.ReleaseValueNote.Task;
            context.State.Notes.Add("by value");
        })
        .Handles<JobNoteById>((m, context) =>
        {
            using var inside = turnstile.Enter();
            turnstile.IdNoteEntered.TrySetResult();
            context.State.Notes.Add(m.Note);
            return Task.CompletedTask;
        });
}

/// <summary>The per-instance gate keeps a message matched by correlation value and one carrying the workflow id of
/// the same instance from running at once.</summary>
public sealed class InstanceGateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_message_with_the_workflow_id_waits_for_a_correlated_message_of_the_same_instance()
    {
        var turnstile = new InstanceTurnstile();
        await using var harness = await BusTestHarness.StartAsync(
            bus => bus.AddWorkflow<NotesWorkflow>(),
            services => services.AddSingleton(turnstile));
        await harness.SendAsync(new BeginJob("job-7"));
        var instanceId = (await harness.FindWorkflowAsync<NotesWorkflow>("job-7"))!.Id;

        try
        {
            await harness.Bus.SendAsync(new JobNoteByValue("job-7"));
            await turnstile.ValueNoteEntered.Task.WaitAsync(Patience);
            // As a reply to a message the instance sent would arrive: with the instance's id in the workflow-id header.
            var reply = new TransportMessage(
                new Dictionary<string, string>
                {
                    [MessageHeaders.MessageId] = "reply-1",
                    [MessageHeaders.MessageType] = "tests.job-note-by-id",
                    [MessageHeaders.WorkflowId] = instanceId,
                },
                Encoding.UTF8.GetBytes("""{"note":"by id"}"""));
            await harness.Services.GetRequiredService<ITransport>().SendAsync(
                [new OutgoingMessage(Destination.Queue(harness.EndpointName), reply)], CancellationToken.None);

            // The second message either queues at the instance's gate (same key) or, keyed apart, runs at once.
            var registry = harness.Services.GetRequiredService<WorkflowRegistry>();
            var waiting = registry.InstanceGate.WhenUsersAsync(
                registry.NameOf(typeof(NotesWorkflow)), WorkflowRegistry.CorrelatedInstanceKey("job-7"), users: 2);
            await Task.WhenAny(waiting, turnstile.IdNoteEntered.Task).WaitAsync(Patience);
            Assert.False(turnstile.IdNoteEntered.Task.IsCompleted, "the message with the workflow id ran while a correlated one was inside the instance");
        }
        finally
        {
            turnstile.ReleaseValueNote.TrySetResult(); // also when the test fails, so that the endpoint can stop
        }

        await harness.WaitForIdleAsync();

        Assert.Equal(1, turnstile.MostInside);
        var state = (await harness.GetWorkflowAsync<NotesWorkflow>(instanceId))!.GetState<NoteState>();
        Assert.Equal(["by value", "by id"], state.Notes);
        Assert.Empty(await harness.DeadLettersAsync());
    }
}
