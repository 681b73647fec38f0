using Bus.AzureServiceBus.Authentication;
using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class ConnectionStringTests
{
    [Fact]
    public void Parses_endpoint_key_name_and_key_and_ignores_entity_path()
    {
        var parsed = ServiceBusConnectionString.Parse(
            "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=def=;EntityPath=orders");

        Assert.Equal(new Uri("https://contoso.servicebus.windows.net/"), parsed.Endpoint);
        Assert.Equal("send", parsed.KeyName);
        Assert.Equal("abc=def=", parsed.Key);
        Assert.Null(parsed.SharedAccessSignature);
    }

    [Fact]
    public void Accepts_a_ready_made_signature_instead_of_a_key()
    {
        var parsed = ServiceBusConnectionString.Parse(
            "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=x&sig=y&se=1&skn=z");

        Assert.Equal("SharedAccessSignature sr=x&sig=y&se=1&skn=z", parsed.SharedAccessSignature);
    }

    [Theory]
    [InlineData("SharedAccessKeyName=a;SharedAccessKey=b", "Endpoint")]
    [InlineData("Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKey=b", "SharedAccessKeyName")]
    [InlineData("Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=a", "SharedAccessKey")]
    [InlineData("Endpoint=not a uri;SharedAccessKeyName=a;SharedAccessKey=b", "Endpoint")]
    public void Missing_or_malformed_parts_are_named(string connectionString, string part)
    {
        var error = Assert.Throws<FormatException>(() => ServiceBusConnectionString.Parse(connectionString));

        Assert.Contains($"'{part}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transport_fails_at_construction_naming_the_missing_part()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceBusTransport(new ServiceBusTransportOptions
        {
            ConnectionString = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=a",
        }));

        Assert.Contains("'SharedAccessKey'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseAzureServiceBus_fails_at_start_up_naming_the_missing_part()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<ArgumentException>(() => services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseAzureServiceBus(o => o.ConnectionString = "SharedAccessKeyName=a;SharedAccessKey=b");
        }));

        Assert.Contains("'Endpoint'", error.Message, StringComparison.Ordinal);
    }
}
