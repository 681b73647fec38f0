using System.Collections.Concurrent;
using System.Globalization;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.AmazonSqs.Connection;
using Bus.AmazonSqs.DeadLetters;
using Bus.AmazonSqs.Messages;
using Bus.AmazonSqs.Receiving;
using Bus.AmazonSqs.Sending;
using Bus.AmazonSqs.Sqs;
using Bus.AmazonSqs.Topology;
using Bus.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.AmazonSqs;

/// <summary>
/// The Amazon SQS + SNS transport: a queue per endpoint with its own dead-letter queue, an SNS topic per event with
/// raw-delivery subscriptions to the subscribing endpoints' queues, visibility-timeout leases renewed in batches, and
/// dead letters that keep the message's identity. SQS goes through the official AWSSDK.SQS client (<see cref="IAmazonSQS"/>);
/// SNS, whose v4 SDK package is not available, through a small Query client signed with the same AWSSDK.Core
/// credentials.
/// </summary>
public sealed class SqsTransport : ITransport
{
    private const string TransportName = "amazon-sqs";

    private readonly SqsTransportOptions _options;
    private readonly AwsConnection _connection;
    private readonly IAmazonSQS _sqs;
    private readonly SqsTopology _topology;
    private readonly MessageSender _sender;
    private readonly LeaseOperations _leases;
    private readonly SharedRenewals _renewals = new();
    private readonly SqsDeadLetterQueue _deadLetters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Task, bool> _abandonedPolls = new();
    private readonly ConcurrentDictionary<string, PriorityDrain> _drains = new(StringComparer.Ordinal);
    private TransportCapabilities _capabilities;

    /// <summary>Creates the transport.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    /// <param name="timeProvider">The clock for leases; <see cref="TimeProvider.System"/> when null.</param>
    public SqsTransport(SqsTransportOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(options, null, null, loggerFactory, timeProvider)
    {
    }

    /// <summary>Creates the transport as <c>UseAmazonSqs</c> does: an <see cref="IAmazonSQS"/> and <c>AWSOptions</c>
    /// registered in <paramref name="services"/> are used when the options give no client or credentials.</summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="services">Where to look for an <see cref="IAmazonSQS"/> and <c>AWSOptions</c>; none when null.</param>
    /// <param name="retry">The bus's retry policy: <see cref="SqsTransportOptions.MaxReceiveCount"/> must exceed its
    /// attempts and defaults to one more than its receive cap; null when not known.</param>
    /// <param name="loggerFactory">Logging; none when null.</param>
    /// <param name="timeProvider">The clock for leases; <see cref="TimeProvider.System"/> when null.</param>
    public SqsTransport(SqsTransportOptions options, IServiceProvider? services, Recoverability.RetryPolicy? retry, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(options, services, retry, loggerFactory, timeProvider, batchClock: TimeProvider.System)
    {
    }

    /// <summary>Creates the transport with the clock of its batch windows given (tests decide when a window ends).</summary>
    internal SqsTransport(SqsTransportOptions options, IServiceProvider? services, Recoverability.RetryPolicy? retry, ILoggerFactory? loggerFactory, TimeProvider? timeProvider, TimeProvider batchClock)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(requireRegion: false);
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqsTransport>();
        _logger = logger;
        var maxReceiveCount = options.EffectiveMaxReceiveCount(retry?.MaxAttempts, retry?.ReceiveCountCap);
        _connection = AwsConnection.Create(options, services, _time, logger);
        _sqs = _connection.Sqs;
        var sns = _connection.Sns;
        _topology = new SqsTopology(_sqs, sns, new EntityNames(options.QueueNamePrefix), options, maxReceiveCount, logger);
        _sender = new MessageSender(_sqs, sns, _topology, options, _time, logger);
        _leases = new LeaseOperations(_sqs, options.BatchWindow, batchClock, logger);
        _deadLetters = new SqsDeadLetterQueue(_sqs, _topology, _sender, _leases, options, maxReceiveCount, logger);
        Statistics = new Statistics.SqsQueueStatistics(_sqs, _topology, options.QueueNamePrefix, _time);
        _capabilities = BuildCapabilities(options.MaxMessageSize, options.PriorityQueue);
    }

    /// <summary>The SQS client the transport uses (given, found in dependency injection, or built from the options).</summary>
    public IAmazonSQS SqsClient => _sqs;

    /// <inheritdoc />
    /// <remarks><see cref="TransportCapabilities.MaxMessageSize"/> is the configured maximum, lowered to the smallest
    /// MaximumMessageSize of the endpoint queues provisioned so far.</remarks>
    public TransportCapabilities Capabilities
    {
        get
        {
            var limit = Math.Min(_options.MaxMessageSize, _topology.SmallestInputQueueLimit ?? long.MaxValue);
            if (_capabilities.MaxMessageSize != limit)
            {
                _capabilities = BuildCapabilities(limit, _options.PriorityQueue);
            }

            return _capabilities;
        }
    }

    /// <inheritdoc />
    public IDeadLetterQueue DeadLetters => _deadLetters;

    /// <inheritdoc />
    /// <remarks>From the queue attributes (approximate, as SQS counts); the age of the oldest message is null because SQS
    /// serves it only as a CloudWatch metric.</remarks>
    public IQueueStatistics Statistics { get; }

    /// <inheritdoc />
    public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentException.ThrowIfNullOrWhiteSpace(topology.InputQueue);
        return _topology.ProvisionAsync(topology, cancellationToken);
    }

    /// <inheritdoc />
    public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages.Count == 0 ? Task.CompletedTask : _sender.SendAsync(messages, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Cancelling returns at once, but the long poll itself is not aborted: SQS (like fauxqs) would still hand
    /// messages to the dropped request, leaving them invisible for the lease with their receive count raised. The poll
    /// runs to its end in the background and whatever it received is released (as with
    /// <see cref="IReceivedMessage.ReleaseAsync"/>: not counted as an attempt).</remarks>
    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        var info = await _topology.GetQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        var visibility = (int)Math.Clamp(Math.Ceiling(leaseDuration.TotalSeconds), 1, 43_200);
        if (!_options.PriorityQueue)
        {
            return await PollAsync(queue, info, maxMessages, (int)_options.WaitTime.TotalSeconds, visibility, cancellationToken).ConfigureAwait(false);
        }

        // The priority queue first, without waiting, in the ratio (PriorityDrain); else the queue's long poll.
        var priority = await _topology.GetPriorityQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        var drain = _drains.GetOrAdd(queue, _ => new PriorityDrain(_options.PriorityRatio));
        return await drain.ReceiveAsync(
            maxMessages,
            (max, ct) => PollAsync(queue, priority, max, 0, visibility, ct),
            (max, wait, ct) => PollAsync(queue, info, max, wait ? (int)_options.WaitTime.TotalSeconds : 0, visibility, ct),
            cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<IReadOnlyList<IReceivedMessage>> PollAsync(
        string queue, QueueInfo info, int maxMessages, int waitSeconds, int visibility, CancellationToken cancellationToken)
    {
        var requestedAt = _time.GetUtcNow();
        var poll = _sqs.ReceiveAsync(info.Url, maxMessages, waitSeconds, visibility, CancellationToken.None);
        List<Message> messages;
        try
        {
            messages = await poll.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            ReleaseWhenDone(poll, queue, info, requestedAt, visibility);
            throw;
        }
        catch (AmazonSQSException e) when (SqsErrors.IsQueueMissing(e))
        {
            _topology.Forget(info.Name);
            throw;
        }

        return messages.Select(raw => ToReceived(raw, queue, info, requestedAt, visibility)).ToList();
    }

    /// <inheritdoc />
    /// <remarks>Waits for abandoned long polls to end and release what they received (at most the long-poll wait plus
    /// the request timeout), sends the deletes of completed messages that are still being batched, and disposes the
    /// SQS client only when the transport built it.</remarks>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_abandonedPolls.Keys).ConfigureAwait(false);
        await _leases.FlushAsync().ConfigureAwait(false);
        _connection.Dispose();
    }

    private IReceivedMessage ToReceived(Message raw, string queue, QueueInfo info, DateTimeOffset requestedAt, int visibility)
    {
        var (message, count) = AsDelivered(WireFormat.Decode(raw.Body, raw.MessageAttributes, raw.MessageId), raw.Attributes);
        return new SqsReceivedMessage(message, queue, info, raw.ReceiptHandle, count, requestedAt, TimeSpan.FromSeconds(visibility), _leases, _renewals, _sender, _topology, _time);
    }

    /// <summary>
    /// The message as its handlers see it and the attempt this delivery is: the native receive count plus the attempts
    /// of earlier copies (<see cref="MessageHeaders.PriorAttempts"/>, left by a release). A message on an endpoint queue
    /// that carries failure headers is a dead letter moved back by StartMessageMoveTask, which keeps body and
    /// attributes: like a redrive by the mover, it starts afresh, without the failure headers and prior attempts.
    /// </summary>
    internal static (TransportMessage Message, int ReceiveCount) AsDelivered(TransportMessage message, IReadOnlyDictionary<string, string>? systemAttributes)
    {
        var count = systemAttributes is { } a && int.TryParse(a.GetValueOrDefault("ApproximateReceiveCount"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) ? c : 1;
        if (message.Headers.Keys.Any(MessageHeaders.IsFailureHeader))
        {
            return (message.WithoutHeaders(h => MessageHeaders.IsFailureHeader(h) || h == MessageHeaders.PriorAttempts), count);
        }

        if (message.Headers.TryGetValue(MessageHeaders.PriorAttempts, out var prior)
            && int.TryParse(prior, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) && p > 0)
        {
            count += p;
        }

        return (message, count);
    }

    /// <summary>Lets a long poll whose caller gave up run to its end, then releases what it received.</summary>
    private void ReleaseWhenDone(Task<List<Message>> poll, string queue, QueueInfo info, DateTimeOffset requestedAt, int visibility)
    {
        var release = ReleaseAsync(poll, queue, info, requestedAt, visibility);
        _abandonedPolls.TryAdd(release, true);
        _ = release.ContinueWith(t => _abandonedPolls.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ReleaseAsync(Task<List<Message>> poll, string queue, QueueInfo info, DateTimeOffset requestedAt, int visibility)
    {
        List<Message> messages;
        try
        {
            messages = await poll.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "An abandoned receive from {Queue} failed; nothing to release", info.Name);
            return;
        }

        await Task.WhenAll(messages.Select(async raw =>
        {
            var received = ToReceived(raw, queue, info, requestedAt, visibility);
            try
            {
                await received.ReleaseAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                _logger.LogDebug("Released message {MessageId} taken by an abandoned receive from {Queue}", received.Message.MessageId, info.Name);
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Could not release message {MessageId} taken by an abandoned receive from {Queue}; it is delivered again when its visibility timeout ends",
                    received.Message.MessageId, info.Name);
            }
        })).ConfigureAwait(false);
    }

    private static TransportCapabilities BuildCapabilities(long maxMessageSize, bool priorityQueue) => new()
    {
        Name = TransportName,
        CanRenewLease = true,
        MaxLeaseDuration = TimeSpan.FromHours(12),
        MaxTotalLeaseTime = SqsReceivedMessage.MaxTotalVisibility,
        MaxDelay = TimeSpan.FromMinutes(15),
        NativeDeadLetter = true,
        PublishSubscribe = true,
        Redrive = true,
        SharedBetweenHosts = true,
        PriorityOrdering = priorityQueue ? PriorityOrdering.PriorityQueue : PriorityOrdering.None,
        MaxMessageSize = maxMessageSize,
    };
}
