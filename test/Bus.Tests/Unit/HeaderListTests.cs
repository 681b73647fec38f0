using Bus.Transports;

namespace Bus.Tests.Unit;

public sealed class HeaderListTests
{
    [Fact]
    public void Transport_message_headers_are_a_copy_found_by_ordinal_name()
    {
        var source = new Dictionary<string, string> { ["bus-message-id"] = "m-1", ["Origin"] = "test" };
        var message = new TransportMessage(source, new byte[] { 1 });
        source["bus-message-id"] = "changed";
        source["added"] = "later";

        Assert.Equal(2, message.Headers.Count);
        Assert.Equal("m-1", message.Headers["bus-message-id"]);
        Assert.Equal("m-1", message.MessageId);
        Assert.True(message.Headers.TryGetValue("Origin", out var origin));
        Assert.Equal("test", origin);
        Assert.False(message.Headers.ContainsKey("origin"));
        Assert.False(message.Headers.TryGetValue("added", out _));
        var missing = Assert.Throws<KeyNotFoundException>(() => message.Headers["added"]);
        Assert.Contains("'added'", missing.Message);
    }

    [Fact]
    public void Enumeration_keys_and_values_follow_one_order_and_copies_share_unchanged_headers()
    {
        var message = new TransportMessage(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2", ["c"] = "3" }, Array.Empty<byte>());

        var pairs = message.Headers.ToList();
        Assert.Equal(["a", "b", "c"], pairs.Select(p => p.Key).Order());
        Assert.Equal(pairs.Select(p => p.Key), message.Headers.Keys);
        Assert.Equal(pairs.Select(p => p.Value), message.Headers.Values);
        Assert.All(pairs, p => Assert.Equal(p.Value, message.Headers[p.Key]));

        var same = new TransportMessage(message.Headers, message.Body);
        Assert.Same(message.Headers, same.Headers);
        var changed = message.WithHeaders([new("b", "two"), new("d", "4")]);
        Assert.Equal("two", changed.Headers["b"]);
        Assert.Equal(4, changed.Headers.Count);
        Assert.Equal("2", message.Headers["b"]);
        Assert.Empty(new TransportMessage(null, Array.Empty<byte>()).Headers);
        Assert.Null(new TransportMessage(new Dictionary<string, string>(), Array.Empty<byte>()).MessageId);
    }

    [Fact]
    public void A_bus_messages_standard_headers_read_as_the_strings_they_stand_for_in_one_order()
    {
        var id = Guid.CreateVersion7();
        var sentAt = new DateTimeOffset(2026, 12, 2, 4, 55, 14, TimeSpan.Zero).AddTicks(1234567);
        var others = new Dictionary<string, string> { ["traceparent"] = "00-abc-def-01", ["tenant"] = "t-1" };
        var message = new BusMessage(id, null, sentAt, new MessageType(typeof(object), "orders.place", 2, MessageKind.Command), "application/json", null, null, others, new byte[] { 7 });
        IReadOnlyDictionary<string, string> headers = message;

        Assert.True(headers.ContainsKey(MessageHeaders.SentAt));
        Assert.False(headers.ContainsKey(MessageHeaders.CausationId)); // none: not listed
        Assert.False(headers.ContainsKey("missing"));
        var expected = new Dictionary<string, string>
        {
            [MessageHeaders.MessageId] = id.ToString(),
            [MessageHeaders.MessageType] = "orders.place",
            [MessageHeaders.MessageVersion] = "2",
            [MessageHeaders.ContentType] = "application/json",
            [MessageHeaders.SentAt] = sentAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            [MessageHeaders.CorrelationId] = id.ToString(), // a conversation's first message is its own correlation
            ["traceparent"] = "00-abc-def-01",
            ["tenant"] = "t-1",
        };
        Assert.Equal(expected.Count, headers.Count);
        Assert.Equal(expected.OrderBy(p => p.Key), headers.OrderBy(p => p.Key));
        Assert.Equal(headers.Select(p => p.Key), headers.Keys);
        Assert.Equal(headers.Select(p => p.Value), headers.Values);
        Assert.All(expected, p => Assert.Equal(p.Value, headers[p.Key]));
        Assert.Same(message, message.Headers); // its own headers: one object
        Assert.Equal(new byte[] { 7 }, message.Body.ToArray());
        Assert.Same(message.MessageId, headers[MessageHeaders.MessageId]); // formatted once
        Assert.Same(headers[MessageHeaders.MessageVersion], headers[MessageHeaders.MessageVersion]); // a cached string
        Assert.Equal(expected.Sum(p => (long)p.Key.Length + p.Value.Length), message.CharacterCount());
        Assert.True(message.AnyName(name => name == "tenant"));
        Assert.True(message.AnyName(name => name == MessageHeaders.SentAt));
        Assert.False(message.AnyName(name => name == MessageHeaders.CausationId));
    }

    [Fact]
    public void A_given_id_correlation_and_causation_are_kept_as_given_and_standard_names_are_not_others()
    {
        var message = new BusMessage(Guid.NewGuid(), "order-42", DateTimeOffset.UnixEpoch, Type("t"), "application/json", "conversation-7", "cause-3",
            new Dictionary<string, string>(), Array.Empty<byte>());
        IReadOnlyDictionary<string, string> headers = message;

        Assert.Equal("order-42", headers[MessageHeaders.MessageId]);
        Assert.Equal("conversation-7", headers[MessageHeaders.CorrelationId]);
        Assert.Equal("cause-3", headers[MessageHeaders.CausationId]);
        Assert.Equal(7, headers.Count);
        Assert.Equal(headers.Sum(p => (long)p.Key.Length + p.Value.Length), message.CharacterCount());
        Assert.Equal("order-42", message.MessageId);
        var copy = new TransportMessage(message.Headers, new byte[] { 1 }); // another message with the same headers
        Assert.Equal(headers.OrderBy(p => p.Key), copy.Headers.OrderBy(p => p.Key));
        var clash = Assert.Throws<ArgumentException>(() => new BusMessage(Guid.NewGuid(), null, DateTimeOffset.UnixEpoch, Type("t"), "application/json", null, null,
            new Dictionary<string, string> { [MessageHeaders.MessageType] = "other" }, Array.Empty<byte>()));
        Assert.Contains(MessageHeaders.MessageType, clash.Message);
    }

    private static MessageType Type(string wireName) => new(typeof(object), wireName, 1, MessageKind.Command);
}
