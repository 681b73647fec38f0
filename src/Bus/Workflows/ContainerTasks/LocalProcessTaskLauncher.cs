using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.Workflows.ContainerTasks;

/// <summary>
/// A <see cref="IContainerTaskLauncher"/> for development and tests: runs <see cref="ContainerTaskRequest.Command"/>
/// as a local process and, when it exits, sends an ECS "Task State Change" event (STOPPED, with the exit code) as a
/// bare EventBridge JSON payload without bus headers (map it with <c>Bus.Aws</c>'s <c>MapEcsTaskStateChange()</c>) to <c>queue</c> through the transport, so the exit takes
/// exactly the path a real ECS event takes.
/// </summary>
public sealed class LocalProcessTaskLauncher : IContainerTaskLauncher, IAsyncDisposable
{
    private readonly ITransport _transport;
    private readonly string _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, (Process Process, Task Watcher)> _running = new();

    /// <summary>Creates a launcher that reports exits to <paramref name="queue"/> (usually the endpoint's own).</summary>
    public LocalProcessTaskLauncher(ITransport transport, string queue, TimeProvider? time = null, ILogger<LocalProcessTaskLauncher>? log = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        _transport = transport;
        _queue = queue;
        _time = time ?? TimeProvider.System;
        _log = log ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The cluster name written into task ARNs.</summary>
    public string Cluster { get; init; } = "local";

    /// <summary>How many started processes have not yet been reported.</summary>
    public int Running => _running.Count;

    /// <inheritdoc />
    public Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var program = request.Command.Count > 0 ? request.Command[0] : request.TaskDefinition;
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in request.Command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in request.Environment)
        {
            start.Environment[name] = value;
        }

        var cluster = request.Cluster ?? Cluster;
        var taskArn = $"arn:aws:ecs:local:000000000000:task/{cluster}/{Guid.NewGuid():N}";
        var createdAt = _time.GetUtcNow();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{program}'.");
        _log.LogInformation("Started local task {TaskArn} ({Program}, pid {Pid}) for {StartedBy}.", taskArn, program, process.Id, request.StartedBy);
        var watcher = WatchAsync(process, request, cluster, taskArn, createdAt);
        _running[taskArn] = (process, watcher);
        return Task.FromResult(taskArn);
    }

    /// <summary>Kills processes still running (their exits are still reported) and waits for the reports.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (process, _) in _running.Values)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }

        await Task.WhenAll(_running.Values.Select(r => r.Watcher)).ConfigureAwait(false);
    }

    private async Task WatchAsync(Process process, ContainerTaskRequest request, string cluster, string taskArn, DateTimeOffset createdAt)
    {
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().ConfigureAwait(false);
            var exitCode = process.ExitCode;
            _log.LogInformation("Local task {TaskArn} exited with {ExitCode}. Output: {Output} Errors: {Errors}",
                taskArn, exitCode, await output.ConfigureAwait(false), await errors.ConfigureAwait(false));
            var stopped = StoppedEvent(request, cluster, taskArn, createdAt, exitCode);
            var body = JsonSerializer.SerializeToUtf8Bytes(stopped);
            await _transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), new TransportMessage(null, body))], CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Could not report the exit of local task {TaskArn}.", taskArn);
        }
        finally
        {
            process.Dispose();
            _running.TryRemove(taskArn, out _);
        }
    }

    /// <summary>The ECS "Task State Change" event of a stopped task, in EventBridge's JSON shape (what
    /// <c>Bus.Aws</c>'s <c>MapEcsTaskStateChange()</c> reads).</summary>
    private JsonObject StoppedEvent(ContainerTaskRequest request, string cluster, string taskArn, DateTimeOffset createdAt, int exitCode)
    {
        var now = _time.GetUtcNow();
        var container = new JsonObject
        {
            ["name"] = request.ContainerName ?? "main",
            ["image"] = request.TaskDefinition,
            ["lastStatus"] = "STOPPED",
            ["exitCode"] = exitCode,
        };
        if (exitCode != 0)
        {
            container["reason"] = string.Create(CultureInfo.InvariantCulture, $"Exited with {exitCode}");
        }

        return new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["detail-type"] = "ECS Task State Change",
            ["source"] = "aws.ecs",
            ["account"] = "000000000000",
            ["region"] = "local",
            ["time"] = now,
            ["resources"] = new JsonArray(taskArn),
            ["detail"] = new JsonObject
            {
                ["clusterArn"] = $"arn:aws:ecs:local:000000000000:cluster/{cluster}",
                ["taskArn"] = taskArn,
                ["taskDefinitionArn"] = request.TaskDefinition,
                ["group"] = $"family:{request.TaskDefinition}",
                ["launchType"] = "LOCAL",
                ["startedBy"] = request.StartedBy,
                ["lastStatus"] = "STOPPED",
                ["desiredStatus"] = "STOPPED",
                ["stopCode"] = "EssentialContainerExited",
                ["stoppedReason"] = "Essential container in task exited",
                ["createdAt"] = createdAt,
                ["startedAt"] = createdAt,
                ["stoppingAt"] = now,
                ["stoppedAt"] = now,

                // PENDING and RUNNING would be versions 1 and 2; only the stop is reported.
                ["version"] = 3,
                ["containers"] = new JsonArray(container),
            },
        };
    }
}
