using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bus.Serialization;

namespace Bus.Tests.Unit;

public sealed class SerializerTests
{
    [Fact]
    public void Records_round_trip_as_camel_case_json()
    {
        var serializer = new SystemTextJsonMessageSerializer();

        var bytes = serializer.Serialize(new Invoice(42, "ACME", [1.5m, 2m]), typeof(Invoice));
        var back = (Invoice)serializer.Deserialize(bytes, typeof(Invoice));

        Assert.Equal("{\"number\":42,\"customer\":\"ACME\",\"lines\":[1.5,2]}", Encoding.UTF8.GetString(bytes));
        Assert.Equal(42, back.Number);
        Assert.Equal([1.5m, 2m], back.Lines);
    }

    [Fact]
    public void Json_null_and_mismatched_bodies_fail_with_a_json_error()
    {
        var serializer = new SystemTextJsonMessageSerializer();

        Assert.Throws<JsonException>(() => serializer.Deserialize("null"u8, typeof(Invoice)));
        Assert.Throws<JsonException>(() => serializer.Deserialize("{\"number\":\"not a number\"}"u8, typeof(Invoice)));
        Assert.Throws<JsonException>(() => serializer.Deserialize("{ broken"u8, typeof(Invoice)));
    }

    [Fact]
    public void A_source_generated_context_can_be_used()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = InvoiceJsonContext.Default };
        var serializer = new SystemTextJsonMessageSerializer(options);

        var bytes = serializer.Serialize(new Invoice(7, "X", []), typeof(Invoice));

        Assert.Equal(7, ((Invoice)serializer.Deserialize(bytes, typeof(Invoice))).Number);
        Assert.ThrowsAny<Exception>(() => serializer.Serialize(new Other("x"), typeof(Other)));
    }

    public sealed record Invoice(int Number, string Customer, decimal[] Lines) : ICommand;

    public sealed record Other(string Value);
}

[JsonSerializable(typeof(SerializerTests.Invoice))]
internal sealed partial class InvoiceJsonContext : JsonSerializerContext;
