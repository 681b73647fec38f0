using Bus.Conformance;
using Bus.Hosting;
using Bus.Jobs;
using Bus.Leases;
using Bus.Steps;
using Bus.Testing;
using Bus.Tests.Support;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.LongRunning;

/// <summary>Long jobs on the in-memory transport with a manual clock: hours pass in milliseconds.</summary>
public sealed class LongRunningJobTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryBroker _broker;
    private readonly Recorder _recorder = new();
    private readonly BusProbe _probe = new();
    private readonly InMemoryStepStore _steps;
    private readonly List<TestEndpoint> _endpoints = [];
    private readonly string _queue = "jobs-" + Guid.NewGuid().ToString("N")[..8];

    public LongRunningJobTests()
    {
        _broker = new InMemoryBroker(_time);
        _steps = new InMemoryStepStore(_time);
    }

    /// <summary>How long (real time) a wait in which no virtual time passes may take before the test fails: generous, as
    /// it only guards against a hang on a loaded machine.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private TimeDriver Driver => new(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromSeconds(5) };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }

        _probe.Dispose();
    }

    [Fact]
    public async Task Three_hour_job_with_a_five_minute_lease_is_never_redelivered_and_renews_every_minute()
    {
        var worker = await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(4))));
        var competitor = await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(4))));
        await worker.Bus.SendAsync(new LongJob("t", "3h", Steps: 1, BlockAtStep: 0));
        await _recorder.WhenAsync(all => all.Any()).WaitAsync(Patience);

        for (var minute = 1; minute <= 180; minute++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            await _probe.WhenAsync(_queue, "bus.lease.renewals", minute).WaitAsync(Patience);
        }

        _recorder.Open("3h/step-0");
        await _probe.WhenAsync(_queue, "bus.messages.completed", 1).WaitAsync(Patience);

        var handled = Assert.Single(_recorder.All);
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(180, _probe.Count(_queue, "bus.lease.renewals"));
        Assert.Equal(0, _probe.Count(_queue, "bus.lease.lost"));
        Assert.Equal(0, _broker.CountMessages(_queue));
        _ = competitor;
    }

    [Fact]
    public async Task Job_of_a_worker_that_stops_heartbeating_is_redelivered_to_another_worker_after_the_lease_expires()
    {
        FaultyTransport? faulty = null;
        var crashing = await StartAsync(
            b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(2))),
            inner => faulty = new FaultyTransport(inner));
        await crashing.Bus.SendAsync(new LongJob("t", "crash", Steps: 2, BlockAtStep: 0));
        await _recorder.WhenAsync(all => all.Any()).WaitAsync(Patience);
        var receivedAt = _time.GetUtcNow();

        faulty!.Crash();
        var survivor = await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(2))));
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Count >= 2));
        _recorder.Open("crash/step-0");
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));

        var redelivered = _recorder.All[1];
        Assert.Equal(2, redelivered.Attempt);
        Assert.True(redelivered.At >= receivedAt + TimeSpan.FromMinutes(5), $"redelivered at {redelivered.At:O}, before the lease of 5 minutes ran out");
        Assert.True(faulty.FailedCalls > 0, "the crashed worker's heartbeats failed");
        Assert.Equal(0, _broker.CountMessages(_queue));
        _ = survivor;
    }

    [Fact]
    public async Task A_message_is_received_under_the_longest_lease_of_the_endpoints_profiles_and_its_own_applies_from_its_first_renewal()
    {
        // LongJob asks for a 2 s lease without heartbeats; the endpoint's default profile leases for 1 minute. The type
        // is not known before the message is read, so the receive takes the longest lease: a crashed worker's job comes
        // back after a minute, not after 2 s (the documented rule).
        var shortLease = new ExecutionProfile { LeaseDuration = TimeSpan.FromSeconds(2), HeartbeatInterval = TimeSpan.FromSeconds(1), MaxRuntime = TimeSpan.FromSeconds(30), AutomaticRenewal = false };
        FaultyTransport? faulty = null;
        var crashing = await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.Profile = shortLease), inner => faulty = new FaultyTransport(inner));
        await crashing.Bus.SendAsync(new LongJob("t", "lease", Steps: 1, BlockAtStep: 0));
        await _recorder.WhenAsync(all => all.Any()).WaitAsync(Patience);
        var receivedAt = _recorder.All[0].At;

        faulty!.Crash();
        await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.Profile = shortLease));
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Count(h => h.Handler == nameof(LongJobHandler)) >= 2));

        var redelivered = _recorder.All.Where(h => h.Handler == nameof(LongJobHandler)).ElementAt(1);
        Assert.Equal(2, redelivered.Attempt);
        Assert.True(redelivered.At >= receivedAt + ExecutionProfile.Default.LeaseDuration,
            $"redelivered {redelivered.At - receivedAt} after the receive: before the endpoint's longest lease of {ExecutionProfile.Default.LeaseDuration} ran out");
        _recorder.Open("lease/step-0");
    }

    [Fact]
    public async Task A_worker_whose_lease_was_lost_has_its_handler_cancelled_and_never_settles_the_message()
    {
        FaultyTransport? partitioned = null;
        await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(2))), inner => partitioned = new FaultyTransport(inner));
        await _endpoints[0].Bus.SendAsync(new LongJob("t", "lost", Steps: 1, BlockAtStep: 0));
        await _recorder.WhenAsync(all => all.Any()).WaitAsync(Patience);

        // Its heartbeats stop reaching the broker: the lease runs out and another worker takes the job.
        partitioned!.RenewalsFail = true;
        await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(2))));
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Count(h => h.Handler == nameof(LongJobHandler)) >= 2));

        // The partition heals: the first worker's next heartbeat finds the lease gone.
        partitioned.RenewalsFail = false;
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Any(h => h.Handler == "cancelled")));
        Assert.Equal(1, _probe.Count(_queue, "bus.lease.lost"));
        _recorder.Open("lost/step-0");
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));

        var cancelled = Assert.Single(_recorder.All, h => h.Handler == "cancelled");
        Assert.Equal(1, cancelled.Attempt);
        Assert.Equal([1, 2], _recorder.All.Where(h => h.Handler == nameof(LongJobHandler)).Select(h => h.Attempt));
        Assert.Equal(1, _probe.Count(_queue, "bus.messages.completed"));
        Assert.Equal(0, _probe.Count(_queue, "bus.messages.retried"));
        Assert.Equal(0, _probe.Count(_queue, "bus.messages.dead_lettered"));
        Assert.Equal(0, _broker.CountMessages(_queue));
    }

    [Fact]
    public async Task A_finished_step_does_not_run_again_when_the_job_is_redelivered_after_its_worker_dies()
    {
        FaultyTransport? faulty = null;
        await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(2))), inner => faulty = new FaultyTransport(inner));
        await _endpoints[0].Bus.SendAsync(new LongJob("t", "resume", Steps: 3, BlockAtStep: 1));
        await _recorder.EnteredAsync("resume/step-1").WaitAsync(Patience);
        Assert.Equal([("resume", 0)], _recorder.Steps);

        faulty!.Crash();
        await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(2))));
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Count >= 2));
        _recorder.Open("resume/step-1");
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));

        Assert.Equal(2, _recorder.All[1].Attempt);
        Assert.Single(_recorder.Steps, s => s.Step == 0); // memoised: the survivor skipped it
        Assert.Contains(("resume", 2), _recorder.Steps);
        Assert.Equal(0, _broker.CountMessages(_queue));
    }

    [Fact]
    public async Task A_handler_still_running_after_the_shutdown_timeout_is_cancelled_and_its_job_released_for_another_worker()
    {
        var stopping = await StartAsync(b => b.ShutdownTimeout = TimeSpan.FromSeconds(30));
        await stopping.Bus.SendAsync(new LongJob("t", "stuck", Steps: 2, BlockAtStep: 0));
        await _recorder.EnteredAsync("stuck/step-0").WaitAsync(Patience);
        var stopAt = _time.GetUtcNow();

        await Driver.AwaitAsync(stopping.StopAsync());

        Assert.True(_time.GetUtcNow() >= stopAt + TimeSpan.FromSeconds(30), "the handler had the whole shutdown timeout");
        var cancelled = Assert.Single(_recorder.All, h => h.Handler == "cancelled");
        Assert.Equal(1, cancelled.Attempt);
        Assert.Equal(1, _probe.Count(_queue, "bus.messages.released"));
        await StartAsync(_ => { });
        _recorder.Open("stuck/step-0");
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));
        Assert.Equal([1, 1], _recorder.All.Where(h => h.Handler == nameof(LongJobHandler)).Select(h => h.Attempt));
        Assert.Equal(0, _probe.Count(_queue, "bus.messages.retried"));
        Assert.Equal(0, _broker.CountMessages(_queue));
    }

    [Fact]
    public async Task ExtendLease_keeps_a_job_without_automatic_renewal_from_redelivery()
    {
        var worker = await StartAsync(b => b.AddHandler<ExtendingHandler>().ConfigureHandling<ExtendingJob>(h =>
            h.Profile = ExecutionProfile.LongRunning(TimeSpan.FromHours(1)) with { AutomaticRenewal = false }));
        await worker.Bus.SendAsync(new ExtendingJob("x"));
        await _recorder.WhenAsync(all => all.Any()).WaitAsync(Patience);

        _time.Advance(TimeSpan.FromMinutes(20)); // the 5-minute lease would have expired four times over
        _recorder.Open("extend");
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));

        var handled = Assert.Single(_recorder.All);
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(1, _probe.Count(_queue, "bus.lease.renewals"));
    }

    [Fact]
    public async Task Message_received_outside_its_window_waits_until_the_window_opens_without_counting_an_attempt()
    {
        FaultyTransport? recording = null;
        var worker = await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.Window = TimeWindow.Daily("22:00", "06:00")), inner => recording = new FaultyTransport(inner));

        await worker.Bus.SendAsync(new LongJob("t", "night", Steps: 1));
        await _probe.WhenAsync(_queue, "bus.messages.released", 1).WaitAsync(Patience); // no time passes
        Assert.Empty(_recorder.All);
        Assert.Equal([TimeSpan.FromHours(10)], recording!.Releases); // 12:00 to 22:00, to the minute
        _time.SetUtcNow(new DateTimeOffset(2026, 1, 5, 21, 59, 0, TimeSpan.Zero));
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));

        var handled = Assert.Single(_recorder.All);
        Assert.Equal(1, handled.Attempt);
        Assert.True(handled.At >= new DateTimeOffset(2026, 1, 5, 22, 0, 0, TimeSpan.Zero), $"handled at {handled.At:O}");
    }

    [Fact]
    public async Task Running_job_pauses_at_its_next_step_when_its_window_closes_and_resumes_when_it_opens()
    {
        _time.SetUtcNow(new DateTimeOffset(2026, 1, 6, 5, 58, 0, TimeSpan.Zero));
        FaultyTransport? recording = null;
        var worker = await StartAsync(b => b.ConfigureHandling<LongJob>(h => h.Window = TimeWindow.Daily("22:00", "06:00")), inner => recording = new FaultyTransport(inner));
        await worker.Bus.SendAsync(new LongJob("t", "pause", Steps: 3, BlockAtStep: 0));
        // The handler must be inside step 0 (past the step's own checkpoint) before the window closes: once it has
        // only started, the checkpoint before step 0 could already see the window closed.
        await _recorder.EnteredAsync("pause/step-0").WaitAsync(Patience);

        _time.SetUtcNow(new DateTimeOffset(2026, 1, 6, 6, 1, 0, TimeSpan.Zero));
        _recorder.Open("pause/step-0");
        await _probe.WhenAsync(_queue, "bus.messages.released", 1).WaitAsync(Patience); // no time passes
        Assert.Equal([0], _recorder.Steps.Select(s => s.Step));
        Assert.Equal([new TimeSpan(15, 59, 0)], recording!.Releases); // 06:01 to 22:00
        _time.SetUtcNow(new DateTimeOffset(2026, 1, 6, 21, 59, 0, TimeSpan.Zero));
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));

        Assert.Equal([0, 1, 2], _recorder.Steps.Select(s => s.Step));
        var resumed = _recorder.All.Last();
        Assert.Equal(1, resumed.Attempt);
        Assert.True(resumed.At >= new DateTimeOffset(2026, 1, 6, 22, 0, 0, TimeSpan.Zero), $"resumed at {resumed.At:O}");
        Assert.Equal(0, _probe.Count(_queue, "bus.messages.retried"));
    }

    [Fact]
    public async Task A_checkpoint_release_swallowed_by_the_handler_still_releases_the_job()
    {
        _time.SetUtcNow(new DateTimeOffset(2026, 1, 6, 5, 58, 0, TimeSpan.Zero));
        var worker = await StartAsync(b => b
            .AddHandler<SwallowingHandler>()
            .ConfigureHandling<SwallowingJob>(h => h.Window = TimeWindow.Daily("22:00", "06:00")));
        await worker.Bus.SendAsync(new SwallowingJob("swallow"));
        await _recorder.EnteredAsync("swallow").WaitAsync(Patience);

        _time.SetUtcNow(new DateTimeOffset(2026, 1, 6, 6, 1, 0, TimeSpan.Zero)); // the window closes while it runs
        _recorder.Open("swallow");
        await _probe.WhenAsync(_queue, "bus.messages.released", 1).WaitAsync(Patience);

        Assert.Equal(0, _probe.Count(_queue, "bus.messages.completed"));
        Assert.Equal(1, _broker.CountMessages(_queue)); // released, not deleted
        _time.SetUtcNow(new DateTimeOffset(2026, 1, 6, 21, 59, 0, TimeSpan.Zero));
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));
        Assert.Equal(2, _recorder.All.Count(h => h.Handler == nameof(SwallowingHandler)));
        Assert.Equal(0, _broker.CountMessages(_queue));
    }

    [Fact]
    public async Task Progress_is_exposed_on_the_job_status_query_while_running_and_after()
    {
        var worker = await StartAsync(b => b.AddHandler<ProgressHandler>());
        await worker.Bus.SendAsync(new ProgressJob("p"), new DeliveryOptions { MessageId = "job-p" });
        await _recorder.WhenAsync(all => all.Any()).WaitAsync(Patience);
        var query = worker.Services.GetRequiredService<IJobStatusQuery>();

        var running = await query.GetAsync("job-p");
        Assert.NotNull(running);
        Assert.Equal(JobState.Running, running.State);
        Assert.Equal(30, running.Done);
        Assert.Equal(120, running.Total);
        Assert.Equal(0.25, running.Fraction);
        Assert.Contains(await query.RunningAsync(), j => j.MessageId == "job-p");

        _recorder.Open("progress");
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));
        var done = await query.GetAsync("job-p");
        Assert.Equal(JobState.Completed, done!.State);
        Assert.Equal(120, done.Done);
        Assert.Equal(new ProgressResult("encoded", 120), done.ResultAs<ProgressResult>());
        Assert.DoesNotContain(await query.RunningAsync(), j => j.MessageId == "job-p");

        // On the Meter too: the bus.job.progress histogram, tagged with the endpoint and the message type.
        var progress = _probe.Recorded(_queue, "bus.job.progress");
        Assert.Equal([0.25, 1.0], progress.Select(p => p.Value));
        Assert.All(progress, p => Assert.Equal("tests.progress-job", p.Tags["bus.message_type"]));
    }

    [Fact]
    public async Task Steps_of_finished_jobs_are_deleted_after_the_retention_and_running_ones_are_kept()
    {
        var worker = await StartAsync(b => b.StepRetention = TimeSpan.FromDays(1));
        await worker.Bus.SendAsync(new LongJob("t", "done", Steps: 2), new DeliveryOptions { MessageId = "job-done" });
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 1));
        Assert.Equal(["step-0", "step-1"], await _steps.ListAsync("job-done", default));

        _time.Advance(TimeSpan.FromHours(12));
        await worker.Bus.SendAsync(new LongJob("t", "recent", Steps: 1), new DeliveryOptions { MessageId = "job-recent" });
        await Driver.AwaitAsync(_probe.WhenAsync(_queue, "bus.messages.completed", 2));
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromMinutes(30) }
            .AwaitAsync(_probe.WhenAsync(_queue, "bus.steps.expired", 2));

        Assert.Empty(await _steps.ListAsync("job-done", default));
        Assert.Equal(["step-0"], await _steps.ListAsync("job-recent", default));
    }

    private async Task<TestEndpoint> StartAsync(Action<BusConfiguration> configure, Func<ITransport, ITransport>? wrap = null)
    {
        var endpoint = await TestEndpoint.StartAsync(_queue, _time,
            services =>
            {
                services.AddSingleton(_recorder);
                services.AddSingleton<IStepStore>(_steps);
            },
            bus =>
            {
                var inner = new InMemoryTransport(_broker);
                bus.UseTransport(_ => wrap?.Invoke(inner) ?? inner);
                bus.AddHandler<LongJobHandler>();
                bus.MaxConcurrency = 2;
                bus.Prefetch = 0;
                configure(bus);
            });
        _endpoints.Add(endpoint);
        return endpoint;
    }

    [MessageName("tests.extending-job")]
    public sealed record ExtendingJob(string Id) : ICommand;

    public sealed class ExtendingHandler(Recorder recorder, TimeProvider time) : IHandleMessages<ExtendingJob>
    {
        public async Task HandleAsync(ExtendingJob message, IMessageContext context)
        {
            await context.ExtendLeaseAsync(TimeSpan.FromMinutes(30));
            recorder.Record(new Handled(nameof(ExtendingHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            await recorder.Gate("extend").WaitAsync(context.CancellationToken);
        }
    }

    [MessageName("tests.swallowing-job")]
    public sealed record SwallowingJob(string Id) : ICommand;

    /// <summary>Catches everything around its checkpoint, as careless handlers do.</summary>
    public sealed class SwallowingHandler(Recorder recorder, TimeProvider time) : IHandleMessages<SwallowingJob>
    {
        public async Task HandleAsync(SwallowingJob message, IMessageContext context)
        {
            recorder.Record(new Handled(nameof(SwallowingHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            await recorder.Gate(message.Id).WaitAsync(context.CancellationToken);
            try
            {
                await context.CheckpointAsync();
            }
            catch (Exception)
            {
                // swallowed: the release stands all the same
            }
        }
    }

    [MessageName("tests.progress-job")]
    public sealed record ProgressJob(string Id) : ICommand;

    public sealed class ProgressHandler(Recorder recorder, TimeProvider time) : IHandleMessages<ProgressJob>
    {
        public async Task HandleAsync(ProgressJob message, IMessageContext context)
        {
            await context.ReportProgressAsync(30, 120);
            recorder.Record(new Handled(nameof(ProgressHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            await recorder.Gate("progress").WaitAsync(context.CancellationToken);
            await context.ReportProgressAsync(120, 120);
            await context.RecordResultAsync(new ProgressResult("encoded", 120));
        }
    }

    public sealed record ProgressResult(string Outcome, int Units);
}
