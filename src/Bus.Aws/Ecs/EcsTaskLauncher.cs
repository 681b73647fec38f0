using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Aws.Http;
using Bus.Workflows.ContainerTasks;

namespace Bus.Aws.Ecs;

/// <summary>Where and how <see cref="EcsTaskLauncher"/> runs tasks.</summary>
public sealed class EcsTaskLauncherOptions : AwsClientOptions
{
    /// <summary>The cluster (short name or ARN) for requests that name none; null for the account's default cluster.</summary>
    public string? Cluster { get; set; }

    /// <summary>FARGATE, EC2 or EXTERNAL; null to leave it to the cluster's capacity provider strategy.</summary>
    public string? LaunchType { get; set; }

    /// <summary>Subnets of the task's awsvpc network (required by Fargate).</summary>
    public IList<string> Subnets { get; } = [];

    /// <summary>Security groups of the task's awsvpc network.</summary>
    public IList<string> SecurityGroups { get; } = [];

    /// <summary>Whether the task gets a public IP (Fargate in a public subnet without NAT needs one).</summary>
    public bool AssignPublicIp { get; set; }

    /// <summary>The task group (e.g. "bus:video-encoding"), which EventBridge rules can filter on; null for the
    /// default "family:{task definition family}".</summary>
    public string? Group { get; set; }
}

/// <summary>
/// Launches container tasks with ECS RunTask, signed with AWSSDK.Core credentials: the request's task definition,
/// cluster, <c>startedBy</c> (the tag the task's events carry back), <c>clientToken</c> (the idempotency token: the same
/// run launched twice starts one task) and a container override with the command and environment. RunTask
/// <c>failures</c> (no capacity, a missing task definition) are thrown as <see cref="ContainerTaskLaunchException"/>, which
/// a container-task workflow records as a run that failed to start.
/// The launcher owns the HTTP client it creates: dispose it (the service provider does, for
/// <c>AddEcsTaskLauncher</c>) to release its connections. A handler given in
/// <see cref="AwsClientOptions.HttpHandler"/> stays the caller's: it is not disposed.
/// </summary>
public sealed class EcsTaskLauncher : IContainerTaskLauncher, IDisposable
{
    private readonly EcsTaskLauncherOptions _options;
    private readonly IEcsApi _ecs;
    private readonly IDisposable? _owned;
    private int _disposed;

    /// <summary>Creates a launcher from the options.</summary>
    public EcsTaskLauncher(EcsTaskLauncherOptions options, TimeProvider? time = null)
        : this(options, AwsJsonChannel.Create(
            options ?? throw new ArgumentNullException(nameof(options)), "ecs", EcsJsonApi.TargetPrefix, "application/x-amz-json-1.1", time ?? TimeProvider.System))
    {
    }

    internal EcsTaskLauncher(EcsTaskLauncherOptions options, IEcsApi ecs)
    {
        _options = options;
        _ecs = ecs;
    }

    private EcsTaskLauncher(EcsTaskLauncherOptions options, AwsJsonChannel channel)
        : this(options, new EcsJsonApi(channel))
    {
        _owned = channel;
    }

    /// <inheritdoc />
    public async Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var response = await _ecs.RunTaskAsync(RunTaskRequest(request), cancellationToken).ConfigureAwait(false);
        if (response.TryGetProperty("tasks", out var tasks) && tasks.ValueKind == JsonValueKind.Array
            && tasks.EnumerateArray().Select(t => t.TryGetProperty("taskArn", out var arn) ? arn.GetString() : null).FirstOrDefault(a => a is not null) is { } taskArn)
        {
            return taskArn;
        }

        var failures = response.TryGetProperty("failures", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(Describe).ToList()
            : [];
        throw new ContainerTaskLaunchException(failures.Count > 0
            ? $"ECS RunTask of '{request.TaskDefinition}' started no task: {string.Join("; ", failures)}"
            : $"ECS RunTask of '{request.TaskDefinition}' started no task and reported no failure.");
    }

    /// <summary>Disposes the HTTP client the launcher created (launches under way are cancelled). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _owned?.Dispose();
        }
    }

    /// <summary>The RunTask request body for <paramref name="request"/>.</summary>
    internal JsonObject RunTaskRequest(ContainerTaskRequest request)
    {
        var body = new JsonObject
        {
            ["taskDefinition"] = request.TaskDefinition,
            ["count"] = 1,
            ["startedBy"] = request.StartedBy,
        };
        if ((request.Cluster ?? _options.Cluster) is { } cluster)
        {
            body["cluster"] = cluster;
        }

        if (request.IdempotencyToken is { } token)
        {
            body["clientToken"] = token;
        }

        if (_options.LaunchType is { } launchType)
        {
            body["launchType"] = launchType;
        }

        if (_options.Group is { } group)
        {
            body["group"] = group;
        }

        if (_options.Subnets.Count > 0)
        {
            var vpc = new JsonObject
            {
                ["subnets"] = new JsonArray([.. _options.Subnets.Select(s => (JsonNode)s)]),
                ["assignPublicIp"] = _options.AssignPublicIp ? "ENABLED" : "DISABLED",
            };
            if (_options.SecurityGroups.Count > 0)
            {
                vpc["securityGroups"] = new JsonArray([.. _options.SecurityGroups.Select(s => (JsonNode)s)]);
            }

            body["networkConfiguration"] = new JsonObject { ["awsvpcConfiguration"] = vpc };
        }

        if (request.Command.Count > 0 || request.Environment.Count > 0)
        {
            if (request.ContainerName is null)
            {
                throw new ArgumentException(
                    $"The request for '{request.TaskDefinition}' overrides the command or environment but names no container: set ContainerTaskRequest.ContainerName (ECS overrides are per container).",
                    nameof(request));
            }

            var container = new JsonObject { ["name"] = request.ContainerName };
            if (request.Command.Count > 0)
            {
                container["command"] = new JsonArray([.. request.Command.Select(c => (JsonNode)c)]);
            }

            if (request.Environment.Count > 0)
            {
                container["environment"] = new JsonArray([.. request.Environment.Select(e => (JsonNode)new JsonObject { ["name"] = e.Key, ["value"] = e.Value })]);
            }

            body["overrides"] = new JsonObject { ["containerOverrides"] = new JsonArray(container) };
        }

        return body;
    }

    private static string Describe(JsonElement failure)
    {
        string? Text(string name) => failure.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        var reason = Text("reason") ?? "unknown reason";
        return Text("detail") is { Length: > 0 } detail ? $"{reason} ({detail})" : Text("arn") is { } arn ? $"{reason} ({arn})" : reason;
    }
}
