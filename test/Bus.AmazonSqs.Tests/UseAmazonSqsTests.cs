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
}
