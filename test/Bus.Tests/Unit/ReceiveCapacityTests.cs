using Bus.Pipeline;

namespace Bus.Tests.Unit;

public sealed class ReceiveCapacityTests
{
    private bool _workerIdle;

    [Fact]
    public async Task While_every_worker_is_busy_the_loop_waits_for_a_batch_of_free_places()
    {
        using var stopping = new CancellationTokenSource();
        using var capacity = new ReceiveCapacity(6, 3, () => _workerIdle, stopping.Token);

        await capacity.TakeAsync(); // 1 taken, 5 free
        Assert.Equal(5, capacity.TakeUpTo(9));
        Assert.Equal(0, capacity.TakeUpTo(9));

        for (var round = 0; round < 3; round++)
        {
            var waiting = capacity.TakeAsync().AsTask(); // the same signal, reused each round
            capacity.Release();
            capacity.Release();
            Assert.False(waiting.IsCompleted); // 2 free: not yet a batch
            capacity.Release();
            await waiting.WaitAsync(TimeSpan.FromSeconds(10)); // 3 free: one to the loop
            Assert.Equal(2, capacity.TakeUpTo(9));
        }

        capacity.Release(0);
        Assert.Equal(0, capacity.TakeUpTo(9));
        Assert.Throws<ArgumentOutOfRangeException>(() => capacity.Release(-1));
    }

    [Fact]
    public async Task An_idle_worker_makes_one_free_place_worth_a_receive()
    {
        using var stopping = new CancellationTokenSource();
        using var capacity = new ReceiveCapacity(6, 3, () => _workerIdle, stopping.Token);
        await capacity.TakeAsync();
        capacity.TakeUpTo(9);

        var waiting = capacity.TakeAsync().AsTask();
        capacity.Release();
        Assert.False(waiting.IsCompleted);
        _workerIdle = true;
        capacity.OnWorkerIdle();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        capacity.Release(); // a worker idle already: the next wait ends at once
        await capacity.TakeAsync();
        Assert.Equal(0, capacity.TakeUpTo(9));
        _workerIdle = false;
        var idleButFull = capacity.TakeAsync().AsTask();
        _workerIdle = true;
        capacity.OnWorkerIdle();
        Assert.False(idleButFull.IsCompleted); // nothing free: an idle worker cannot make room
        capacity.Release();
        await idleButFull.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Stopping_ends_a_wait_and_refuses_new_ones()
    {
        using var stopping = new CancellationTokenSource();
        using var capacity = new ReceiveCapacity(1, 1, () => false, stopping.Token);
        await capacity.TakeAsync();
        var waiting = capacity.TakeAsync().AsTask();

        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => capacity.TakeAsync().AsTask());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiveCapacity(0, 1, () => false, CancellationToken.None));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiveCapacity(2, 3, () => false, CancellationToken.None));
    }
}
