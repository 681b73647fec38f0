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
}
