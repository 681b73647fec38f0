using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Aws.Ecs;
using Bus.Aws.Http;

namespace Bus.Aws.EventBridge;

/// <summary>The EventBridge rule that routes ECS "Task State Change" events to an endpoint's SQS queue.</summary>
public sealed class EcsTaskEventRuleOptions : AwsClientOptions
{
    /// <summary>The rule's name (1-64 letters, digits, '.', '-', '_'). Required.</summary>
    public string? RuleName { get; set; }

    /// <summary>The URL of the endpoint's queue (the rule's target). Required.</summary>
    public string? QueueUrl { get; set; }

    /// <summary>The event bus (default "default", where AWS services send their events).</summary>
    public string EventBusName { get; set; } = "default";

    /// <summary>Only tasks whose group starts with this (e.g. "family:encode-video"); with
    /// <see cref="StartedByPrefix"/> unset too, every task of the account and region.</summary>
    public string? GroupPrefix { get; set; }

    /// <summary>Only tasks whose startedBy starts with this (the correlation values the workflow launches with).</summary>
    public string? StartedByPrefix { get; set; }

    /// <summary>Only tasks of this cluster ARN.</summary>
    public string? ClusterArn { get; set; }

    /// <summary>An endpoint override for SQS (e.g. a local emulator); null for the regional endpoint.</summary>
    public Uri? SqsServiceUrl { get; set; }

    /// <summary>Do not create or change anything: report what is missing (for accounts where infrastructure is
    /// provisioned elsewhere).</summary>
    public bool VerifyOnly { get; set; }

    /// <summary>The rule's event pattern as JSON.</summary>
    public string EventPattern()
    {
        var detail = new JsonObject();
        if (GroupPrefix is { Length: > 0 } group)
        {
            detail["group"] = new JsonArray(new JsonObject { ["prefix"] = group });
        }

        if (StartedByPrefix is { Length: > 0 } startedBy)
        {
            detail["startedBy"] = new JsonArray(new JsonObject { ["prefix"] = startedBy });
        }

        if (ClusterArn is { Length: > 0 } cluster)
        {
            detail["clusterArn"] = new JsonArray(cluster);
        }

        var pattern = new JsonObject
        {
            ["source"] = new JsonArray(EcsTaskStateChange.EventSource),
            ["detail-type"] = new JsonArray(EcsTaskStateChange.EventDetailType),
        };
        if (detail.Count > 0)
        {
            pattern["detail"] = detail;
        }

        return pattern.ToJsonString();
    }

    internal void ValidateRule()
    {
        Validate();
        if (string.IsNullOrWhiteSpace(RuleName) || RuleName.Length > 64 || !RuleName.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            throw new BusConfigurationException($"EcsTaskEventRuleOptions.RuleName '{RuleName}' is not a valid rule name: use 1-64 letters, digits, '.', '-' or '_'.");
        }

        if (!Uri.TryCreate(QueueUrl, UriKind.Absolute, out _))
        {
            throw new BusConfigurationException($"EcsTaskEventRuleOptions.QueueUrl '{QueueUrl}' is not an absolute URL: give the endpoint queue's URL.");
        }
    }
}

/// <summary>
/// Creates (or, in verify-only mode, checks) what routes ECS task events to an endpoint's queue: the EventBridge rule
/// (source aws.ecs, detail-type "ECS Task State Change", filtered by group, startedBy prefix or cluster), the queue as
/// its target, and the statement of the queue's policy that lets events.amazonaws.com send from that rule. Idempotent.
/// </summary>
/// <remarks>It owns the HTTP clients it creates: dispose it when done (a handler given in
/// <see cref="AwsClientOptions.HttpHandler"/> stays the caller's).</remarks>
public sealed class EcsTaskEventRule : IDisposable
{
    private readonly EcsTaskEventRuleOptions _options;
    private readonly IEventBridgeApi _api;
    private readonly IDisposable[] _owned = [];

    /// <summary>Creates the provisioner from the options.</summary>
    public EcsTaskEventRule(EcsTaskEventRuleOptions options, TimeProvider? time = null)
        : this(options, CreateChannels(options, time ?? TimeProvider.System))
    {
    }

    private EcsTaskEventRule(EcsTaskEventRuleOptions options, (AwsJsonChannel Events, AwsJsonChannel Sqs) channels)
        : this(options, new EventBridgeJsonApi(channels.Events, channels.Sqs))
    {
        _owned = [channels.Events, channels.Sqs];
    }

    internal EcsTaskEventRule(EcsTaskEventRuleOptions options, IEventBridgeApi api)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ValidateRule();
        _options = options;
        _api = api;
    }

    /// <summary>The target id the rule's queue target carries.</summary>
    public const string TargetId = "bus-endpoint-queue";

    /// <summary>Creates or updates what is missing; in verify-only mode changes nothing. Returns what is missing or
    /// differs (empty when all is in place; after a non-verify run, what was created or changed).</summary>
    public async Task<IReadOnlyList<string>> EnsureAsync(CancellationToken cancellationToken = default)
    {
        var findings = new List<string>();
        var bus = _options.EventBusName;
        var rule = _options.RuleName!;
        var pattern = _options.EventPattern();
        var attributes = await _api.GetQueueAttributesAsync(_options.QueueUrl!, cancellationToken).ConfigureAwait(false);
        var queueArn = attributes.TryGetValue("QueueArn", out var arn) && arn.Length > 0
            ? arn
            : throw new BusConfigurationException($"The queue {_options.QueueUrl} has no QueueArn attribute: does it exist?");

        var existing = await _api.DescribeRuleAsync(bus, rule, cancellationToken).ConfigureAwait(false);
        string? ruleArn = existing is { } described && described.TryGetProperty("Arn", out var a) ? a.GetString() : null;
        var samePattern = existing is { } d && d.TryGetProperty("EventPattern", out var p) && JsonNode.DeepEquals(JsonNode.Parse(p.GetString() ?? "{}"), JsonNode.Parse(pattern));
        if (existing is null || !samePattern)
        {
            findings.Add(existing is null ? $"EventBridge rule '{rule}' on bus '{bus}' is missing" : $"EventBridge rule '{rule}' has another event pattern (expected {pattern})");
            if (!_options.VerifyOnly)
            {
                ruleArn = await _api.PutRuleAsync(bus, rule, pattern, "Bus: ECS task state changes to an endpoint queue", cancellationToken).ConfigureAwait(false);
            }
        }

        var targets = existing is null ? [] : await _api.ListTargetsAsync(bus, rule, cancellationToken).ConfigureAwait(false);
        if (!targets.Any(t => t.Arn == queueArn))
        {
            findings.Add($"EventBridge rule '{rule}' does not target queue {queueArn}");
            if (!_options.VerifyOnly)
            {
                await _api.PutTargetAsync(bus, rule, TargetId, queueArn, cancellationToken).ConfigureAwait(false);
            }
        }

        ruleArn ??= $"arn:aws:events:{_options.ResolveRegion()}:{queueArn.Split(':')[4]}:rule/{(bus == "default" ? string.Empty : bus + "/")}{rule}";
        var policy = attributes.TryGetValue("Policy", out var text) && text.Length > 0 ? text : null;
        if (!QueuePolicy.Allows(policy, queueArn, ruleArn))
        {
            findings.Add($"the policy of queue {queueArn} does not let EventBridge rule {ruleArn} send to it");
            if (!_options.VerifyOnly)
            {
                await _api.SetQueuePolicyAsync(_options.QueueUrl!, QueuePolicy.WithStatement(policy, queueArn, ruleArn, rule), cancellationToken).ConfigureAwait(false);
            }
        }

        return findings;
    }

    /// <summary>Disposes the HTTP clients the provisioner created (calls under way are cancelled).</summary>
    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }

    private static (AwsJsonChannel Events, AwsJsonChannel Sqs) CreateChannels(EcsTaskEventRuleOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ValidateRule();
        var events = AwsJsonChannel.Create(options, "events", "AWSEvents", "application/x-amz-json-1.1", time);
        var sqsOptions = new AwsClientOptions
        {
            Region = options.Region,
            Credentials = options.Credentials,
            ServiceUrl = options.SqsServiceUrl,
            HttpHandler = options.HttpHandler,
            MaxErrorRetry = options.MaxErrorRetry,
            RequestTimeout = options.RequestTimeout,
        };
        var sqs = AwsJsonChannel.Create(sqsOptions, "sqs", "AmazonSQS", "application/x-amz-json-1.0", time);
        return (events, sqs);
    }
}

/// <summary>The queue policy statement that lets EventBridge send a rule's events to a queue.</summary>
internal static class QueuePolicy
{
    /// <summary>Whether <paramref name="policy"/> has an Allow statement for events.amazonaws.com to send to the queue
    /// from <paramref name="ruleArn"/>.</summary>
    public static bool Allows(string? policy, string queueArn, string ruleArn)
    {
        if (policy is null)
        {
            return false;
        }

        var statements = JsonNode.Parse(policy)?["Statement"] as JsonArray ?? [];
        return statements.OfType<JsonObject>().Any(s =>
            s["Effect"]?.GetValue<string>() == "Allow"
            && s["Principal"]?["Service"]?.ToJsonString().Contains("events.amazonaws.com", StringComparison.Ordinal) == true
            && s["Action"]?.ToJsonString().Contains("sqs:SendMessage", StringComparison.Ordinal) == true
            && s["Resource"]?.ToJsonString().Contains(queueArn, StringComparison.Ordinal) == true
            && s["Condition"]?["ArnEquals"]?["aws:SourceArn"]?.ToJsonString().Contains(ruleArn, StringComparison.Ordinal) == true);
    }

    /// <summary><paramref name="policy"/> (or a new one) with the statement for <paramref name="ruleArn"/> added or
    /// replaced (by its Sid); other statements are kept.</summary>
    public static string WithStatement(string? policy, string queueArn, string ruleArn, string ruleName)
    {
        var document = policy is null ? new JsonObject { ["Version"] = "2012-10-17" } : JsonNode.Parse(policy)!.AsObject();
        if (document["Statement"] is not JsonArray statements)
        {
            statements = [];
            document["Statement"] = statements;
        }

        var sid = $"bus-eventbridge-{ruleName}";
        foreach (var old in statements.OfType<JsonObject>().Where(s => s["Sid"]?.GetValue<string>() == sid).ToList())
        {
            statements.Remove(old);
        }

        statements.Add(new JsonObject
        {
            ["Sid"] = sid,
            ["Effect"] = "Allow",
            ["Principal"] = new JsonObject { ["Service"] = "events.amazonaws.com" },
            ["Action"] = "sqs:SendMessage",
            ["Resource"] = queueArn,
            ["Condition"] = new JsonObject { ["ArnEquals"] = new JsonObject { ["aws:SourceArn"] = ruleArn } },
        });
        return document.ToJsonString();
    }
}
