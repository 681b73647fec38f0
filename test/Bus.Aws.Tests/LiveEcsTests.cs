using Bus.Aws.Ecs;
using Bus.Workflows.ContainerTasks;

namespace Bus.Aws.Tests;

/// <summary>Against a real ECS cluster: only with BUS_SQS_LIVE=1, credentials, and BUS_ECS_CLUSTER and
/// BUS_ECS_TASK_DEFINITION (a task definition that runs on it; BUS_ECS_SUBNETS for Fargate).</summary>
public sealed class LiveEcsTests
{
    [SkippableFact]
    public async Task RunTask_with_the_same_client_token_starts_one_task()
    {
        Skip.If(Environment.GetEnvironmentVariable("BUS_SQS_LIVE") != "1", "Live AWS tests run only with BUS_SQS_LIVE=1 (and AWS credentials and region in the environment).");
        var cluster = Environment.GetEnvironmentVariable("BUS_ECS_CLUSTER");
        var taskDefinition = Environment.GetEnvironmentVariable("BUS_ECS_TASK_DEFINITION");
        Skip.If(string.IsNullOrEmpty(cluster) || string.IsNullOrEmpty(taskDefinition),
            "BUS_SQS_LIVE=1 but no ECS cluster is named: set BUS_ECS_CLUSTER and BUS_ECS_TASK_DEFINITION (and BUS_ECS_SUBNETS for Fargate).");

        var options = new EcsTaskLauncherOptions { Cluster = cluster };
        foreach (var subnet in (Environment.GetEnvironmentVariable("BUS_ECS_SUBNETS") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            options.Subnets.Add(subnet);
            options.LaunchType = "FARGATE";
        }

        var launcher = new EcsTaskLauncher(options);
        var request = new ContainerTaskRequest { TaskDefinition = taskDefinition!, StartedBy = $"bus-live-{Guid.NewGuid():N}"[..30], IdempotencyToken = Guid.NewGuid().ToString() };

        var first = await launcher.LaunchAsync(request, default);
        var second = await launcher.LaunchAsync(request, default);

        Assert.StartsWith("arn:aws:ecs:", first, StringComparison.Ordinal);
        Assert.Equal(first, second);
    }
}
