using Amazon.Extensions.NETCore.Setup;
using Amazon.Runtime;
using Amazon.SQS;
using Bus.Hosting;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AmazonSqs.Tests;

public sealed class UseAmazonSqsTests
{
    [Fact]
    public async Task Registers_the_sqs_transport_with_the_hosts_clock()
    {
        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseAmazonSqs(o =>
            {
                o.Region = "eu-west-1";
                o.ServiceUrl = Fauxqs.Endpoint;
                o.AccessKeyId = "test";
                o.SecretAccessKey = "test";
            });
        });
        await using var provider = services.BuildServiceProvider();

        var transport = Assert.IsType<SqsTransport>(provider.GetRequiredService<ITransport>());

        Assert.Equal("amazon-sqs", transport.Capabilities.Name);
        Assert.Equal(TimeSpan.FromMinutes(15), transport.Capabilities.MaxDelay);
        Assert.True(transport.Capabilities.NativeDeadLetter);
    }

    [Fact]
    public void Invalid_options_fail_when_configured()
    {
        var services = new ServiceCollection();

        var error = Assert.ThrowsAny<Exception>(() => services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseAmazonSqs(o =>
            {
                o.Region = "eu-west-1";
                o.MaxReceiveCount = 0;
            });
        }));

        Assert.Contains("MaxReceiveCount", error.Message);
    }

    [Fact]
    public async Task An_IAmazonSQS_registered_in_DI_is_used_as_it_is_and_brings_the_region()
    {
        var services = new ServiceCollection();
        var client = new AmazonSQSClient(new BasicAWSCredentials("test", "test"), new AmazonSQSConfig { ServiceURL = Fauxqs.Endpoint.ToString(), AuthenticationRegion = "us-east-1" });
        services.AddSingleton<IAmazonSQS>(client);
        services.AddBus(bus =>
        {
            bus.EndpointName = "di-client-" + Guid.NewGuid().ToString("N")[..8];
            bus.UseAmazonSqs(o => o.QueueNamePrefix = "bt-"); // no region, no endpoint: the client has them
        });

        await using (var provider = services.BuildServiceProvider())
        {
            var transport = Assert.IsType<SqsTransport>(provider.GetRequiredService<ITransport>());
            Assert.Same(client, transport.SqsClient);
            var queue = Fauxqs.UniqueName("di");
            await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
            await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Fauxqs.Message("through the DI client"))], default);
            Assert.Equal("through the DI client", System.Text.Encoding.UTF8.GetString((await Fauxqs.ReceiveOneAsync(transport, queue)).Message.Body.Span));
        }

        // Not disposed by the transport: still usable.
        Assert.NotNull(await client.ListQueuesAsync(new Amazon.SQS.Model.ListQueuesRequest { QueueNamePrefix = "bt-" }));
    }

    [Fact]
    public async Task The_client_in_the_options_wins_over_the_one_in_DI_and_AWSOptions_credentials_sign_SNS()
    {
        var fromOptions = new AmazonSQSClient(new BasicAWSCredentials("test", "test"), new AmazonSQSConfig { ServiceURL = Fauxqs.Endpoint.ToString(), AuthenticationRegion = "us-east-1" });
        var services = new ServiceCollection();
        services.AddSingleton<IAmazonSQS>(new AmazonSQSClient(new BasicAWSCredentials("x", "y"), new AmazonSQSConfig { ServiceURL = "http://127.0.0.1:9/", AuthenticationRegion = "us-east-1" }));
        services.AddDefaultAWSOptions(new AWSOptions { Credentials = new BasicAWSCredentials("test", "test"), Region = Amazon.RegionEndpoint.USEast1 });
        services.AddBus(bus =>
        {
            bus.EndpointName = "opt-client-" + Guid.NewGuid().ToString("N")[..8];
            bus.UseAmazonSqs(o =>
            {
                o.SqsClient = fromOptions;
                o.QueueNamePrefix = "bt-";
            });
        });
        await using var provider = services.BuildServiceProvider();

        var transport = Assert.IsType<SqsTransport>(provider.GetRequiredService<ITransport>());

        Assert.Same(fromOptions, transport.SqsClient);
        // SNS goes to the given client's local endpoint, signed with the AWSOptions credentials: a topic is created.
        var topic = "di-topic-" + Guid.NewGuid().ToString("N")[..8];
        await transport.ProvisionAsync(new TransportTopology(Fauxqs.UniqueName("pub"), [topic], []), default);
        Assert.NotNull(await Fauxqs.RawSns().FindTopicAsync("bt-" + topic, default));
    }
}
