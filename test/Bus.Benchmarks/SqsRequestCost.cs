using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.Benchmarks;

/// <summary>
/// What the SQS transport costs in requests, counted at the HTTP layer against fauxqs (or any SQS endpoint in
/// BUS_SQS_ENDPOINT): requests per message at steady state for send + receive + delete, and heartbeat requests per
/// in-flight job per hour for 50 concurrent long jobs, each beside the naive one-call-per-message figure.
/// </summary>
public static class SqsRequestCost
{
    private const int LongJobs = 50;
    private const int FanOut = 100;
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(2);

    /// <summary>Runs both measurements and returns their table, or a line saying why they were skipped.</summary>
    public static async Task<string> RunAsync(BenchmarkOptions options)
    {
        if (!await AnswersAsync(options.SqsEndpoint).ConfigureAwait(false))
        {
            return $"SQS request cost: skipped, nothing answers on {options.SqsEndpoint} (start fauxqs with: bash build/start-fauxqs.sh).";
        }

        var oneByOne = await SteadyStateAsync(options, batchedSends: false).ConfigureAwait(false);
        var batched = await SteadyStateAsync(options, batchedSends: true).ConfigureAwait(false);
        var heartbeats = await HeartbeatsAsync(options, arrivalGap: TimeSpan.Zero).ConfigureAwait(false);
        var staggered = await HeartbeatsAsync(options, arrivalGap: TimeSpan.FromMilliseconds(40)).ConfigureAwait(false);

        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"SQS request cost against {options.SqsEndpoint}, default settings (HTTP requests counted through the SDK's HttpClientFactory hook; naive = one call per message per operation):"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{"steady state, per message",-58} {"send",7} {"receive",8} {"delete",7} {"total",7} {"naive",7} {"Bus/naive",10}"));
        text.AppendLine(SteadyRow($"IBus.SendAsync one at a time ({oneByOne.Messages:N0} msgs)", oneByOne));
        text.AppendLine(SteadyRow($"sent from a handler, {FanOut} per handler ({batched.Messages:N0} msgs)", batched));
        var naivePerHour = 3600 / ExecutionProfile.LongRunning(TimeSpan.FromHours(1)).HeartbeatInterval.TotalSeconds;
        foreach (var (label, h) in new[] { ("received together", heartbeats), ("arriving 40 ms apart", staggered) })
        {
            var perHour = h.PerJobPerRound * naivePerHour;
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"heartbeats, {LongJobs} concurrent long jobs {label}: {h.Requests} renewal requests in {h.Rounds:0} rounds of {Heartbeat.TotalSeconds:0} s = {h.PerJobPerRound:0.000} per job per heartbeat; "
                + $"at the LongRunning heartbeat (1 min): {perHour:0.0} requests per in-flight job per hour vs naive {naivePerHour:0} ({perHour / naivePerHour:0.00}x)."));
        }

        return text.ToString().TrimEnd();
    }

    private static string SteadyRow(string name, SteadyState s)
    {
        double Per(int requests) => requests / (double)s.Messages;
        var total = Per(s.Send) + Per(s.Receive) + Per(s.Delete);
        return string.Create(CultureInfo.InvariantCulture,
            $"{name,-58} {Per(s.Send),7:0.000} {Per(s.Receive),8:0.000} {Per(s.Delete),7:0.000} {total,7:0.000} {3.0,7:0.000} {total / 3.0,9:0.00}x");
    }

    /// <summary>Sends messages to a fresh endpoint with a no-op handler and counts every request from the first send to the last delete.</summary>
    private static async Task<SteadyState> SteadyStateAsync(BenchmarkOptions options, bool batchedSends)
    {
        using var counter = new RequestCounter();
        var signal = new HandledSignal();
        var endpoint = await StartAsync(options, counter, signal, new LongJobGate(), _ => { }).ConfigureAwait(false);
        await using (endpoint.ConfigureAwait(false))
        {
            // Warm up: queue URLs and attributes are resolved and cached, so only steady-state requests are counted.
            await endpoint.Bus.SendAsync(new SqsWork(0)).ConfigureAwait(false);
            await signal.WhenHandled(1).AsTask().WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            counter.Reset();

            var messages = options.SqsMessages;
            var handled = signal.WhenHandled(1 + messages).AsTask();
            if (batchedSends)
            {
                for (var sent = 0; sent < messages; sent += FanOut)
                {
                    await endpoint.Bus.SendAsync(new SqsFanOut(Math.Min(FanOut, messages - sent))).ConfigureAwait(false);
                }
            }
            else
            {
                for (var i = 1; i <= messages; i++)
                {
                    await endpoint.Bus.SendAsync(new SqsWork(i)).ConfigureAwait(false);
                }
            }

            await handled.WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
            await counter.WhenQuietAsync("DeleteMessageBatch", "DeleteMessage").ConfigureAwait(false);
            var counts = counter.Snapshot();
            return new SteadyState(
                messages,
                counts.GetValueOrDefault("SendMessage") + counts.GetValueOrDefault("SendMessageBatch"),
                counts.GetValueOrDefault("ReceiveMessage"),
                counts.GetValueOrDefault("DeleteMessage") + counts.GetValueOrDefault("DeleteMessageBatch"));
        }
    }

    /// <summary>Holds 50 jobs in flight under a compressed long-running profile and counts the renewals; the jobs are
    /// sent <paramref name="arrivalGap"/> apart.</summary>
    private static async Task<Heartbeats> HeartbeatsAsync(BenchmarkOptions options, TimeSpan arrivalGap)
    {
        using var counter = new RequestCounter();
        var gate = new LongJobGate();
        var profile = new ExecutionProfile { LeaseDuration = Heartbeat * 5, HeartbeatInterval = Heartbeat, MaxRuntime = TimeSpan.FromMinutes(30) };
        var endpoint = await StartAsync(options, counter, new HandledSignal(), gate, bus =>
        {
            bus.MaxConcurrency = LongJobs;
            bus.Profile = profile; // the receive lease is then the profile's too, as with LongRunning jobs (5 heartbeats)
            bus.ConfigureHandling<SqsLongJob>(h => h.Profile = profile);
        }).ConfigureAwait(false);
        await using (endpoint.ConfigureAwait(false))
        {
            for (var i = 0; i < LongJobs; i++)
            {
                await endpoint.Bus.SendAsync(new SqsLongJob(i)).ConfigureAwait(false);
                if (arrivalGap > TimeSpan.Zero)
                {
                    await Task.Delay(arrivalGap).ConfigureAwait(false);
                }
            }

            await gate.AllRunning(LongJobs).WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
            counter.Reset();
            await Task.Delay(options.LongJobDuration).ConfigureAwait(false);
            var counts = counter.Snapshot();
            gate.Release();
            var renewals = counts.GetValueOrDefault("ChangeMessageVisibility") + counts.GetValueOrDefault("ChangeMessageVisibilityBatch");
            var rounds = options.LongJobDuration / Heartbeat;
            return new Heartbeats(renewals, rounds, renewals / (LongJobs * rounds));
        }
    }

    private static async Task<Endpoint> StartAsync(
        BenchmarkOptions options, RequestCounter counter, HandledSignal signal, LongJobGate gate, Action<BusConfiguration> configure)
    {
        var services = new ServiceCollection();
        services.AddSingleton(signal);
        services.AddSingleton(gate);
        services.AddBus(bus =>
        {
            bus.EndpointName = "cost-" + Guid.NewGuid().ToString("N")[..12];
            bus.AllowInMemoryStores = true; // one host, no steps or workflows
            bus.UseAmazonSqs(sqs =>
            {
                sqs.ServiceUrl = options.SqsEndpoint;
                sqs.Region = "us-east-1";
                sqs.AccessKeyId = "test";
                sqs.SecretAccessKey = "test";
                sqs.QueueNamePrefix = "bench-";
                sqs.WaitTime = TimeSpan.FromSeconds(1);
                sqs.HttpClientFactory = new CountingClientFactory(counter);
            });
            bus.AddHandler<SqsHandlers>();
            configure(bus);
        });
        var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().ToArray();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return new Endpoint(provider, hosted);
    }

    private static async Task<bool> AnswersAsync(Uri endpoint)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(endpoint.Host, endpoint.Port).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            return false;
        }
    }

    private sealed record SteadyState(int Messages, int Send, int Receive, int Delete);

    private sealed record Heartbeats(int Requests, double Rounds, double PerJobPerRound);

    /// <summary>A started endpoint; disposing stops it and its services.</summary>
    private sealed class Endpoint(ServiceProvider services, IHostedService[] hosted) : IAsyncDisposable
    {
        public IBus Bus { get; } = services.GetRequiredService<IBus>();

        public async ValueTask DisposeAsync()
        {
            foreach (var service in hosted.Reverse())
            {
                await service.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }

            await services.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A no-op command for the SQS request count.</summary>
public sealed record SqsWork(int Number) : ICommand;

/// <summary>Asks its handler to send <see cref="Count"/> <see cref="SqsWork"/> commands (sent together when it succeeds).</summary>
public sealed record SqsFanOut(int Count) : ICommand;

/// <summary>A job that runs until the <see cref="LongJobGate"/> opens.</summary>
public sealed record SqsLongJob(int Number) : ICommand;

/// <summary>Holds long jobs until released; tells when a number of them run.</summary>
public sealed class LongJobGate
{
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _running = new();
    private int _count;

    /// <summary>Completes when <paramref name="jobs"/> jobs have started.</summary>
    public Task AllRunning(int jobs) => _running.GetOrAdd(jobs, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Lets every job finish.</summary>
    public void Release() => _released.TrySetResult();

    /// <summary>Called by a job: counts it running and waits for the release.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _count);
        _running.GetOrAdd(now, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return _released.Task.WaitAsync(cancellationToken);
    }
}

/// <summary>The handlers of the SQS request count.</summary>
internal sealed class SqsHandlers(HandledSignal signal, LongJobGate gate) : IHandleMessages<SqsWork>, IHandleMessages<SqsFanOut>, IHandleMessages<SqsLongJob>
{
    public Task HandleAsync(SqsWork message, IMessageContext context)
    {
        signal.OnHandled();
        return Task.CompletedTask;
    }

    public async Task HandleAsync(SqsFanOut message, IMessageContext context)
    {
        for (var i = 0; i < message.Count; i++)
        {
            await context.Bus.SendAsync(new SqsWork(i)).ConfigureAwait(false);
        }
    }

    public Task HandleAsync(SqsLongJob message, IMessageContext context) => gate.RunAsync(context.CancellationToken);
}

/// <summary>Counts HTTP requests by SQS operation (X-Amz-Target) or SNS action.</summary>
internal sealed class RequestCounter() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public void Reset() => _counts.Clear();

    public Dictionary<string, int> Snapshot() => new(_counts, StringComparer.Ordinal);

    /// <summary>Waits until none of <paramref name="operations"/> was made for half a second (settlements are batched and flushed late).</summary>
    public async Task WhenQuietAsync(params string[] operations)
    {
        var last = -1;
        var quietSince = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(quietSince) < TimeSpan.FromMilliseconds(500))
        {
            var now = operations.Sum(o => _counts.GetValueOrDefault(o));
            if (now != last)
            {
                last = now;
                quietSince = System.Diagnostics.Stopwatch.GetTimestamp();
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _counts.AddOrUpdate(await OperationAsync(request).ConfigureAwait(false), 1, static (_, n) => n + 1);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string> OperationAsync(HttpRequestMessage request)
    {
        if (request.Headers.TryGetValues("X-Amz-Target", out var targets))
        {
            var target = targets.First();
            return target[(target.IndexOf('.', StringComparison.Ordinal) + 1)..];
        }

        var form = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync().ConfigureAwait(false);
        var action = form.Split('&').FirstOrDefault(p => p.StartsWith("Action=", StringComparison.Ordinal));
        return action is null ? "other" : action["Action=".Length..];
    }
}

/// <summary>The SDK's HTTP client factory hook, sending the transport's requests through the counter.</summary>
internal sealed class CountingClientFactory(HttpMessageHandler handler) : Amazon.Runtime.HttpClientFactory
{
    public override HttpClient CreateHttpClient(Amazon.Runtime.IClientConfig clientConfig) =>
        new(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    public override bool UseSDKHttpClientCaching(Amazon.Runtime.IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(Amazon.Runtime.IClientConfig clientConfig) => false;
}
