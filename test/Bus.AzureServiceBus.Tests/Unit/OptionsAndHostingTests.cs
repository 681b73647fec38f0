using Azure.Identity;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class OptionsAndHostingTests
{
    private const string Valid = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b";

    public static TheoryData<string, string, Action<ServiceBusTransportOptions>> Invalid => new()
    {
        { "LockDuration", "between 5 seconds and 5 minutes", o => o.LockDuration = TimeSpan.FromSeconds(4) },
        { "LockDuration", "between 5 seconds and 5 minutes", o => o.LockDuration = TimeSpan.FromMinutes(6) },
        { "MaxDeliveryCount", "set it to 1 or more", o => o.MaxDeliveryCount = 0 },
        { "MaxSizeInMegabytes", "between 1024 and 5120", o => o.MaxSizeInMegabytes = 10 },
        { "MaxMessageSizeInKilobytes", "between 1024 and 102400", o => o.MaxMessageSizeInKilobytes = 100 },
        { "MaxMessageSizeInKilobytes", "only be set on the Premium tier", o => (o.Tier, o.MaxMessageSizeInKilobytes) = (ServiceBusTier.Standard, 2048) },
        { "ReceiveTimeout", "between 1 second and 1 minute", o => o.ReceiveTimeout = TimeSpan.FromMinutes(2) },
        { "PrefetchCount", "between 0 and 10,000", o => o.PrefetchCount = -1 },
        { "EntityPrefix", "only letters, digits", o => o.EntityPrefix = "bad prefix/" },
        { "FullyQualifiedNamespace", "not both", o => o.FullyQualifiedNamespace = "contoso.servicebus.windows.net" },
        { "TokenCredential", "Remove one of them", o => o.TokenCredential = new DefaultAzureCredential() },
        { "ConnectionString", "Shared access policies", o => o.ConnectionString = "not a connection string" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_settings_fail_naming_the_setting_and_what_to_do(string setting, string remedy, Action<ServiceBusTransportOptions> change)
    {
        var options = new ServiceBusTransportOptions { ConnectionString = Valid };
        change(options);

        var error = Assert.ThrowsAny<ArgumentException>(options.Validate);

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
        Assert.Contains(remedy, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_namespace_that_is_not_a_host_name_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(new ServiceBusTransportOptions { FullyQualifiedNamespace = "not a host" }.Validate);

        Assert.Contains("contoso.servicebus.windows.net", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_string_or_a_namespace_with_a_credential_makes_a_client_of_its_own()
    {
        await using var withKey = new ServiceBusTransport(new ServiceBusTransportOptions { ConnectionString = Valid });
        await using var withCredential = new ServiceBusTransport(new ServiceBusTransportOptions
        {
            FullyQualifiedNamespace = "https://contoso.servicebus.windows.net/",
            TokenCredential = new DefaultAzureCredential(),
            ClientOptions = new ServiceBusClientOptions { TransportType = ServiceBusTransportType.AmqpWebSockets },
        });

        Assert.Equal("azure-service-bus", withKey.Capabilities.Name);
        Assert.Equal(256 * 1024, withCredential.Capabilities.MaxMessageSize);
        Assert.Throws<ArgumentException>(() => new ServiceBusTransport(new ServiceBusTransportOptions()));
    }

    [Fact]
    public async Task UseAzureServiceBus_takes_the_clients_from_the_service_collection_with_the_hosts_clock_and_no_sdk_prefetch()
    {
        var time = new ManualTimeProvider();
        var fake = new FakeServiceBus(time);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<ServiceBusClient>(new FakeServiceBusClient(fake));
        services.AddSingleton<ServiceBusAdministrationClient>(new FakeServiceBusAdministrationClient(fake));
        services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.Prefetch = 7;
            bus.UseAzureServiceBus(o => o.LockDuration = TimeSpan.FromSeconds(20));
        });
        await using var provider = services.BuildServiceProvider();

        var transport = Assert.IsType<ServiceBusTransport>(provider.GetRequiredService<ITransport>());
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), new TransportMessage(null, new byte[1]),
            time.GetUtcNow().AddMinutes(1))], default);

        Assert.Equal(TimeSpan.FromSeconds(20), fake.QueueSettingsOf("orders")!.LockDuration);
        Assert.Equal(time.GetUtcNow().AddMinutes(1), Assert.Single(fake.MessagesIn("orders")).ScheduledAt);
        time.Advance(TimeSpan.FromMinutes(1));
        var received = await transport.ReceiveAsync("orders", 4, TimeSpan.FromSeconds(20), default);
        Assert.Single(received);
        var receiver = Assert.Single(((FakeServiceBusClient)provider.GetRequiredService<ServiceBusClient>()).Receivers);
        // The endpoint's Prefetch (7) does not reach the SDK: Service Bus counts a prefetched message's lock as a delivery.
        Assert.Equal((0, ServiceBusReceiveMode.PeekLock), (receiver.PrefetchCount, receiver.ReceiveMode));
    }

    [Fact]
    public async Task Without_a_connection_or_a_registered_client_the_error_says_what_to_set()
    {
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseAzureServiceBus(_ => { });
        });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<BusConfigurationException>(() => provider.GetRequiredService<ITransport>());

        Assert.Contains("register a ServiceBusClient", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxDeliveryCount_must_be_above_the_retry_policys_attempts()
    {
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.Retry.MaxAttempts = 10;
            bus.UseAzureServiceBus(o => o.ConnectionString = Valid);
        });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<BusConfigurationException>(() => provider.GetRequiredService<ITransport>());

        Assert.Contains("Set MaxDeliveryCount to at least 11", error.Message, StringComparison.Ordinal);
    }
}
