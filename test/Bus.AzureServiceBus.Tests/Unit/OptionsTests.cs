using Azure.Core;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class OptionsTests
{
    private const string Valid = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b";

    public static TheoryData<string, Action<ServiceBusTransportOptions>> Invalid => new()
    {
        { "LockDuration", o => o.LockDuration = TimeSpan.FromSeconds(4) },
        { "LockDuration", o => o.LockDuration = TimeSpan.FromMinutes(6) },
        { "MaxDeliveryCount", o => o.MaxDeliveryCount = 0 },
        { "MaxMessageSize", o => o.MaxMessageSize = 10 },
        { "ReceiveTimeout", o => o.ReceiveTimeout = TimeSpan.FromMinutes(2) },
        { "EntityPrefix", o => o.EntityPrefix = "bad prefix/" },
        { "MaxRetries", o => o.MaxRetries = -1 },
        { "RetryDelay", o => o.RetryDelay = TimeSpan.Zero },
        { "FullyQualifiedNamespace", o => o.FullyQualifiedNamespace = "contoso.servicebus.windows.net" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_settings_fail_naming_the_setting(string setting, Action<ServiceBusTransportOptions> change)
    {
        var options = new ServiceBusTransportOptions { ConnectionString = Valid };
        change(options);

        var error = Assert.ThrowsAny<ArgumentException>(options.Validate);

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Neither_connection_string_nor_namespace_is_an_error()
    {
        var error = Assert.Throws<ArgumentException>(new ServiceBusTransportOptions().Validate);

        Assert.Contains("ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("FullyQualifiedNamespace", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Namespace_with_credential_is_valid_and_a_url_form_is_accepted()
    {
        var options = new ServiceBusTransportOptions
        {
            FullyQualifiedNamespace = "https://contoso.servicebus.windows.net/",
            TokenCredential = NSubstitute.Substitute.For<TokenCredential>(),
        };

        options.Validate();

        Assert.Equal("contoso.servicebus.windows.net", options.NamespaceHost);
    }

    [Fact]
    public void Defaults_match_service_bus_defaults()
    {
        var options = new ServiceBusTransportOptions();

        Assert.Equal(TimeSpan.FromSeconds(60), options.LockDuration);
        Assert.Equal(10, options.MaxDeliveryCount);
        Assert.Equal(256 * 1024, options.MaxMessageSize);
        Assert.Equal(ProvisioningMode.CreateIfMissing, options.ProvisioningMode);
    }
}
