using System.Text.Json;
using Bus.AzureServiceBus.Rest;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class PropertyHeadersTests
{
    public static TheoryData<object, string> Typed => new()
    {
        { "hello", "\"hello\"" },
        { true, "true" },
        { false, "false" },
        { 42L, "42" },
        { -7L, "-7" },
        { 1.5, "1.5" },
        { 2.0, "2.0" },
    };

    [Theory]
    [MemberData(nameof(Typed))]
    public void Values_take_the_documented_header_form_and_round_trip_with_their_type(object value, string header)
    {
        Assert.Equal(header, PropertyHeaders.Encode(value));

        var decoded = PropertyHeaders.Decode(header);

        Assert.Equal(value.GetType(), decoded.GetType());
        Assert.Equal(value, decoded);
    }

    [Theory]
    [InlineData("value with spaces åäö")]
    [InlineData("quote \" and backslash \\ and tab \t and newline \n")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("")]
    [InlineData("emoji 😀")]
    public void Any_string_stays_a_string_and_travels_as_printable_ascii(string value)
    {
        var header = PropertyHeaders.EncodeString(value);

        Assert.All(header, c => Assert.InRange(c, ' ', '~'));
        Assert.StartsWith("\"", header, StringComparison.Ordinal);
        Assert.Equal(value, PropertyHeaders.Decode(header));
    }

    [Fact]
    public void Typed_values_become_invariant_header_strings()
    {
        Assert.Equal("true", PropertyHeaders.ToHeaderString(PropertyHeaders.Decode("true")));
        Assert.Equal("123", PropertyHeaders.ToHeaderString(PropertyHeaders.Decode("123")));
        Assert.Equal("0.25", PropertyHeaders.ToHeaderString(PropertyHeaders.Decode("0.25")));
    }

    [Theory]
    [InlineData("bus-message-id", true)]
    [InlineData("traceparent", true)]
    [InlineData("Content-Type", false)]
    [InlineData("BrokerProperties", false)]
    [InlineData("Authorization", false)]
    [InlineData("has space", false)]
    [InlineData("colon:name", false)]
    public void Only_http_tokens_that_are_not_protocol_headers_can_be_properties(string name, bool usable) =>
        Assert.Equal(usable, PropertyHeaders.IsUsableName(name));

    [Fact]
    public void Broker_properties_serialize_without_nulls_and_parse_rfc1123_times()
    {
        var at = new DateTimeOffset(2026, 1, 5, 8, 30, 15, TimeSpan.Zero);
        var json = JsonSerializer.Serialize(
            new BrokerProperties { MessageId = "m-1", CorrelationId = "c-1", ScheduledEnqueueTimeUtc = BrokerProperties.FormatTime(at) },
            RestJsonContext.Default.BrokerProperties);

        Assert.Equal("{\"MessageId\":\"m-1\",\"CorrelationId\":\"c-1\",\"ScheduledEnqueueTimeUtc\":\"Mon, 05 Jan 2026 08:30:15 GMT\"}", json);

        var received = JsonSerializer.Deserialize(
            "{\"DeliveryCount\":3,\"LockToken\":\"7f9b\",\"LockedUntilUtc\":\"Mon, 05 Jan 2026 08:31:15 GMT\",\"MessageId\":\"m-1\",\"SequenceNumber\":11}",
            RestJsonContext.Default.BrokerProperties)!;

        Assert.Equal(3, received.DeliveryCount);
        Assert.Equal(11, received.SequenceNumber);
        Assert.Equal(at.AddMinutes(1), BrokerProperties.ParseTime(received.LockedUntilUtc));
    }
}
