using Azure;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;

namespace Bus.AzureServiceBus.Tests.Fake;

/// <summary>A <see cref="ServiceBusClient"/> over a <see cref="FakeServiceBus"/>, through the SDK's protected constructor.</summary>
public sealed class FakeServiceBusClient(FakeServiceBus broker) : ServiceBusClient
{
    private bool _closed;

    public override string FullyQualifiedNamespace => FakeServiceBus.Namespace;

    public override bool IsClosed => _closed;

    public override ServiceBusSender CreateSender(string queueOrTopicName) => new FakeServiceBusSender(broker, queueOrTopicName);

    public override ServiceBusSender CreateSender(string queueOrTopicName, ServiceBusSenderOptions options) => CreateSender(queueOrTopicName);

    public override ServiceBusReceiver CreateReceiver(string queueName) => CreateReceiver(queueName, new ServiceBusReceiverOptions());

    public override ServiceBusReceiver CreateReceiver(string queueName, ServiceBusReceiverOptions options)
    {
        var receiver = new FakeServiceBusReceiver(broker, queueName, options);
        lock (Receivers)
        {
            Receivers.Add(receiver);
        }

        return receiver;
    }

    /// <summary>The receivers made so far.</summary>
    public List<FakeServiceBusReceiver> Receivers { get; } = [];

    public override ValueTask DisposeAsync()
    {
        _closed = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>A sender over a <see cref="FakeServiceBus"/>.</summary>
public sealed class FakeServiceBusSender(FakeServiceBus broker, string entity) : ServiceBusSender
{
    public override string EntityPath => entity;

    public override string FullyQualifiedNamespace => FakeServiceBus.Namespace;

    public override Task SendMessageAsync(ServiceBusMessage message, CancellationToken cancellationToken = default)
    {
        broker.Send(entity, [message]);
        return Task.CompletedTask;
    }

    public override Task SendMessagesAsync(IEnumerable<ServiceBusMessage> messages, CancellationToken cancellationToken = default)
    {
        broker.Send(entity, messages.ToList());
        return Task.CompletedTask;
    }

    public override Task CloseAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A peek-lock receiver over a <see cref="FakeServiceBus"/> queue or its dead-letter sub-queue.</summary>
public sealed class FakeServiceBusReceiver(FakeServiceBus broker, string queue, ServiceBusReceiverOptions options) : ServiceBusReceiver
{
    private readonly bool _deadLetters = options.SubQueue == SubQueue.DeadLetter;

    public override string EntityPath => _deadLetters ? queue + "/$DeadLetterQueue" : queue;

    public override string FullyQualifiedNamespace => FakeServiceBus.Namespace;

    public override int PrefetchCount => options.PrefetchCount;

    public override ServiceBusReceiveMode ReceiveMode => options.ReceiveMode;

    public override Task<IReadOnlyList<ServiceBusReceivedMessage>> ReceiveMessagesAsync(
        int maxMessages, TimeSpan? maxWaitTime = null, CancellationToken cancellationToken = default) =>
        broker.ReceiveAsync(queue, _deadLetters, maxMessages, maxWaitTime, cancellationToken);

    public override async Task<ServiceBusReceivedMessage?> ReceiveMessageAsync(TimeSpan? maxWaitTime = null, CancellationToken cancellationToken = default) =>
        (await ReceiveMessagesAsync(1, maxWaitTime, cancellationToken)).FirstOrDefault();

    public override Task<IReadOnlyList<ServiceBusReceivedMessage>> PeekMessagesAsync(
        int maxMessages, long? fromSequenceNumber = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(broker.Peek(queue, _deadLetters, maxMessages, fromSequenceNumber ?? 0));

    public override Task CompleteMessageAsync(ServiceBusReceivedMessage message, CancellationToken cancellationToken = default)
    {
        broker.Complete(queue, _deadLetters, message);
        return Task.CompletedTask;
    }

    public override Task AbandonMessageAsync(
        ServiceBusReceivedMessage message, IDictionary<string, object>? propertiesToModify = null, CancellationToken cancellationToken = default)
    {
        broker.Abandon(queue, _deadLetters, message, propertiesToModify);
        return Task.CompletedTask;
    }

    public override Task DeadLetterMessageAsync(
        ServiceBusReceivedMessage message, IDictionary<string, object> propertiesToModify, string deadLetterReason,
        string? deadLetterErrorDescription = null, CancellationToken cancellationToken = default)
    {
        broker.DeadLetter(queue, _deadLetters, message, propertiesToModify, deadLetterReason, deadLetterErrorDescription);
        return Task.CompletedTask;
    }

    public override Task DeadLetterMessageAsync(
        ServiceBusReceivedMessage message, string deadLetterReason, string? deadLetterErrorDescription = null, CancellationToken cancellationToken = default)
    {
        broker.DeadLetter(queue, _deadLetters, message, null, deadLetterReason, deadLetterErrorDescription);
        return Task.CompletedTask;
    }

    public override Task DeadLetterMessageAsync(
        ServiceBusReceivedMessage message, IDictionary<string, object>? propertiesToModify = null, CancellationToken cancellationToken = default)
    {
        broker.DeadLetter(queue, _deadLetters, message, propertiesToModify, null, null);
        return Task.CompletedTask;
    }

    public override Task RenewMessageLockAsync(ServiceBusReceivedMessage message, CancellationToken cancellationToken = default)
    {
        broker.Renew(queue, _deadLetters, message);
        return Task.CompletedTask;
    }

    public override Task CloseAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>An administration client over a <see cref="FakeServiceBus"/>.</summary>
public sealed class FakeServiceBusAdministrationClient(FakeServiceBus broker) : ServiceBusAdministrationClient
{
    public override Task<Response<NamespaceProperties>> GetNamespacePropertiesAsync(CancellationToken cancellationToken = default) =>
        Ok(ServiceBusModelFactory.NamespaceProperties("fake", DateTimeOffset.MinValue, DateTimeOffset.MinValue, broker.Sku, 1, null));

    public override Task<Response<QueueProperties>> GetQueueAsync(string name, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.GetQueue(name)));

    public override Task<Response<QueueRuntimeProperties>> GetQueueRuntimePropertiesAsync(string name, CancellationToken cancellationToken = default)
    {
        var (active, scheduled, dead) = broker.Counts(name);
        return Ok(ServiceBusModelFactory.QueueRuntimeProperties(
            name, active, scheduled, dead, 0, 0, active + scheduled + dead, 0, DateTimeOffset.MinValue, DateTimeOffset.MinValue, DateTimeOffset.MinValue));
    }

    public override AsyncPageable<QueueProperties> GetQueuesAsync(CancellationToken cancellationToken = default) =>
        AsyncPageable<QueueProperties>.FromPages([Page<QueueProperties>.FromValues([.. broker.Queues().Select(ToProperties)], null, null!)]);

    public override Task<Response<QueueProperties>> CreateQueueAsync(CreateQueueOptions options, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.CreateQueue(new FakeServiceBus.QueueSettings(
            options.Name, options.LockDuration, options.MaxDeliveryCount, options.MaxSizeInMegabytes, options.MaxMessageSizeInKilobytes,
            options.RequiresDuplicateDetection, options.DuplicateDetectionHistoryTimeWindow, options.RequiresSession, options.ForwardTo))));

    public override Task<Response<QueueProperties>> CreateQueueAsync(string name, CancellationToken cancellationToken = default) =>
        CreateQueueAsync(new CreateQueueOptions(name), cancellationToken);

    public override Task<Response<QueueProperties>> UpdateQueueAsync(QueueProperties queue, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.UpdateQueue(new FakeServiceBus.QueueSettings(
            queue.Name, queue.LockDuration, queue.MaxDeliveryCount, queue.MaxSizeInMegabytes, queue.MaxMessageSizeInKilobytes,
            queue.RequiresDuplicateDetection, queue.DuplicateDetectionHistoryTimeWindow, queue.RequiresSession, queue.ForwardTo))));

    public override Task<Response> DeleteQueueAsync(string name, CancellationToken cancellationToken = default)
    {
        broker.DeleteQueue(name);
        return Task.FromResult<Response>(null!);
    }

    public override Task<Response<TopicProperties>> GetTopicAsync(string name, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.GetTopic(name)));

    public override Task<Response<TopicProperties>> CreateTopicAsync(CreateTopicOptions options, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.CreateTopic(new FakeServiceBus.TopicSettings(options.Name, options.MaxSizeInMegabytes, options.MaxMessageSizeInKilobytes))));

    public override Task<Response<SubscriptionProperties>> GetSubscriptionAsync(string topicName, string subscriptionName, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.GetSubscription(topicName, subscriptionName)));

    public override AsyncPageable<SubscriptionProperties> GetSubscriptionsAsync(string topicName, CancellationToken cancellationToken = default) =>
        AsyncPageable<SubscriptionProperties>.FromPages([Page<SubscriptionProperties>.FromValues([.. broker.SubscriptionsOf(topicName).Select(ToProperties)], null, null!)]);

    public override Task<Response<SubscriptionProperties>> CreateSubscriptionAsync(CreateSubscriptionOptions options, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.CreateSubscription(new FakeServiceBus.SubscriptionSettings(
            options.TopicName, options.SubscriptionName, options.LockDuration, options.MaxDeliveryCount, options.ForwardTo, options.RequiresSession), update: false)));

    public override Task<Response<SubscriptionProperties>> UpdateSubscriptionAsync(SubscriptionProperties subscription, CancellationToken cancellationToken = default) =>
        Ok(ToProperties(broker.CreateSubscription(new FakeServiceBus.SubscriptionSettings(
            subscription.TopicName, subscription.SubscriptionName, subscription.LockDuration, subscription.MaxDeliveryCount, subscription.ForwardTo,
            subscription.RequiresSession), update: true)));

    private static QueueProperties ToProperties(FakeServiceBus.QueueSettings s) => ServiceBusModelFactory.QueueProperties(
        s.Name, s.LockDuration, s.MaxSizeInMegabytes, s.RequiresDuplicateDetection, s.RequiresSession, TimeSpan.MaxValue, TimeSpan.MaxValue, true,
        s.DuplicateDetectionHistoryTimeWindow, s.MaxDeliveryCount, true, EntityStatus.Active, s.ForwardTo, null, "", false,
        s.MaxMessageSizeInKilobytes ?? 256);

    private static TopicProperties ToProperties(FakeServiceBus.TopicSettings s) => ServiceBusModelFactory.TopicProperties(
        s.Name, s.MaxSizeInMegabytes, false, TimeSpan.MaxValue, TimeSpan.MaxValue, TimeSpan.FromMinutes(10), true, EntityStatus.Active, false,
        s.MaxMessageSizeInKilobytes ?? 256);

    private static SubscriptionProperties ToProperties(FakeServiceBus.SubscriptionSettings s) => ServiceBusModelFactory.SubscriptionProperties(
        s.Topic, s.Name, s.LockDuration, s.RequiresSession, TimeSpan.MaxValue, TimeSpan.MaxValue, true, s.MaxDeliveryCount, true, EntityStatus.Active,
        s.ForwardTo, null, "");

    private static Task<Response<T>> Ok<T>(T value) => Task.FromResult(Response.FromValue(value, null!));
}
