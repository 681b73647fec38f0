using System.Collections.Concurrent;
using System.Diagnostics;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Leases;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Bus.AmazonSqs.Tests;

/// <summary>
/// What a bus endpoint on SQS costs in requests, counted at the HTTP layer against fauxqs, with bounds (the
/// measurements of test/Bus.Benchmarks/SqsRequestCost.cs, made small enough for a test): messages sent from a handler
/// at steady state, and lease renewals of 50 long jobs held in flight under a compressed long-running profile.
/// </summary>
public sealed class BusRequestCountTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int FanOut = 100;
    private const int FanOuts = 3;
    private const int LongJobs = 50;
    private const int HeartbeatRounds = 3;
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly string[] Renewals = ["ChangeMessageVisibility", "ChangeMessageVisibilityBatch"];

    private readonly CountingHandler _counter = new();
    private readonly CostSignals _signals = new();
    private TestEndpoint? _endpoint;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _signals.Release();
        if (_endpoint is not null)
        {
            await _endpoint.DisposeAsync();
        }

        _counter.Dispose();
    }

    [Fact]
    public async Task Messages_sent_from_a_handler_cost_under_half_a_request_each_for_send_receive_and_delete()
    {
        _endpoint = await StartAsync("cost", bus => bus.MaxConcurrency = 20);

        // Warm up: queue URL and attributes resolved and cached, so that only steady-state requests are counted.
        await _endpoint.Bus.SendAsync(new CostWork(0));
        await _signals.WhenHandled(1).WaitAsync(Patience);
        await _counter.WhenEntriesAsync(1, "DeleteMessageBatch").WaitAsync(Patience);
        _counter.Reset();

        var handled = _signals.WhenHandled(1 + (FanOut * FanOuts));
        for (var i = 0; i < FanOuts; i++)
        {
            await _endpoint.Bus.SendAsync(new CostFanOut(FanOut));
        }

        await handled.WaitAsync(Patience);
        await _counter.WhenEntriesAsync(FanOuts + (FanOut * FanOuts), "DeleteMessageBatch").WaitAsync(Patience); // every message settled
        var counts = _counter.Snapshot();

        var messages = FanOut * FanOuts;
        var send = counts.GetValueOrDefault("SendMessage") + counts.GetValueOrDefault("SendMessageBatch");
        var receive = counts.GetValueOrDefault("ReceiveMessage");
        var delete = counts.GetValueOrDefault("DeleteMessage") + counts.GetValueOrDefault("DeleteMessageBatch");
        var perMessage = (send + receive + delete) / (double)messages;
        output.WriteLine($"{messages} messages sent from handlers: send {send}, receive {receive}, delete {delete} = {perMessage:0.000} requests per message; all: {Describe(counts)}");
        Assert.True(perMessage < 0.5,
            $"{perMessage:0.000} requests per message (send {send}, receive {receive}, delete {delete} for {messages} messages); all: {Describe(counts)}");
    }

    [Fact]
    public async Task Heartbeats_of_50_long_jobs_in_flight_are_renewed_in_batches()
    {
        var profile = new ExecutionProfile { LeaseDuration = Heartbeat * 5, HeartbeatInterval = Heartbeat, MaxRuntime = TimeSpan.FromMinutes(30) };
        _endpoint = await StartAsync("beat", bus =>
        {
            bus.MaxConcurrency = LongJobs;
            bus.ConfigureHandling<CostLongJob>(h => h.Profile = profile);
        });
        await Task.WhenAll(Enumerable.Range(0, LongJobs).Select(i => _endpoint.Bus.SendAsync(new CostLongJob(i))));
        await _signals.WhenRunning(LongJobs).WaitAsync(Patience);
        _counter.Reset();
        var started = Stopwatch.GetTimestamp();

        await _counter.WhenEntriesAsync(LongJobs * HeartbeatRounds, Renewals).WaitAsync(Patience);

        var elapsed = Stopwatch.GetElapsedTime(started);
        var counts = _counter.Snapshot();
        var requests = Renewals.Sum(counts.GetValueOrDefault);
        var renewed = _counter.Entries(Renewals);
        var perRenewal = requests / (double)renewed;
        var rounds = Math.Max(1, elapsed / Heartbeat);
        var perJobPerRound = requests / (LongJobs * rounds);
        output.WriteLine($"{LongJobs} long jobs: {requests} renewal requests for {renewed} renewals in {elapsed.TotalSeconds:0.0} s = {perRenewal:0.000} per renewal, {perJobPerRound:0.000} per job per heartbeat; all: {Describe(counts)}");
        Assert.Equal(LongJobs, _signals.Running); // all still in flight: nothing was lost or finished
        Assert.True(perRenewal <= 0.25,
            $"{requests} renewal requests for {renewed} lease renewals ({perRenewal:0.000} each); all: {Describe(counts)}");
        Assert.True(perJobPerRound <= 0.25,
            $"{requests} renewal requests in {elapsed.TotalSeconds:0.0} s ({rounds:0.0} heartbeats of {Heartbeat.TotalSeconds:0} s) = {perJobPerRound:0.000} per job per heartbeat");
    }

    private async Task<TestEndpoint> StartAsync(string hint, Action<BusConfiguration> configure) =>
        await TestEndpoint.StartAsync(Fauxqs.UniqueName(hint), TimeProvider.System,
            services => services.AddSingleton(_signals),
            bus =>
            {
                bus.UseAmazonSqs(o => Fauxqs.Configure(o).HttpClientFactory = new HandlerClientFactory(_counter));
                bus.ShutdownTimeout = TimeSpan.FromSeconds(10);
                bus.AllowInMemoryStores = true; // one host, no steps or workflows
                bus.AddHandler<CostHandlers>();
                configure(bus);
            });

    private static string Describe(Dictionary<string, int> counts) =>
        string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));
}

/// <summary>A no-op command for the request counts.</summary>
[MessageName("sqs-tests.cost-work")]
public sealed record CostWork(int Number) : ICommand;

/// <summary>Asks its handler to send <see cref="Count"/> <see cref="CostWork"/> commands (sent together when it succeeds).</summary>
[MessageName("sqs-tests.cost-fan-out")]
public sealed record CostFanOut(int Count) : ICommand;

/// <summary>A job that runs until <see cref="CostSignals.Release"/>.</summary>
[MessageName("sqs-tests.cost-long-job")]
public sealed record CostLongJob(int Number) : ICommand;

/// <summary>What the request-count handlers report: handled messages, running long jobs, and the gate holding them.</summary>
internal sealed class CostSignals
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _reached = new(StringComparer.Ordinal);
    private int _handled;
    private int _running;

    public int Running => Volatile.Read(ref _running);

    public Task WhenHandled(int count) => Signal($"handled:{count}", Volatile.Read(ref _handled) >= count);

    public Task WhenRunning(int count) => Signal($"running:{count}", Volatile.Read(ref _running) >= count);

    public void OnHandled() => _ = Signal($"handled:{Interlocked.Increment(ref _handled)}", true);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _ = Signal($"running:{Interlocked.Increment(ref _running)}", true);
        try
        {
            await _released.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public void Release() => _released.TrySetResult();

    private Task Signal(string name, bool reached)
    {
        var signal = _reached.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (reached)
        {
            signal.TrySetResult();
        }

        return signal.Task;
    }
}

/// <summary>The handlers of the request counts.</summary>
internal sealed class CostHandlers(CostSignals signals) : IHandleMessages<CostWork>, IHandleMessages<CostFanOut>, IHandleMessages<CostLongJob>
{
    public Task HandleAsync(CostWork message, IMessageContext context)
    {
        signals.OnHandled();
        return Task.CompletedTask;
    }

    public async Task HandleAsync(CostFanOut message, IMessageContext context)
    {
        for (var i = 0; i < message.Count; i++)
        {
            await context.Bus.SendAsync(new CostWork(i));
        }
    }

    public Task HandleAsync(CostLongJob message, IMessageContext context) => signals.RunAsync(context.CancellationToken);
}
