using Bus.Aws.Ecs;
using Xunit;

namespace Bus.Conformance.SystemMessages;

/// <summary>What the ECS "Task State Change" fixture (SystemMessages/Fixtures/ecs-task-state-change.json, the shape of
/// ../shared/fixtures) must read as, wherever it arrives from.</summary>
public static class EcsFixture
{
    /// <summary>Asserts every field of the fixture, envelope and detail.</summary>
    public static void AssertParsed(EcsTaskStateChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        Assert.Equal("3317b2af-7005-47ee-b5a4-9a6e3f1c2b7d", change.Id);
        Assert.Equal("aws.ecs", change.Source);
        Assert.Equal("ECS Task State Change", change.DetailType);
        Assert.Equal("111122223333", change.Account);
        Assert.Equal("eu-west-1", change.Region);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 3, 14, 15, TimeSpan.Zero), change.Time);
        Assert.Equal(["arn:aws:ecs:eu-west-1:111122223333:task/encoding/0c1d2e3f4a5b6c7d8e9f"], change.Resources);
        Assert.Equal("arn:aws:ecs:eu-west-1:111122223333:task/encoding/0c1d2e3f4a5b6c7d8e9f", change.Detail.TaskArn);
        Assert.Equal("arn:aws:ecs:eu-west-1:111122223333:cluster/encoding", change.Detail.ClusterArn);
        Assert.Equal("family:encode-video", change.Detail.Group);
        Assert.Equal("video-42", change.Detail.StartedBy);
        Assert.Equal("FARGATE", change.Detail.LaunchType);
        Assert.Equal("STOPPED", change.Detail.LastStatus);
        Assert.True(change.Detail.IsStopped);
        Assert.Equal("EssentialContainerExited", change.Detail.StopCode);
        Assert.Equal("Essential container in task exited", change.Detail.StoppedReason);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 3, 14, 14, 900, TimeSpan.Zero), change.Detail.StoppedAt);
        Assert.Equal(6, change.Detail.Version);
        var container = Assert.Single(change.Detail.Containers);
        Assert.Equal("encoder", container.Name);
        Assert.Equal(137, container.ExitCode);
        Assert.Equal("OutOfMemoryError: Container killed due to memory usage", container.Reason);
    }
}
