using Amazon.SQS.Model;
using System.Text.Json.Nodes;
using System.Text;
using Bus.AmazonSqs.Messages;
using Bus.AmazonSqs.Sqs;
using Bus.AmazonSqs.Topology;
using Bus.Transports;

namespace Bus.AmazonSqs.Tests;

public sealed class NamingAndPolicyTests
{
    [Fact]
    public void Names_are_prefixed_and_sanitized_to_sqs_and_sns_rules()
    {
        var names = new EntityNames("prod-");

        Assert.Equal("prod-billing", names.Queue("billing"));
        Assert.Equal("prod-billing-dlq", names.DeadLetterQueue("billing"));
        Assert.Equal("prod-billing-month-closed", names.Topic("billing-month-closed")); // valid names stay as they are
        Assert.Equal("prod-Orders_v2", names.Topic("Orders_v2"));
        Assert.Equal("prod-billing-month-closed-bcb89fd8", names.Topic("billing.month-closed")); // stable: SHA-256 of "prod-billing.month-closed"
        Assert.Equal("prod-a-b_c-41c4669f", names.Queue("a/b_c"));
        Assert.Equal("prod-a-b_c-41c4669f-dlq", names.DeadLetterQueue("a/b_c"));
    }

    [Fact]
    public void Names_that_sanitize_alike_stay_distinct()
    {
        var names = new EntityNames(string.Empty);
        string[] logical = ["billing.month-closed", "billing-month-closed", "billing/month-closed", "billing month-closed"];

        Assert.Equal(logical.Length, logical.Select(names.Topic).Distinct().Count());
        Assert.Equal(logical.Length, logical.Select(names.Queue).Distinct().Count());
        Assert.Equal(logical.Length, logical.Select(names.DeadLetterQueue).Distinct().Count());
        Assert.All(logical.Select(names.Topic), n => Assert.Matches("^[A-Za-z0-9_-]+$", n));
    }

    [Fact]
    public void Sanitized_names_with_their_hash_stay_within_the_length_limits()
    {
        var names = new EntityNames("p-");
        var dotted = string.Join('.', Enumerable.Repeat("segment", 60)); // 479 characters, dots to replace

        Assert.Equal(76, names.Queue(dotted).Length);
        Assert.Equal(80, names.DeadLetterQueue(dotted).Length);
        Assert.Equal(256, names.Topic(dotted).Length);
        Assert.Equal(76, names.Queue(dotted[..74]).Length); // 76 with the prefix: shortened only to make room for the hash
        Assert.NotEqual(names.Topic(dotted), names.Topic(dotted.Replace('.', '-')));
        Assert.Equal("p-" + new string('a', 74), names.Queue(new string('a', 74))); // valid and exactly at the limit
    }

    [Fact]
    public void Long_names_are_shortened_with_a_hash_and_stay_distinct()
    {
        var names = new EntityNames(string.Empty);
        var one = names.DeadLetterQueue(new string('a', 100) + "1");
        var two = names.DeadLetterQueue(new string('a', 100) + "2");

        Assert.Equal(80, one.Length);
        Assert.EndsWith("-dlq", one);
        Assert.NotEqual(one, two);
    }

    [Fact]
    public void Queue_policy_merges_topics_and_keeps_other_statements()
    {
        const string existing = """{"Version":"2012-10-17","Statement":[{"Sid":"Events","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:q"}]}""";

        var first = QueuePolicy.Merge(existing, "arn:q", ["arn:t1"]);
        var second = QueuePolicy.Merge(first, "arn:q", QueuePolicy.AllowedTopics(first).Append("arn:t2"));

        Assert.Equal(["arn:t1", "arn:t2"], QueuePolicy.AllowedTopics(second).Order());
        var statements = JsonNode.Parse(second)!["Statement"]!.AsArray();
        Assert.Equal(2, statements.Count);
        Assert.Contains(statements, s => s!["Sid"]!.GetValue<string>() == "Events");
    }

    [Fact]
    public void Up_to_ten_valid_headers_travel_as_separate_attributes()
    {
        var headers = Enumerable.Range(0, 10).ToDictionary(i => $"h{i}", i => $"v{i}");
        var wire = WireFormat.Encode(new TransportMessage(headers, Encoding.UTF8.GetBytes("{}")));

        Assert.Equal(10, wire.Attributes.Count);
        Assert.Equal("{}", wire.Body);
    }

    [Theory]
    [InlineData("AWS.reserved")]
    [InlineData("has space")]
    [InlineData("trailing.")]
    public void Headers_with_names_sqs_rejects_are_packed(string name)
    {
        var message = new TransportMessage(new Dictionary<string, string> { [name] = "x", ["ok"] = "y" }, Encoding.UTF8.GetBytes("b"));
        var wire = WireFormat.Encode(message);

        Assert.Equal([WireFormat.PackedHeaders], wire.Attributes.Keys);
        var back = WireFormat.Decode(wire.Body, wire.Attributes.ToDictionary(a => a.Key, a => new MessageAttributeValue { StringValue = a.Value }), "sqs-id");
        Assert.Equal("x", back.Headers[name]);
        Assert.Equal("sqs-id", back.MessageId);
    }

    [Fact]
    public void A_message_with_unreadable_packed_headers_or_body_encoding_decodes_as_received_instead_of_failing_its_batch()
    {
        var badHeaders = WireFormat.Decode("{\"a\":1}", new Dictionary<string, MessageAttributeValue>
        {
            [WireFormat.PackedHeaders] = new() { StringValue = "{not json" },
        }, "sqs-1");
        Assert.Equal("{not json", badHeaders.Headers[WireFormat.PackedHeaders]);
        Assert.False(badHeaders.Headers.ContainsKey(MessageHeaders.MessageType));
        Assert.Equal("sqs-1", badHeaders.MessageId);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(badHeaders.Body.Span));

        var badBody = WireFormat.Decode("%%% not base64 %%%", new Dictionary<string, MessageAttributeValue>
        {
            [WireFormat.BodyEncoding] = new() { StringValue = "base64" },
            [MessageHeaders.MessageType] = new() { StringValue = "orders.place" },
        }, "sqs-2");
        Assert.Equal("%%% not base64 %%%", Encoding.UTF8.GetString(badBody.Body.Span));
        Assert.Equal("base64", badBody.Headers[WireFormat.BodyEncoding]);
        Assert.Equal("orders.place", badBody.Headers[MessageHeaders.MessageType]);

        var binary = new TransportMessage(null, new byte[] { 0xFF, 0x00, 0xFE });
        var wire = WireFormat.Encode(binary);
        var back = WireFormat.Decode(wire.Body, wire.Attributes.ToDictionary(a => a.Key, a => new MessageAttributeValue { StringValue = a.Value }), "sqs-3");
        Assert.Equal(new byte[] { 0xFF, 0x00, 0xFE }, back.Body.ToArray());
        Assert.False(back.Headers.ContainsKey(WireFormat.BodyEncoding));
    }
}
