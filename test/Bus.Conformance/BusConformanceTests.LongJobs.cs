using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>Memoised steps and checkpoints of long jobs.</summary>
public abstract partial class BusConformanceTests
{
    [Fact]
    public async Task Two_copies_of_a_job_handled_at_once_run_each_step_once()
    {
        // Two copies with one message id (at-least-once delivery, or a deterministic id published twice): the second
        // waits for the step the first is running, then finds its result.
        var endpoint = await StartEndpointAsync("dup-steps", b =>
        {
            b.MaxConcurrency = 2;
            b.AddHandler<LongJobHandler>();
        });
        var options = new DeliveryOptions { MessageId = $"dup-{TestId}" };

        await endpoint.Bus.SendAsync(new LongJob(TestId, "dup", Steps: 2, BlockAtStep: 0), options);
        await endpoint.Bus.SendAsync(new LongJob(TestId, "dup", Steps: 2, BlockAtStep: 0), options);
        await WaitForAsync(all => all.Count(h => h.Message is LongJob { Id: "dup" } && h.Handler == nameof(LongJobHandler)) == 2);
        Recorder.Open("dup/step-0");
        await WaitForCountAsync(endpoint, "bus.messages.completed", 2);

        Assert.Equal([("dup", 0), ("dup", 1)], Recorder.Steps.Where(s => s.Job == "dup"));
    }

    [Fact]
    public async Task Finished_steps_do_not_run_again_when_the_job_is_retried()
    {
        var endpoint = await StartEndpointAsync("steps", b => b.AddHandler<LongJobHandler>());

        await endpoint.Bus.SendAsync(new LongJob(TestId, "st", Steps: 5, FailAtStepOnFirstAttempt: 2));
        await WaitForCountAsync(endpoint, "bus.messages.completed", 1);

        Assert.Equal([0, 1, 2, 3, 4], Recorder.Steps.Where(s => s.Job == "st").Select(s => s.Step));
        Assert.Equal([1, 2], Recorder.All.Where(h => h.Message is LongJob { Id: "st" } && h.Handler == nameof(LongJobHandler)).Select(h => h.Attempt));
    }

    [Fact]
    public async Task Checkpoint_during_shutdown_releases_the_job_and_another_worker_finishes_it()
    {
        var first = await StartEndpointAsync("checkpoint", b => b.AddHandler<LongJobHandler>());
        await first.Bus.SendAsync(new LongJob(TestId, "cp", Steps: 6, BlockAtStep: 2));
        await Driver.AwaitAsync(Recorder.EnteredAsync("cp/step-2")); // steps 0 and 1 are saved; step 2 is running

        var stopping = first.StopAsync();
        Recorder.Open("cp/step-2");
        await Driver.AwaitAsync(stopping);
        Assert.Equal([0, 1, 2], Recorder.Steps.Where(s => s.Job == "cp").Select(s => s.Step));
        Assert.Equal(1, Probe.Count(first.Name, "bus.messages.released"));

        var second = await StartEndpointAsync("checkpoint-second", b =>
        {
            b.EndpointName = first.Name;
            b.AddHandler<LongJobHandler>();
        });
        await WaitForCountAsync(second, "bus.messages.completed", 1);

        Assert.Equal([0, 1, 2, 3, 4, 5], Recorder.Steps.Where(s => s.Job == "cp").Select(s => s.Step));
        var starts = Recorder.All.Where(h => h.Message is LongJob { Id: "cp" } && h.Handler == nameof(LongJobHandler)).ToList();
        Assert.Equal([1, 1], starts.Select(h => h.Attempt));
        Assert.Equal(0, Probe.Count(first.Name, "bus.messages.retried"));
    }
}
