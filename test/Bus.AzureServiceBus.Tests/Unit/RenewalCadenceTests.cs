using System.Reflection;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;
using NSubstitute;

namespace Bus.AzureServiceBus.Tests.Unit;

/// <summary>
/// A bus endpoint over a substituted <see cref="ServiceBusClient"/> whose receiver hands out one message with a 10 s lock:
/// while the handler runs 30 s, <c>RenewMessageLockAsync</c> is called for that message every half lock duration, then
/// <c>CompleteMessageAsync</c> once, and nothing else settles it. All on the manual clock.
/// </summary>
public sealed class RenewalCadenceTests : IAsyncDisposable
{
    private static readonly TimeSpan LockDuration = TimeSpan.FromSeconds(10);
    private static readonly PropertyInfo LockedUntil = typeof(ServiceBusReceivedMessage).GetProperty(nameof(ServiceBusReceivedMessage.LockedUntil))!;

    private readonly ManualTimeProvider _time = new();
    private readonly TimeDriver _driver;
    private readonly BusProbe _probe = new();
    private readonly ServiceBusClient _client = Substitute.For<ServiceBusClient>();
    private readonly ServiceBusReceiver _receiver = Substitute.For<ServiceBusReceiver>();
    private readonly ServiceBusSender _sender = Substitute.For<ServiceBusSender>();
    private readonly List<DateTimeOffset> _renewals = [];
    private TestEndpoint? _endpoint;

    public RenewalCadenceTests()
    {
        _driver = new TimeDriver(_time, TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (_endpoint is not null)
        {
            await _driver.AwaitAsync(_endpoint.StopAsync());
            await _endpoint.DisposeAsync();
        }

        _probe.Dispose();
    }

    [Fact]
    public async Task Renewals_come_every_half_lock_duration_and_the_message_is_completed_once()
    {
        var name = $"cadence-{Guid.NewGuid():N}"[..20];
        var fake = new FakeServiceBus(_time);
        var message = ServiceBusModelFactory.ServiceBusReceivedMessage(
            body: BinaryData.FromString("{\"Test\":\"t\",\"Id\":\"slow\"}"),
            messageId: "m-1",
            properties: new Dictionary<string, object>
            {
                [MessageHeaders.MessageId] = "m-1",
                [MessageHeaders.MessageType] = "conformance.do-work",
                [MessageHeaders.MessageVersion] = "1",
                [MessageHeaders.ContentType] = "application/json",
            },
            lockTokenGuid: Guid.NewGuid(),
            deliveryCount: 1,
            lockedUntil: _time.GetUtcNow() + LockDuration,
            sequenceNumber: 1,
            enqueuedTime: _time.GetUtcNow());
        var handedOut = 0;
        var receivedAt = DateTimeOffset.MinValue;
        _client.CreateReceiver(Arg.Any<string>(), Arg.Any<ServiceBusReceiverOptions>()).Returns(_receiver);
        _client.CreateSender(Arg.Any<string>()).Returns(_sender);
        _receiver.ReceiveMessagesAsync(Arg.Any<int>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>()).Returns(call =>
            Interlocked.Exchange(ref handedOut, 1) == 0
                ? HandOut(message, out receivedAt)
                : NothingAsync(call.ArgAt<TimeSpan?>(1)!.Value, call.ArgAt<CancellationToken>(2)));
        _receiver.RenewMessageLockAsync(message, Arg.Any<CancellationToken>()).Returns(_ =>
        {
            lock (_renewals)
            {
                _renewals.Add(_time.GetUtcNow());
            }

            LockedUntil.SetValue(message, _time.GetUtcNow() + LockDuration); // what the SDK does with the broker's answer
            return Task.CompletedTask;
        });
        var completed = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);
        _receiver.CompleteMessageAsync(message, Arg.Any<CancellationToken>()).Returns(_ =>
        {
            completed.TrySetResult(_time.GetUtcNow());
            return Task.CompletedTask;
        });

        _endpoint = await TestEndpoint.StartAsync(name, _time, services =>
        {
            services.AddSingleton(_client);
            services.AddSingleton<ServiceBusAdministrationClient>(new FakeServiceBusAdministrationClient(fake));
        }, bus =>
        {
            bus.AllowInMemoryStores = true; // one host, no steps or workflows
            bus.UseAzureServiceBus(o => (o.LockDuration, o.ReceiveTimeout) = (LockDuration, TimeSpan.FromSeconds(1)));
            bus.AddHandler<SlowHandler>();
        });
        var done = await _driver.AwaitAsync(completed.Task);

        Assert.True(done - receivedAt >= SlowHandler.Runtime, $"completed {done - receivedAt} after the receive");
        List<DateTimeOffset> renewals;
        lock (_renewals)
        {
            renewals = [.. _renewals];
        }

        Assert.InRange(renewals.Count, 5, 7);
        Assert.InRange(renewals[0] - receivedAt, TimeSpan.Zero, LockDuration / 2 + TimeSpan.FromSeconds(0.5)); // counted from the lock
        Assert.InRange(done - renewals[^1], TimeSpan.Zero, LockDuration / 2 + TimeSpan.FromSeconds(0.5)); // the lock never ran out
        var gaps = renewals.Zip(renewals.Skip(1), (before, after) => after - before).ToList();
        Assert.All(gaps, gap => Assert.InRange(gap, LockDuration / 2 - TimeSpan.FromSeconds(1), LockDuration / 2 + TimeSpan.FromSeconds(0.5)));
        await _receiver.Received(1).CompleteMessageAsync(message, Arg.Any<CancellationToken>());
        await _receiver.DidNotReceiveWithAnyArgs().AbandonMessageAsync(default!, default, default);
        await _receiver.DidNotReceiveWithAnyArgs().DeadLetterMessageAsync(default!, default(IDictionary<string, object>)!, default!, default, default);
    }

    private Task<IReadOnlyList<ServiceBusReceivedMessage>> HandOut(ServiceBusReceivedMessage message, out DateTimeOffset at)
    {
        at = _time.GetUtcNow();
        return Task.FromResult<IReadOnlyList<ServiceBusReceivedMessage>>([message]);
    }

    private async Task<IReadOnlyList<ServiceBusReceivedMessage>> NothingAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        await Task.Delay(wait, _time, cancellationToken);
        return [];
    }

    /// <summary>Waits <see cref="Runtime"/> on the clock.</summary>
    private sealed class SlowHandler(TimeProvider time) : IHandleMessages<DoWork>
    {
        public static readonly TimeSpan Runtime = TimeSpan.FromSeconds(30);

        public Task HandleAsync(DoWork message, IMessageContext context) => Task.Delay(Runtime, time, context.CancellationToken);
    }
}
