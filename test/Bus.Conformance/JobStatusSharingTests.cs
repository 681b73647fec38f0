using Bus.Hosting;
using Bus.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>A job that records progress and a result (handled by <see cref="ReportingJobHandler"/>).</summary>
/// <param name="Name">The job's name.</param>
[MessageName("conformance.reporting-job")]
public sealed record ReportingJob(string Name) : ICommand;

/// <summary>The result a reporting job records.</summary>
/// <param name="Url">Where its output is.</param>
/// <param name="Frames">How many frames it made.</param>
public sealed record ReportedResult(string Url, int Frames);

/// <summary>Reports progress, records its result, and finishes.</summary>
public sealed class ReportingJobHandler : IHandleMessages<ReportingJob>
{
    /// <inheritdoc />
    public async Task HandleAsync(ReportingJob message, IMessageContext context)
    {
        await context.ReportProgressAsync(1, 2);
        await context.RecordResultAsync(new ReportedResult($"store://out/{message.Name}.mp4", 1200));
        await context.ReportProgressAsync(2, 2);
    }
}

/// <summary>
/// A shared <see cref="IJobStatusStore"/> across hosts: a job handled by one bus host is read, with its result, by
/// another host of the endpoint configured with the same store (and a client of its own). A store's test project
/// subclasses this and configures the store.
/// </summary>
public abstract class JobStatusSharingTests
{
    private readonly string _endpoint = $"shared-jobs-{Guid.NewGuid():N}"[..28];

    /// <summary>The store's type, which both hosts must resolve.</summary>
    protected abstract Type StoreType { get; }

    /// <summary>Configures the shared job status store on <paramref name="bus"/> (the same tables every call).</summary>
    protected abstract void UseJobStatusStore(BusConfiguration bus);

    [Fact]
    public async Task A_job_handled_by_one_host_is_read_with_its_result_by_another_sharing_the_job_status_store()
    {
        void Configure(BusConfiguration bus)
        {
            bus.UseInMemoryTransport();
            UseJobStatusStore(bus);
            bus.AddHandler<ReportingJobHandler>();
        }

        using var probe = new BusProbe();
        await using var worker = await TestEndpoint.StartAsync(_endpoint, TimeProvider.System, _ => { }, Configure);

        // Another host of the endpoint, with a store client of its own: it only answers queries.
        var otherServices = new ServiceCollection();
        otherServices.AddBus(bus =>
        {
            bus.EndpointName = _endpoint;
            Configure(bus);
        });
        await using var other = otherServices.BuildServiceProvider();

        await worker.Bus.SendAsync(new ReportingJob("intro"), new DeliveryOptions { MessageId = "encode-intro" });
        await probe.WhenAsync(_endpoint, "bus.messages.completed", 1).WaitAsync(TimeSpan.FromSeconds(30));
        var status = await other.GetRequiredService<IJobStatusQuery>().GetAsync("encode-intro");

        Assert.IsType(StoreType, other.GetRequiredService<IJobStatusStore>());
        Assert.NotNull(status);
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal("conformance.reporting-job", status.MessageType);
        Assert.Equal((2, 2, 1), (status.Done, status.Total, status.Attempt));
        Assert.Equal(new ReportedResult("store://out/intro.mp4", 1200), status.ResultAs<ReportedResult>());
        Assert.Empty(await other.GetRequiredService<IJobStatusQuery>().RunningAsync());
    }
}
