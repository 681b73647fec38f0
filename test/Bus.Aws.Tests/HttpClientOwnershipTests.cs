using Amazon.Runtime;
using Bus.Aws.Ecs;
using Bus.Aws.EventBridge;
using Bus.Workflows.ContainerTasks;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Aws.Tests;

/// <summary>The launcher and the rule provisioner own the HTTP clients they create, and only those: disposing them (or
/// the service provider that built the launcher) disposes the clients, which cancels a call under way, and leaves a
/// handler the options gave to its owner.</summary>
public sealed class HttpClientOwnershipTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static void Configure(EcsTaskLauncherOptions options, HttpMessageHandler handler)
    {
        options.Region = "eu-west-1";
        options.Credentials = new BasicAWSCredentials("AKIDEXAMPLE", "secret");
        options.HttpHandler = handler;
        options.MaxErrorRetry = 0;
    }

    private static ContainerTaskRequest Request() => new() { TaskDefinition = "encode-video:7", StartedBy = "video-42" };

    [Fact]
    public async Task Disposing_the_launcher_disposes_its_http_client_and_not_the_handler_it_was_given()
    {
        var handler = new HangingHandler();
        var options = new EcsTaskLauncherOptions();
        Configure(options, handler);
        var launcher = new EcsTaskLauncher(options);
        var launch = launcher.LaunchAsync(Request(), default);
        await handler.Entered.WaitAsync(Patience);

        launcher.Dispose();

        await handler.Cancelled.WaitAsync(Patience); // the disposed client cancelled the RunTask call under way
        await Assert.ThrowsAnyAsync<Exception>(() => launch);
        Assert.False(handler.IsDisposed);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => launcher.LaunchAsync(Request(), default));
        launcher.Dispose(); // a second time does nothing
    }

    [Fact]
    public async Task The_service_provider_disposes_the_launcher_AddEcsTaskLauncher_registered()
    {
        var handler = new HangingHandler();
        var provider = new ServiceCollection().AddEcsTaskLauncher(o => Configure(o, handler)).BuildServiceProvider();
        var launcher = provider.GetRequiredService<IContainerTaskLauncher>();
        Assert.Same(provider.GetRequiredService<EcsTaskLauncher>(), launcher);
        var launch = launcher.LaunchAsync(Request(), default);
        await handler.Entered.WaitAsync(Patience);

        await provider.DisposeAsync();

        await handler.Cancelled.WaitAsync(Patience);
        await Assert.ThrowsAnyAsync<Exception>(() => launch);
        Assert.False(handler.IsDisposed);
    }

    [Fact]
    public async Task Disposing_the_event_rule_provisioner_disposes_its_http_clients_and_not_the_handler_it_was_given()
    {
        var handler = new HangingHandler();
        var rule = new EcsTaskEventRule(new EcsTaskEventRuleOptions
        {
            Region = "eu-west-1",
            Credentials = new BasicAWSCredentials("AKIDEXAMPLE", "secret"),
            HttpHandler = handler,
            MaxErrorRetry = 0,
            RuleName = "bus-render-tasks",
            QueueUrl = "https://sqs.eu-west-1.amazonaws.com/111122223333/bus-render",
        });
        var ensure = rule.EnsureAsync();
        await handler.Entered.WaitAsync(Patience); // GetQueueAttributes, on the SQS channel

        rule.Dispose();

        await handler.Cancelled.WaitAsync(Patience);
        await Assert.ThrowsAnyAsync<Exception>(() => ensure);
        Assert.False(handler.IsDisposed);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => rule.EnsureAsync()); // a disposed client refuses further calls
        rule.Dispose();
    }

    /// <summary>Holds every request until it is cancelled; remembers whether it was disposed.</summary>
    private sealed class HangingHandler : HttpMessageHandler
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when a request has arrived.</summary>
        public Task Entered => _entered.Task;

        /// <summary>Completes when a request was cancelled.</summary>
        public Task Cancelled => _cancelled.Task;

        public bool IsDisposed { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _entered.TrySetResult();
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                _cancelled.TrySetResult();
                throw;
            }

            throw new InvalidOperationException("unreachable");
        }

        protected override void Dispose(bool disposing)
        {
            IsDisposed = true;
            base.Dispose(disposing);
        }
    }
}
