using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Bus.AmazonSqs.Http;

namespace Bus.AmazonSqs.Sns;

/// <summary>SNS over the Query protocol: a url-encoded form in, XML out.</summary>
internal sealed class SnsQueryClient(AwsHttpChannel channel) : ISnsClient
{
    private const string ContentType = "application/x-www-form-urlencoded; charset=utf-8";

    public async Task<string> CreateTopicAsync(string name, CancellationToken cancellationToken)
    {
        var result = await CallAsync("CreateTopic", [new("Name", name)], cancellationToken).ConfigureAwait(false);
        return Value(result, "TopicArn") ?? throw Malformed("CreateTopic", "TopicArn");
    }

    public async Task<string?> FindTopicAsync(string name, CancellationToken cancellationToken)
    {
        string? next = null;
        do
        {
            var form = new List<KeyValuePair<string, string>>();
            if (next is not null)
            {
                form.Add(new("NextToken", next));
            }

            var result = await CallAsync("ListTopics", form, cancellationToken).ConfigureAwait(false);
            foreach (var arn in result.Descendants().Where(e => e.Name.LocalName == "TopicArn").Select(e => e.Value.Trim()))
            {
                if (arn.EndsWith(":" + name, StringComparison.Ordinal))
                {
                    return arn;
                }
            }

            next = Value(result, "NextToken");
        }
        while (!string.IsNullOrEmpty(next));

        return null;
    }

    public async Task<string> SubscribeQueueAsync(string topicArn, string queueArn, CancellationToken cancellationToken)
    {
        var result = await CallAsync("Subscribe",
        [
            new("TopicArn", topicArn),
            new("Protocol", "sqs"),
            new("Endpoint", queueArn),
            new("Attributes.entry.1.key", "RawMessageDelivery"),
            new("Attributes.entry.1.value", "true"),
            new("ReturnSubscriptionArn", "true"),
        ], cancellationToken).ConfigureAwait(false);
        return Value(result, "SubscriptionArn") ?? throw Malformed("Subscribe", "SubscriptionArn");
    }

    public async Task<IReadOnlyList<SnsSubscription>> ListSubscriptionsAsync(string topicArn, CancellationToken cancellationToken)
    {
        var list = new List<SnsSubscription>();
        string? next = null;
        do
        {
            var form = new List<KeyValuePair<string, string>> { new("TopicArn", topicArn) };
            if (next is not null)
            {
                form.Add(new("NextToken", next));
            }

            var result = await CallAsync("ListSubscriptionsByTopic", form, cancellationToken).ConfigureAwait(false);
            foreach (var member in result.Descendants().Where(e => e.Name.LocalName == "member"))
            {
                list.Add(new SnsSubscription(Value(member, "SubscriptionArn") ?? string.Empty, Value(member, "Protocol") ?? string.Empty, Value(member, "Endpoint") ?? string.Empty));
            }

            next = Value(result, "NextToken");
        }
        while (!string.IsNullOrEmpty(next));

        return list;
    }

    public async Task<IReadOnlyDictionary<string, string>> GetSubscriptionAttributesAsync(string subscriptionArn, CancellationToken cancellationToken)
    {
        var result = await CallAsync("GetSubscriptionAttributes", [new("SubscriptionArn", subscriptionArn)], cancellationToken).ConfigureAwait(false);
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in result.Descendants().Where(e => e.Name.LocalName == "entry"))
        {
            if (Value(entry, "key") is { } key)
            {
                attributes[key] = Value(entry, "value") ?? string.Empty;
            }
        }

        return attributes;
    }

    public Task SetSubscriptionAttributeAsync(string subscriptionArn, string name, string value, CancellationToken cancellationToken) =>
        CallAsync("SetSubscriptionAttributes",
        [
            new("SubscriptionArn", subscriptionArn),
            new("AttributeName", name),
            new("AttributeValue", value),
        ], cancellationToken);

    public async Task PublishAsync(string topicArn, SnsPublishEntry entry, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("TopicArn", topicArn), new("Message", entry.Message) };
        AddAttributes(form, "MessageAttributes.entry", entry.Attributes);
        await CallAsync("Publish", form, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SnsBatchFailure>> PublishBatchAsync(string topicArn, IReadOnlyList<SnsPublishEntry> entries, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("TopicArn", topicArn) };
        for (var i = 0; i < entries.Count; i++)
        {
            var prefix = $"PublishBatchRequestEntries.member.{(i + 1).ToString(CultureInfo.InvariantCulture)}";
            form.Add(new($"{prefix}.Id", entries[i].Id));
            form.Add(new($"{prefix}.Message", entries[i].Message));
            AddAttributes(form, $"{prefix}.MessageAttributes.entry", entries[i].Attributes);
        }

        var result = await CallAsync("PublishBatch", form, cancellationToken).ConfigureAwait(false);
        var failed = result.Descendants().FirstOrDefault(e => e.Name.LocalName == "Failed");
        if (failed is null)
        {
            return [];
        }

        return failed.Elements().Where(e => e.Name.LocalName == "member")
            .Select(m => new SnsBatchFailure(
                Value(m, "Id") ?? string.Empty,
                Value(m, "Code") ?? "Unknown",
                Value(m, "Message") ?? string.Empty,
                string.Equals(Value(m, "SenderFault"), "true", StringComparison.OrdinalIgnoreCase)))
            .ToList();
    }

    /// <summary>Reads code and message from <c>&lt;ErrorResponse&gt;&lt;Error&gt;&lt;Code/&gt;&lt;Message/&gt;</c>.</summary>
    internal static AwsError ParseError(AwsResponse response)
    {
        try
        {
            var document = XDocument.Parse(Encoding.UTF8.GetString(response.Body));
            var error = document.Descendants().FirstOrDefault(e => e.Name.LocalName == "Error");
            if (error is not null)
            {
                return new AwsError(Value(error, "Code") ?? $"Http{(int)response.StatusCode}", Value(error, "Message") ?? "(no message)");
            }
        }
        catch (XmlException)
        {
            // fall through: not XML
        }

        return new AwsError($"Http{(int)response.StatusCode}", Encoding.UTF8.GetString(response.Body));
    }

    /// <summary>The form encoding of the Query protocol.</summary>
    internal static string Encode(IEnumerable<KeyValuePair<string, string>> form) =>
        string.Join('&', form.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}"));

    private static void AddAttributes(List<KeyValuePair<string, string>> form, string prefix, IReadOnlyDictionary<string, string> attributes)
    {
        var n = 0;
        foreach (var (name, value) in attributes)
        {
            n++;
            var p = $"{prefix}.{n.ToString(CultureInfo.InvariantCulture)}";
            form.Add(new($"{p}.Name", name));
            form.Add(new($"{p}.Value.DataType", "String"));
            form.Add(new($"{p}.Value.StringValue", value));
        }
    }

    private async Task<XElement> CallAsync(string action, List<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("Action", action), new("Version", "2010-03-31") };
        form.AddRange(parameters);
        var payload = Encoding.UTF8.GetBytes(Encode(form));
        var body = await channel.SendAsync(action, payload, ContentType, null, ParseError, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        try
        {
            var document = XDocument.Parse(Encoding.UTF8.GetString(body));
            return document.Root?.Elements().FirstOrDefault(e => e.Name.LocalName == action + "Result") ?? new XElement("Empty");
        }
        catch (XmlException e)
        {
            throw new AmazonSqsException("sns", action, "MalformedResponse", e.Message, null, e);
        }
    }

    private static string? Value(XElement element, string name) =>
        element.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value.Trim();

    private static AmazonSqsException Malformed(string operation, string member) =>
        new("sns", operation, "MalformedResponse", $"The response has no {member}.", null);
}
