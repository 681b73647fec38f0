using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Aws.Http;

namespace Bus.Aws.EventBridge;

/// <summary>The EventBridge and SQS operations the rule provisioning uses, each with its documented JSON shape.</summary>
internal interface IEventBridgeApi
{
    /// <summary>DescribeRule; null when the rule does not exist.</summary>
    Task<JsonElement?> DescribeRuleAsync(string eventBus, string name, CancellationToken cancellationToken);

    /// <summary>PutRule (creates or updates); the rule ARN.</summary>
    Task<string> PutRuleAsync(string eventBus, string name, string eventPattern, string description, CancellationToken cancellationToken);

    /// <summary>ListTargetsByRule: (Id, Arn) of each target.</summary>
    Task<IReadOnlyList<(string Id, string Arn)>> ListTargetsAsync(string eventBus, string rule, CancellationToken cancellationToken);

    /// <summary>PutTargets with one target.</summary>
    Task PutTargetAsync(string eventBus, string rule, string id, string arn, CancellationToken cancellationToken);

    /// <summary>SQS GetQueueAttributes (Policy, QueueArn).</summary>
    Task<IReadOnlyDictionary<string, string>> GetQueueAttributesAsync(string queueUrl, CancellationToken cancellationToken);

    /// <summary>SQS SetQueueAttributes of the Policy attribute.</summary>
    Task SetQueuePolicyAsync(string queueUrl, string policy, CancellationToken cancellationToken);
}

/// <summary>EventBridge (AWSEvents, JSON 1.1) and SQS (AmazonSQS, JSON 1.0) over their JSON protocols.</summary>
internal sealed class EventBridgeJsonApi(AwsJsonChannel events, AwsJsonChannel sqs) : IEventBridgeApi
{
    public async Task<JsonElement?> DescribeRuleAsync(string eventBus, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await events.CallAsync("DescribeRule", new JsonObject { ["Name"] = name, ["EventBusName"] = eventBus }, cancellationToken).ConfigureAwait(false);
        }
        catch (AwsServiceException e) when (e.ErrorCode == "ResourceNotFoundException")
        {
            return null;
        }
    }

    public async Task<string> PutRuleAsync(string eventBus, string name, string eventPattern, string description, CancellationToken cancellationToken)
    {
        var response = await events.CallAsync("PutRule", new JsonObject
        {
            ["Name"] = name,
            ["EventBusName"] = eventBus,
            ["EventPattern"] = eventPattern,
            ["State"] = "ENABLED",
            ["Description"] = description,
        }, cancellationToken).ConfigureAwait(false);
        return response.TryGetProperty("RuleArn", out var arn) && arn.GetString() is { } value
            ? value
            : throw new AwsServiceException("events", "PutRule", "MalformedResponse", "the response has no RuleArn", null);
    }

    public async Task<IReadOnlyList<(string Id, string Arn)>> ListTargetsAsync(string eventBus, string rule, CancellationToken cancellationToken)
    {
        var targets = new List<(string, string)>();
        string? next = null;
        do
        {
            var request = new JsonObject { ["Rule"] = rule, ["EventBusName"] = eventBus };
            if (next is not null)
            {
                request["NextToken"] = next;
            }

            var response = await events.CallAsync("ListTargetsByRule", request, cancellationToken).ConfigureAwait(false);
            if (response.TryGetProperty("Targets", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                targets.AddRange(list.EnumerateArray().Select(t => (t.GetProperty("Id").GetString() ?? string.Empty, t.GetProperty("Arn").GetString() ?? string.Empty)));
            }

            next = response.TryGetProperty("NextToken", out var token) ? token.GetString() : null;
        }
        while (!string.IsNullOrEmpty(next));

        return targets;
    }

    public async Task PutTargetAsync(string eventBus, string rule, string id, string arn, CancellationToken cancellationToken)
    {
        var response = await events.CallAsync("PutTargets", new JsonObject
        {
            ["Rule"] = rule,
            ["EventBusName"] = eventBus,
            ["Targets"] = new JsonArray(new JsonObject { ["Id"] = id, ["Arn"] = arn }),
        }, cancellationToken).ConfigureAwait(false);
        if (response.TryGetProperty("FailedEntryCount", out var failed) && failed.GetInt32() > 0)
        {
            var entry = response.GetProperty("FailedEntries")[0];
            throw new AwsServiceException("events", "PutTargets", entry.GetProperty("ErrorCode").GetString() ?? "Failed", entry.GetProperty("ErrorMessage").GetString() ?? string.Empty, null);
        }
    }

    public async Task<IReadOnlyDictionary<string, string>> GetQueueAttributesAsync(string queueUrl, CancellationToken cancellationToken)
    {
        var response = await sqs.CallAsync("GetQueueAttributes", new JsonObject
        {
            ["QueueUrl"] = queueUrl,
            ["AttributeNames"] = new JsonArray("Policy", "QueueArn"),
        }, cancellationToken).ConfigureAwait(false);
        return response.TryGetProperty("Attributes", out var attributes) && attributes.ValueKind == JsonValueKind.Object
            ? attributes.EnumerateObject().ToDictionary(a => a.Name, a => a.Value.GetString() ?? string.Empty, StringComparer.Ordinal)
            : new Dictionary<string, string>();
    }

    public Task SetQueuePolicyAsync(string queueUrl, string policy, CancellationToken cancellationToken) =>
        sqs.CallAsync("SetQueueAttributes", new JsonObject
        {
            ["QueueUrl"] = queueUrl,
            ["Attributes"] = new JsonObject { ["Policy"] = policy },
        }, cancellationToken);
}
