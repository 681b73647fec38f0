using Bus.Conformance;
using Bus.Hosting;
using Bus.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureTables.Tests;

[MessageName("tables-jobs.render")]
public sealed record RenderVideo(string Name) : ICommand;

/// <summary>The result a render job records.</summary>
public sealed record RenderedVideo(string Url, int Frames);

/// <summary>Reports progress, records its result, and finishes.</summary>
public sealed class RenderVideoHandler : IHandleMessages<RenderVideo>
{
    public async Task HandleAsync(RenderVideo message, IMessageContext context)
    {
        await context.ReportProgressAsync(1, 2);
        await context.RecordResultAsync(new RenderedVideo($"https://media.blob.core.windows.net/out/{message.Name}.mp4", 1200));
        await context.ReportProgressAsync(2, 2);
    }
}

/// <summary>A job handled by one bus host is read, with its result, by another host configured with the same Azure Tables
/// job status store (azurite).</summary>
public sealed class AzureTablesJobStatusTests
{
    private readonly string _prefix = Azurite.UniquePrefix("jobhost");
    private readonly string _endpoint = $"tables-jobs-{Guid.NewGuid():N}"[..28];

    [Fact]
    public async Task A_job_handled_by_one_host_is_read_with_its_result_by_another_sharing_the_job_status_store()
    {
        void Configure(BusConfiguration bus)
        {
            bus.UseInMemoryTransport();
            bus.UseAzureTablesJobStatusStore(o => { o.ConnectionString = Azurite.ConnectionString; o.TableNamePrefix = _prefix; });
            bus.AddHandler<RenderVideoHandler>();
        }

        using var probe = new BusProbe();
        await using var worker = await TestEndpoint.StartAsync(_endpoint, TimeProvider.System, _ => { }, Configure);

        // Another host of the endpoint, with a Azure Tables client of its own: it only answers queries.
        var otherServices = new ServiceCollection();
        otherServices.AddBus(bus =>
        {
            bus.EndpointName = _endpoint;
            Configure(bus);
        });
        await using var other = otherServices.BuildServiceProvider();

        await worker.Bus.SendAsync(new RenderVideo("intro"), new DeliveryOptions { MessageId = "encode-intro" });
        await probe.WhenAsync(_endpoint, "bus.messages.completed", 1).WaitAsync(TimeSpan.FromSeconds(30));
        var status = await other.GetRequiredService<IJobStatusQuery>().GetAsync("encode-intro");

        Assert.IsType<AzureTablesJobStatusStore>(other.GetRequiredService<IJobStatusStore>());
        Assert.NotNull(status);
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal("tables-jobs.render", status.MessageType);
        Assert.Equal((2, 2, 1), (status.Done, status.Total, status.Attempt));
        Assert.Equal(new RenderedVideo("https://media.blob.core.windows.net/out/intro.mp4", 1200), status.ResultAs<RenderedVideo>());
        Assert.Empty(await other.GetRequiredService<IJobStatusQuery>().RunningAsync());
    }
}
