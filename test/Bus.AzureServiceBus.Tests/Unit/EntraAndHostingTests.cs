using Azure.Core;
using Bus.AzureServiceBus.Authentication;
using Bus.AzureServiceBus.Management;
using Bus.AzureServiceBus.Rest;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using NSubstitute;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class EntraAndHostingTests
{
    [Fact]
    public async Task Entra_tokens_are_requested_for_the_service_bus_scope_and_cached_until_near_expiry()
    {
        var time = new ManualTimeProvider();
        var credential = Substitute.For<TokenCredential>();
        var calls = 0;
        credential.GetTokenAsync(Arg.Any<TokenRequestContext>(), Arg.Any<CancellationToken>())
            .Returns(_ => new ValueTask<AccessToken>(new AccessToken($"token-{++calls}", time.GetUtcNow().AddHours(1))));
        var provider = new EntraTokenProvider(credential, time);
        var resource = new Uri("https://contoso.servicebus.windows.net/q/messages");

        var first = await provider.GetAuthorizationAsync(resource, default);
        time.Advance(TimeSpan.FromMinutes(50));
        var cached = await provider.GetAuthorizationAsync(resource, default);
        time.Advance(TimeSpan.FromMinutes(6));
        var renewed = await provider.GetAuthorizationAsync(resource, default);

        Assert.Equal("Bearer token-1", first);
        Assert.Equal(first, cached);
        Assert.Equal("Bearer token-2", renewed);
        await credential.Received().GetTokenAsync(
            Arg.Is<TokenRequestContext>(c => c.Scopes.SequenceEqual(new[] { "https://servicebus.azure.net/.default" })), Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task Transport_works_with_a_namespace_and_token_credential()
    {
        var time = new ManualTimeProvider();
        using var fake = new FakeServiceBus(time);
        var credential = Substitute.For<TokenCredential>();
        credential.GetTokenAsync(Arg.Any<TokenRequestContext>(), Arg.Any<CancellationToken>())
            .Returns(new ValueTask<AccessToken>(new AccessToken("entra", time.GetUtcNow().AddHours(1))));
        await using var transport = new ServiceBusTransport(new ServiceBusTransportOptions
        {
            FullyQualifiedNamespace = FakeServiceBus.Host,
            TokenCredential = credential,
            HttpMessageHandler = fake,
            TimeProvider = time,
        });

        await transport.ProvisionAsync(new TransportTopology("q", [], ["evt"]), default);
        await transport.SendAsync([new OutgoingMessage(Destination.Topic("evt"), new TransportMessage(null, "x"u8.ToArray()))], default);

        Assert.Single(fake.MessagesIn("q"));
    }

    [Fact]
    public async Task Entra_authorizes_each_forwarding_target_with_a_bearer_supplementary_header()
    {
        var time = new ManualTimeProvider();
        using var fake = new FakeServiceBus(time);
        var credential = Substitute.For<TokenCredential>();
        credential.GetTokenAsync(Arg.Any<TokenRequestContext>(), Arg.Any<CancellationToken>())
            .Returns(new ValueTask<AccessToken>(new AccessToken("entra", time.GetUtcNow().AddHours(1))));
        var namespaceUri = new Uri($"https://{FakeServiceBus.Host}/");
        using var client = new HttpServiceBusRestClient(
            new HttpClient(fake, disposeHandler: false), namespaceUri, new EntraTokenProvider(credential, time), time, 0, TimeSpan.FromSeconds(1), 256 * 1024);
        await client.CreateEntityAsync("target", EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 10), default);
        await client.CreateEntityAsync("errors", EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 10), default);
        var forwarding = EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 10).Replace(
            "</QueueDescription>",
            $"<ForwardTo>{namespaceUri}target</ForwardTo><ForwardDeadLetteredMessagesTo>{namespaceUri}errors</ForwardDeadLetteredMessagesTo></QueueDescription>",
            StringComparison.Ordinal);

        Assert.True(await client.CreateEntityAsync("q", forwarding, default));

        Assert.Equal("target", fake.ForwardTo("q"));
        Assert.Equal("errors", fake.ForwardDeadLetteredMessagesTo("q"));
    }

    [Fact]
    public async Task UseAzureServiceBus_registers_the_transport_with_the_hosts_clock()
    {
        var time = new ManualTimeProvider();
        using var fake = new FakeServiceBus(time);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseAzureServiceBus(o =>
            {
                o.ConnectionString = FakeServiceBus.ConnectionString;
                o.HttpMessageHandler = fake;
            });
        });
        await using var provider = services.BuildServiceProvider();

        var transport = Assert.IsType<ServiceBusTransport>(provider.GetRequiredService<ITransport>());
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);

        Assert.True(fake.Exists("orders"));
    }
}
