using Bus.Conformance;
using Bus.Hosting;
using Bus.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.DynamoDb.Tests;

[MessageName("dynamodb-jobs.encode")]
public sealed record EncodeVideo(string Name) : ICommand;

/// <summary>The result an encode job records.</summary>
public sealed record EncodedVideo(string Url, int Frames);

/// <summary>Reports progress, records its result, and finishes.</summary>
public sealed class EncodeVideoHandler : IHandleMessages<EncodeVideo>
{
    public async Task HandleAsync(EncodeVideo message, IMessageContext context)
    {
        await context.ReportProgressAsync(1, 2);
        await context.RecordResultAsync(new EncodedVideo($"s3://out/{message.Name}.mp4", 1200));
        await context.ReportProgressAsync(2, 2);
    }
}

/// <summary>A job handled by one bus host is read, with its result, by another host configured with the same DynamoDB
/// job status store (dynalite).</summary>
public sealed class DynamoDbJobStatusTests
{
    private readonly string _prefix = Dynalite.UniquePrefix("jobhost");
    private readonly string _endpoint = $"dynamodb-jobs-{Guid.NewGuid():N}"[..28];

    [Fact]
    public async Task A_job_handled_by_one_host_is_read_with_its_result_by_another_sharing_the_job_status_store()
    {
        void Configure(BusConfiguration bus)
        {
            bus.UseInMemoryTransport();
            bus.UseDynamoDbJobStatusStore(o => Dynalite.Configure(o, _prefix));
            bus.AddHandler<EncodeVideoHandler>();
        }

        using var probe = new BusProbe();
        await using var worker = await TestEndpoint.StartAsync(_endpoint, TimeProvider.System, _ => { }, Configure);

        // Another host of the endpoint, with a DynamoDB client of its own: it only answers queries.
        var otherServices = new ServiceCollection();
        otherServices.AddBus(bus =>
        {
            bus.EndpointName = _endpoint;
            Configure(bus);
        });
        await using var other = otherServices.BuildServiceProvider();

        await worker.Bus.SendAsync(new EncodeVideo("intro"), new DeliveryOptions { MessageId = "encode-intro" });
        await probe.WhenAsync(_endpoint, "bus.messages.completed", 1).WaitAsync(TimeSpan.FromSeconds(30));
        var status = await other.GetRequiredService<IJobStatusQuery>().GetAsync("encode-intro");

        Assert.IsType<DynamoDbJobStatusStore>(other.GetRequiredService<IJobStatusStore>());
        Assert.NotNull(status);
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal("dynamodb-jobs.encode", status.MessageType);
        Assert.Equal((2, 2, 1), (status.Done, status.Total, status.Attempt));
        Assert.Equal(new EncodedVideo("s3://out/intro.mp4", 1200), status.ResultAs<EncodedVideo>());
        Assert.Empty(await other.GetRequiredService<IJobStatusQuery>().RunningAsync());
    }
}
