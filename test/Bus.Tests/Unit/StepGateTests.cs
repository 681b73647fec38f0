using Bus.Steps;

namespace Bus.Tests.Unit;

public sealed class StepGateTests
{
    [Fact]
    public async Task A_second_copy_of_a_step_waits_for_the_first_and_other_steps_and_jobs_do_not()
    {
        var gate = new StepGate();
        var first = await gate.EnterAsync("job-1", "email", default);

        var second = gate.EnterAsync("job-1", "email", default).AsTask();
        using (await gate.EnterAsync("job-1", "invoice", default))
        using (await gate.EnterAsync("job-2", "email", default))
        {
            Assert.False(second.IsCompleted); // other steps and other jobs went in meanwhile
        }

        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        using var again = await gate.EnterAsync("job-1", "email", default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_leaves_the_step_to_the_others()
    {
        var gate = new StepGate();
        var held = await gate.EnterAsync("job", "step", default);
        using var cancel = new CancellationTokenSource();
        var waiting = gate.EnterAsync("job", "step", cancel.Token).AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        var next = gate.EnterAsync("job", "step", default).AsTask();
        Assert.False(next.IsCompleted);
        held.Dispose();
        (await next.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
    }
}
