using System.Transactions;
using Azure.Messaging.ServiceBus;
using Bus.AzureServiceBus.Receiving;
using Bus.Testing;
using Bus.Transports;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace Bus.AzureServiceBus.Tests.Unit;

/// <summary>The exact SDK calls a delivery makes, pinned with substitutes of <see cref="ServiceBusReceiver"/> and
/// <see cref="ServiceBusSender"/>.</summary>
public sealed class ServiceBusDeliveryTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly ServiceBusReceiver _receiver = Substitute.For<ServiceBusReceiver>();
    private readonly ServiceBusSender _sender = Substitute.For<ServiceBusSender>();

    [Fact]
    public async Task Dead_letter_is_native_with_the_reason_the_description_and_the_failure_properties()
    {
        var received = Received();
        var delivery = Delivery(received);
        var failure = FailureDetails.From("Attempts exhausted (3 of 3)", new InvalidOperationException("boom"), 3, "orders", _time.GetUtcNow());

        await delivery.DeadLetterAsync(failure, default);

        await _receiver.Received(1).DeadLetterMessageAsync(
            received,
            Arg.Is<IDictionary<string, object>>(p =>
                !p.ContainsKey(MessageHeaders.FailureReason) && // the reason is the native one (the second argument)
                (string)p[MessageHeaders.FailureExceptionType] == typeof(InvalidOperationException).FullName &&
                (string)p[MessageHeaders.FailureExceptionMessage] == "boom" &&
                ((string)p[MessageHeaders.FailureStackTrace]).Contains("boom", StringComparison.Ordinal) &&
                (string)p[MessageHeaders.FailureAttempts] == "3" &&
                (string)p[MessageHeaders.FailureSourceQueue] == "orders"),
            "Attempts exhausted (3 of 3)",
            "System.InvalidOperationException: boom",
            Arg.Any<CancellationToken>());
        await _sender.DidNotReceiveWithAnyArgs().SendMessageAsync(default!, default);
        await _receiver.DidNotReceiveWithAnyArgs().CompleteMessageAsync(default!, default);
    }

    [Fact]
    public async Task Delayed_retry_sends_a_scheduled_copy_and_completes_the_original_in_one_transaction()
    {
        var received = Received(deliveryCount: 2);
        var delivery = Delivery(received);
        string? sendTransaction = null;
        string? completeTransaction = null;
        ServiceBusMessage? copy = null;
        _sender.SendMessageAsync(Arg.Do<ServiceBusMessage>(m => copy = m), Arg.Any<CancellationToken>())
            .Returns(_ =>
            {
                sendTransaction = Transaction.Current?.TransactionInformation.LocalIdentifier;
                return Task.CompletedTask;
            });
        _receiver.CompleteMessageAsync(received, Arg.Any<CancellationToken>())
            .Returns(_ =>
            {
                completeTransaction = Transaction.Current?.TransactionInformation.LocalIdentifier;
                return Task.CompletedTask;
            });

        await delivery.AbandonAsync(TimeSpan.FromMinutes(5), default);

        Assert.NotNull(sendTransaction);
        Assert.Equal(sendTransaction, completeTransaction);
        Assert.Null(Transaction.Current);
        Assert.NotNull(copy);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMinutes(5), copy.ScheduledEnqueueTime);
        Assert.NotEqual(received.MessageId, copy.MessageId); // a new broker id: duplicate detection keeps the copy
        Assert.Equal("bus-id-1", copy.ApplicationProperties[MessageHeaders.MessageId]); // the bus id rides along
        Assert.Equal("2", copy.ApplicationProperties[MessageHeaders.PriorAttempts]); // the next delivery is attempt 3
        NSubstitute.Received.InOrder(() =>
        {
            _sender.SendMessageAsync(Arg.Any<ServiceBusMessage>(), Arg.Any<CancellationToken>());
            _receiver.CompleteMessageAsync(received, Arg.Any<CancellationToken>());
        });
        await _receiver.DidNotReceiveWithAnyArgs().AbandonMessageAsync(default!, default, default);
    }

    [Fact]
    public async Task Release_sends_a_copy_that_does_not_count_the_attempt()
    {
        var received = Received(deliveryCount: 1);
        ServiceBusMessage? copy = null;
        _sender.SendMessageAsync(Arg.Do<ServiceBusMessage>(m => copy = m), Arg.Any<CancellationToken>()).Returns(Task.CompletedTask);

        await Delivery(received).ReleaseAsync(TimeSpan.Zero, default);

        Assert.NotNull(copy);
        Assert.False(copy.ApplicationProperties.ContainsKey(MessageHeaders.PriorAttempts));
        Assert.Equal(default, copy.ScheduledEnqueueTime);
        await _receiver.Received(1).CompleteMessageAsync(received, Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task A_failed_complete_rolls_the_copy_back_with_the_transaction()
    {
        var received = Received();
        TransactionStatus? outcome = null;
        _sender.SendMessageAsync(Arg.Any<ServiceBusMessage>(), Arg.Any<CancellationToken>()).Returns(_ =>
        {
            Transaction.Current!.TransactionCompleted += (_, e) => outcome = e.Transaction!.TransactionInformation.Status;
            return Task.CompletedTask;
        });
        _receiver.CompleteMessageAsync(received, Arg.Any<CancellationToken>())
            .ThrowsAsync(new ServiceBusException("lock lost", ServiceBusFailureReason.MessageLockLost));

        await Assert.ThrowsAsync<LeaseLostException>(() => Delivery(received).AbandonAsync(TimeSpan.FromSeconds(30), default));

        Assert.Equal(TransactionStatus.Aborted, outcome);
    }

    [Fact]
    public async Task Immediate_retry_abandons()
    {
        var received = Received();

        await Delivery(received).AbandonAsync(TimeSpan.Zero, default);

        await _receiver.Received(1).AbandonMessageAsync(received, null, Arg.Any<CancellationToken>());
        await _sender.DidNotReceiveWithAnyArgs().SendMessageAsync(default!, default);
    }

    [Fact]
    public async Task Renewal_calls_RenewMessageLockAsync_and_reports_the_lock_until_of_the_message()
    {
        var received = Received();

        var until = await Delivery(received).RenewLeaseAsync(TimeSpan.FromMinutes(1), default);

        await _receiver.Received(1).RenewMessageLockAsync(received, Arg.Any<CancellationToken>());
        Assert.Equal(received.LockedUntil, until);
    }

    [Fact]
    public async Task After_a_lost_lock_nothing_settles_the_message()
    {
        var received = Received();
        var delivery = Delivery(received);
        _receiver.RenewMessageLockAsync(received, Arg.Any<CancellationToken>())
            .ThrowsAsync(new ServiceBusException("lock lost", ServiceBusFailureReason.MessageLockLost));

        await Assert.ThrowsAsync<LeaseLostException>(() => delivery.RenewLeaseAsync(TimeSpan.FromMinutes(1), default));
        await Assert.ThrowsAsync<LeaseLostException>(() => delivery.CompleteAsync(default));
        await Assert.ThrowsAsync<LeaseLostException>(() => delivery.DeadLetterAsync(FailureDetails.From("x", null, 1, "orders", _time.GetUtcNow()), default));
        await Assert.ThrowsAsync<LeaseLostException>(() => delivery.AbandonAsync(TimeSpan.FromSeconds(5), default));

        await _receiver.DidNotReceiveWithAnyArgs().CompleteMessageAsync(default!, default);
        await _receiver.DidNotReceiveWithAnyArgs().DeadLetterMessageAsync(default!, default(IDictionary<string, object>)!, default!, default, default);
        await _receiver.DidNotReceiveWithAnyArgs().AbandonMessageAsync(default!, default, default);
        await _sender.DidNotReceiveWithAnyArgs().SendMessageAsync(default!, default);
    }

    [Fact]
    public async Task A_lock_lost_on_complete_is_a_lost_lease_and_a_message_is_settled_once()
    {
        var received = Received();
        var delivery = Delivery(received);

        await delivery.CompleteAsync(default);
        await Assert.ThrowsAsync<InvalidOperationException>(() => delivery.CompleteAsync(default));

        await _receiver.Received(1).CompleteMessageAsync(received, Arg.Any<CancellationToken>());

        var other = Received();
        _receiver.CompleteMessageAsync(other, Arg.Any<CancellationToken>())
            .ThrowsAsync(new ServiceBusException("lock lost", ServiceBusFailureReason.MessageLockLost));
        var lost = Delivery(other);
        await Assert.ThrowsAsync<LeaseLostException>(() => lost.CompleteAsync(default));
        await Assert.ThrowsAsync<LeaseLostException>(() => lost.AbandonAsync(TimeSpan.Zero, default));
        await _receiver.DidNotReceiveWithAnyArgs().AbandonMessageAsync(default!, default, default);
    }

    [Fact]
    public async Task Without_transactions_the_copy_is_sent_before_the_original_is_completed()
    {
        var received = Received();
        var delivery = new ServiceBusDelivery(_receiver, _sender, received, "orders", _time, transactions: false, 256 * 1024);
        string? transaction = "unset";
        _sender.SendMessageAsync(Arg.Any<ServiceBusMessage>(), Arg.Any<CancellationToken>()).Returns(_ =>
        {
            transaction = Transaction.Current?.TransactionInformation.LocalIdentifier;
            return Task.CompletedTask;
        });

        await delivery.ReleaseAsync(TimeSpan.FromMinutes(1), default);

        Assert.Null(transaction);
        NSubstitute.Received.InOrder(() =>
        {
            _sender.SendMessageAsync(Arg.Any<ServiceBusMessage>(), Arg.Any<CancellationToken>());
            _receiver.CompleteMessageAsync(received, Arg.Any<CancellationToken>());
        });
    }

    private ServiceBusDelivery Delivery(ServiceBusReceivedMessage received) =>
        new(_receiver, _sender, received, "orders", _time, transactions: true, 256 * 1024);

    private ServiceBusReceivedMessage Received(int deliveryCount = 1) => ServiceBusModelFactory.ServiceBusReceivedMessage(
        body: BinaryData.FromString("{}"),
        messageId: "bus-id-1",
        properties: new Dictionary<string, object> { [MessageHeaders.MessageId] = "bus-id-1", ["tenant"] = "t-1" },
        lockTokenGuid: Guid.NewGuid(),
        deliveryCount: deliveryCount,
        lockedUntil: _time.GetUtcNow() + TimeSpan.FromMinutes(1),
        sequenceNumber: 7,
        enqueuedTime: _time.GetUtcNow());
}
