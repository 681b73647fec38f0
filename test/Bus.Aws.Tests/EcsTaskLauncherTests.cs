using System.Net;
using System.Text.Json;
using Amazon.Runtime;
using Bus.Aws.Ecs;
using Bus.Aws.Http;
using Bus.Workflows.ContainerTasks;

namespace Bus.Aws.Tests;

/// <summary>ECS RunTask as the API reference shapes it (request members in camelCase, JSON 1.1, target
/// AmazonEC2ContainerServiceV20141113.RunTask; response <c>tasks[].taskArn</c> and <c>failures[].arn/reason/detail</c>).</summary>
public sealed class EcsTaskLauncherTests
{
    private readonly FakeAws _aws = new();

    private EcsTaskLauncher Launcher(Action<EcsTaskLauncherOptions>? configure = null)
    {
        var options = new EcsTaskLauncherOptions
        {
            Region = "eu-west-1",
            Credentials = new BasicAWSCredentials("AKIDEXAMPLE", "secret"),
            HttpHandler = _aws,
            MaxErrorRetry = 1,
            Cluster = "encoding",
        };
        configure?.Invoke(options);
        return new EcsTaskLauncher(options);
    }

    private static ContainerTaskRequest Request() => new()
    {
        TaskDefinition = "encode-video:7",
        StartedBy = "video-42",
        ContainerName = "encoder",
        Command = ["encode", "--id", "video-42"],
        Environment = new Dictionary<string, string> { ["ATTEMPT"] = "2" },
        IdempotencyToken = "0193a6c4-5b7e-7000-8000-000000000001-run-2",
    };

    [Fact]
    public async Task RunTask_carries_startedBy_clientToken_cluster_network_and_a_container_override()
    {
        _aws.Answer("AmazonEC2ContainerServiceV20141113.RunTask", """{"tasks":[{"taskArn":"arn:aws:ecs:eu-west-1:111122223333:task/encoding/abc","lastStatus":"PROVISIONING"}],"failures":[]}""");
        var launcher = Launcher(o =>
        {
            o.LaunchType = "FARGATE";
            o.Subnets.Add("subnet-1");
            o.SecurityGroups.Add("sg-1");
            o.Group = "bus:video";
        });

        var taskArn = await launcher.LaunchAsync(Request(), default);

        Assert.Equal("arn:aws:ecs:eu-west-1:111122223333:task/encoding/abc", taskArn);
        var call = Assert.Single(_aws.Requests);
        Assert.Equal("application/x-amz-json-1.1", call.ContentType);
        Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", call.Authorization, StringComparison.Ordinal);
        Assert.Contains("/eu-west-1/ecs/aws4_request", call.Authorization, StringComparison.Ordinal);
        var body = call.Body;
        Assert.Equal("encode-video:7", body.GetProperty("taskDefinition").GetString());
        Assert.Equal("encoding", body.GetProperty("cluster").GetString());
        Assert.Equal(1, body.GetProperty("count").GetInt32());
        Assert.Equal("video-42", body.GetProperty("startedBy").GetString());
        Assert.Equal("0193a6c4-5b7e-7000-8000-000000000001-run-2", body.GetProperty("clientToken").GetString());
        Assert.Equal("FARGATE", body.GetProperty("launchType").GetString());
        Assert.Equal("bus:video", body.GetProperty("group").GetString());
        var vpc = body.GetProperty("networkConfiguration").GetProperty("awsvpcConfiguration");
        Assert.Equal(["subnet-1"], vpc.GetProperty("subnets").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(["sg-1"], vpc.GetProperty("securityGroups").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal("DISABLED", vpc.GetProperty("assignPublicIp").GetString());
        var container = Assert.Single(body.GetProperty("overrides").GetProperty("containerOverrides").EnumerateArray());
        Assert.Equal("encoder", container.GetProperty("name").GetString());
        Assert.Equal(["encode", "--id", "video-42"], container.GetProperty("command").EnumerateArray().Select(s => s.GetString()));
        var variable = Assert.Single(container.GetProperty("environment").EnumerateArray());
        Assert.Equal("ATTEMPT", variable.GetProperty("name").GetString());
        Assert.Equal("2", variable.GetProperty("value").GetString());
    }

    [Fact]
    public async Task RunTask_failures_become_a_launch_exception_with_the_reasons()
    {
        _aws.Answer("AmazonEC2ContainerServiceV20141113.RunTask",
            """{"tasks":[],"failures":[{"arn":"arn:aws:ecs:eu-west-1:111122223333:container-instance/x","reason":"RESOURCE:MEMORY","detail":"not enough memory"}]}""");

        var error = await Assert.ThrowsAsync<ContainerTaskLaunchException>(() => Launcher().LaunchAsync(Request(), default));

        Assert.Equal("ECS RunTask of 'encode-video:7' started no task: RESOURCE:MEMORY (not enough memory)", error.Message);
    }

    [Fact]
    public async Task An_error_response_is_an_AwsServiceException_with_the_code_and_throttling_is_retried()
    {
        _aws.Answer("AmazonEC2ContainerServiceV20141113.RunTask", """{"__type":"ThrottlingException","message":"Rate exceeded"}""", HttpStatusCode.BadRequest)
            .Answer("AmazonEC2ContainerServiceV20141113.RunTask", """{"__type":"com.amazonaws.ecs#ClientException","message":"Task definition does not exist."}""", HttpStatusCode.BadRequest);

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => Launcher().LaunchAsync(Request(), default));

        Assert.Equal("ClientException", error.ErrorCode);
        Assert.Equal(400, error.StatusCode);
        Assert.Equal(2, _aws.Requests.Count);
    }

    [Fact]
    public void Overrides_without_a_container_name_are_refused_with_what_to_do()
    {
        var error = Assert.Throws<ArgumentException>(() => Launcher().RunTaskRequest(Request() with { ContainerName = null }));
        Assert.Contains("set ContainerTaskRequest.ContainerName", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_without_overrides_or_token_sends_neither()
    {
        var body = JsonDocument.Parse(Launcher().RunTaskRequest(new ContainerTaskRequest { TaskDefinition = "job", StartedBy = "k" }).ToJsonString()).RootElement;

        Assert.False(body.TryGetProperty("overrides", out _));
        Assert.False(body.TryGetProperty("clientToken", out _));
        Assert.False(body.TryGetProperty("networkConfiguration", out _));
    }
}
