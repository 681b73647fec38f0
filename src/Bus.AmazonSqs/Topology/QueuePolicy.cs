using System.Text.Json.Nodes;

namespace Bus.AmazonSqs.Topology;

/// <summary>The queue policy statement that lets SNS topics deliver to a queue (principal sns.amazonaws.com,
/// sqs:SendMessage, condition aws:SourceArn). Other statements of an existing policy are kept.</summary>
internal static class QueuePolicy
{
    public const string StatementId = "BusSnsTopicsToQueue";

    /// <summary>The topic ARNs the bus statement of <paramref name="policy"/> allows.</summary>
    public static IReadOnlySet<string> AllowedTopics(string? policy)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(policy) || FindStatement(JsonNode.Parse(policy)) is not { } statement)
        {
            return result;
        }

        var arns = statement["Condition"]?["ArnEquals"]?["aws:SourceArn"];
        if (arns is JsonArray array)
        {
            foreach (var arn in array)
            {
                if (arn?.GetValue<string>() is { } s)
                {
                    result.Add(s);
                }
            }
        }
        else if (arns is JsonValue value && value.TryGetValue<string>(out var single))
        {
            result.Add(single);
        }

        return result;
    }

    /// <summary>The policy with the bus statement allowing exactly <paramref name="topicArns"/> on <paramref name="queueArn"/>.</summary>
    public static string Merge(string? existing, string queueArn, IEnumerable<string> topicArns)
    {
        var document = string.IsNullOrWhiteSpace(existing) ? null : JsonNode.Parse(existing) as JsonObject;
        document ??= new JsonObject { ["Version"] = "2012-10-17" };
        if (document["Statement"] is not JsonArray statements)
        {
            statements = [];
            document["Statement"] = statements;
        }

        if (FindStatement(document) is { } old)
        {
            statements.Remove(old);
        }

        var arns = new JsonArray();
        foreach (var arn in topicArns.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            arns.Add(arn);
        }

        statements.Add(new JsonObject
        {
            ["Sid"] = StatementId,
            ["Effect"] = "Allow",
            ["Principal"] = new JsonObject { ["Service"] = "sns.amazonaws.com" },
            ["Action"] = "sqs:SendMessage",
            ["Resource"] = queueArn,
            ["Condition"] = new JsonObject { ["ArnEquals"] = new JsonObject { ["aws:SourceArn"] = arns } },
        });
        return document.ToJsonString();
    }

    private static JsonNode? FindStatement(JsonNode? document) =>
        (document?["Statement"] as JsonArray)?.FirstOrDefault(s => s?["Sid"]?.GetValue<string>() == StatementId);
}
