using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Aws.Http;

namespace Bus.Aws.Ecs;

/// <summary>The ECS operations Bus.Aws uses (AWSSDK.ECS is not a dependency).</summary>
internal interface IEcsApi
{
    /// <summary>ECS RunTask with the request as the API reference shapes it; the response body.</summary>
    Task<JsonElement> RunTaskAsync(JsonObject request, CancellationToken cancellationToken);
}

/// <summary>ECS over its JSON 1.1 protocol (target prefix AmazonEC2ContainerServiceV20141113).</summary>
internal sealed class EcsJsonApi(AwsJsonChannel channel) : IEcsApi
{
    public const string TargetPrefix = "AmazonEC2ContainerServiceV20141113";

    public Task<JsonElement> RunTaskAsync(JsonObject request, CancellationToken cancellationToken) =>
        channel.CallAsync("RunTask", request, cancellationToken);
}
