using Amazon.SQS.Model;
using System.Text;
using System.Text.Json.Nodes;
using Bus.AmazonSqs.Sns;
using Bus.AmazonSqs.Sqs;
using Bus.Transports;

namespace Bus.AmazonSqs.Tests;

/// <summary>The transport's use of SQS and SNS, checked against fauxqs.</summary>
public sealed class FauxqsProtocolTests : IAsyncLifetime
{
    private readonly RawSqs _raw = Fauxqs.RawSqs();
    private readonly SnsQueryClient _sns = Fauxqs.RawSns();
    private SqsTransport _transport = null!;

    public Task InitializeAsync()
    {
        _transport = new SqsTransport(Fauxqs.Options(o => o.MaxReceiveCount = 7));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _transport.DisposeAsync();

    [Fact]
    public async Task Provisioning_creates_the_queue_its_dead_letter_queue_and_the_redrive_policy()
    {
        var queue = Fauxqs.UniqueName("prov");

        await _transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        await _transport.ProvisionAsync(new TransportTopology(queue, [], []), default); // idempotent

        var url = await _raw.GetQueueUrlAsync("bt-" + queue, default);
        var dlqUrl = await _raw.GetQueueUrlAsync("bt-" + queue + "-dlq", default);
        Assert.NotNull(url);
        Assert.NotNull(dlqUrl);
        var dlqArn = (await _raw.GetQueueAttributesAsync(dlqUrl, ["QueueArn"], default))["QueueArn"];
        var redrive = JsonNode.Parse((await _raw.GetQueueAttributesAsync(url, ["RedrivePolicy"], default))["RedrivePolicy"])!;
        Assert.Equal(dlqArn, redrive["deadLetterTargetArn"]!.GetValue<string>());
        Assert.Equal("7", redrive["maxReceiveCount"]!.ToString());
    }

    [Theory]
    [InlineData("-dlq")]
    [InlineData("-priority")]
    public async Task An_endpoint_named_like_another_endpoints_dead_letter_or_priority_queue_is_refused_before_anything_is_made(string suffix)
    {
        var queue = Fauxqs.UniqueName("owner") + suffix;

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => _transport.ProvisionAsync(new TransportTopology(queue, [], []), default));

        Assert.Contains($"'{queue}' ends with '{suffix}'", error.Message);
        Assert.Contains("Choose an endpoint name", error.Message);
        Assert.Null(await _raw.GetQueueUrlAsync("bt-" + queue, default));
    }

    [Fact]
    public async Task Provisioning_creates_a_priority_queue_that_redrives_to_the_endpoints_dead_letter_queue_and_verify_only_requires_it()
    {
        var queue = Fauxqs.UniqueName("prioprov");
        await using var verifier = new SqsTransport(Fauxqs.Options(o => o.ProvisioningMode = ProvisioningMode.VerifyOnly));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => verifier.ProvisionAsync(new TransportTopology(queue, [], []), default));
        Assert.Contains($"priority queue 'bt-{queue}-priority'", error.Message);

        await _transport.ProvisionAsync(new TransportTopology(queue, [], []), default);

        var url = await _raw.GetQueueUrlAsync("bt-" + queue + "-priority", default);
        Assert.NotNull(url);
        var dlqUrl = await _raw.GetQueueUrlAsync("bt-" + queue + "-dlq", default);
        var dlqArn = (await _raw.GetQueueAttributesAsync(dlqUrl!, ["QueueArn"], default))["QueueArn"];
        var redrive = JsonNode.Parse((await _raw.GetQueueAttributesAsync(url, ["RedrivePolicy"], default))["RedrivePolicy"])!;
        Assert.Equal(dlqArn, redrive["deadLetterTargetArn"]!.GetValue<string>());
        Assert.Equal("7", redrive["maxReceiveCount"]!.ToString());
        await verifier.ProvisionAsync(new TransportTopology(queue, [], []), default);
    }

    [Fact]
    public async Task Statistics_add_the_priority_queue_to_its_endpoint_queue_which_alone_is_listed()
    {
        var queue = Fauxqs.UniqueName("priostats");
        await _transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        await _transport.SendAsync(
        [
            new OutgoingMessage(Destination.Queue(queue), new TransportMessage(new Dictionary<string, string> { [MessageHeaders.Priority] = "3" }, Encoding.UTF8.GetBytes("urgent"))),
            new OutgoingMessage(Destination.Queue(queue), new TransportMessage(null, Encoding.UTF8.GetBytes("normal"))),
        ], default);

        var statistics = await _transport.Statistics.GetAsync(queue, default);
        var listed = await _transport.Statistics.ListQueuesAsync(default);

        Assert.Equal(2, statistics.Ready);
        Assert.Contains(queue, listed);
        Assert.DoesNotContain(queue + "-priority", listed);
        var priorityUrl = await _raw.GetQueueUrlAsync("bt-" + queue + "-priority", default);
        Assert.Equal("1", (await _raw.GetQueueAttributesAsync(priorityUrl!, ["ApproximateNumberOfMessages"], default))["ApproximateNumberOfMessages"]);
    }

    [Fact]
    public async Task Without_priority_queues_none_is_made_and_the_transport_declares_no_priority_ordering()
    {
        var queue = Fauxqs.UniqueName("noprio");
        await using var plain = new SqsTransport(Fauxqs.Options(o => o.PriorityQueue = false));

        await plain.ProvisionAsync(new TransportTopology(queue, [], []), default);

        Assert.Equal(PriorityOrdering.None, plain.Capabilities.PriorityOrdering);
        Assert.Equal(PriorityOrdering.PriorityQueue, _transport.Capabilities.PriorityOrdering);
        Assert.Null(await _raw.GetQueueUrlAsync("bt-" + queue + "-priority", default));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Fauxqs.Options(o => o.PriorityRatio = 0).Validate());
        Assert.Contains("SqsTransportOptions.PriorityRatio must be 1 to 100", error.Message);
    }

    [Fact]
    public async Task Verify_only_names_everything_that_is_missing_and_passes_once_it_exists()
    {
        var queue = Fauxqs.UniqueName("verify");
        var topic = "orders." + Fauxqs.UniqueName("placed");
        var topology = new TransportTopology(queue, [topic], [topic]);
        await using var verifier = new SqsTransport(Fauxqs.Options(o => o.ProvisioningMode = ProvisioningMode.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => verifier.ProvisionAsync(topology, default));

        Assert.Contains($"queue 'bt-{queue}'", error.Message);
        Assert.Contains($"dead-letter queue 'bt-{queue}-dlq'", error.Message);
        Assert.Contains($"topic 'bt-{topic.Replace('.', '-')}-", error.Message); // the dot was replaced: a hash follows

        await _transport.ProvisionAsync(topology, default);
        await verifier.ProvisionAsync(topology, default);
    }

    [Fact]
    public async Task Verify_only_reports_a_missing_subscription()
    {
        var queue = Fauxqs.UniqueName("versub");
        var topic = Fauxqs.UniqueName("evt");
        await _transport.ProvisionAsync(new TransportTopology(queue, [topic], []), default);
        await using var verifier = new SqsTransport(Fauxqs.Options(o => o.ProvisioningMode = ProvisioningMode.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => verifier.ProvisionAsync(new TransportTopology(queue, [], [topic]), default));

        Assert.Contains($"subscription of queue 'bt-{queue}' to topic 'bt-{topic}'", error.Message);
        Assert.Contains("queue policy", error.Message);
        Assert.DoesNotContain("dead-letter queue", error.Message);
    }

    [Fact]
    public async Task Verify_only_reports_a_subscription_without_raw_message_delivery_naming_it()
    {
        var queue = Fauxqs.UniqueName("rawver");
        var topic = Fauxqs.UniqueName("rawevt");
        var topology = new TransportTopology(queue, [], [topic]);
        await _transport.ProvisionAsync(topology, default);
        var subscription = await TurnOffRawDeliveryAsync(queue, topic);
        await using var verifier = new SqsTransport(Fauxqs.Options(o => o.ProvisioningMode = ProvisioningMode.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => verifier.ProvisionAsync(topology, default));

        Assert.Contains($"RawMessageDelivery=true on subscription '{subscription}' of queue 'bt-{queue}' to topic 'bt-{topic}'", error.Message);
        Assert.DoesNotContain("queue policy", error.Message);
        Assert.Equal("false", (await _sns.GetSubscriptionAttributesAsync(subscription, default))["RawMessageDelivery"]); // verify-only changes nothing
    }

    [Fact]
    public async Task Provisioning_turns_on_raw_message_delivery_of_an_existing_subscription()
    {
        var queue = Fauxqs.UniqueName("rawfix");
        var topic = Fauxqs.UniqueName("rawevt");
        var topology = new TransportTopology(queue, [topic], [topic]);
        await _transport.ProvisionAsync(topology, default);
        var subscription = await TurnOffRawDeliveryAsync(queue, topic);

        await using var restarted = new SqsTransport(Fauxqs.Options());
        await restarted.ProvisionAsync(topology, default);

        Assert.Equal("true", (await _sns.GetSubscriptionAttributesAsync(subscription, default))["RawMessageDelivery"]);
        Assert.Single(await _sns.ListSubscriptionsAsync((await _sns.FindTopicAsync("bt-" + topic, default))!, default), s => s.Protocol == "sqs");
        var sent = Message("""{"raw":true}""", ("tenant", "t-1"));
        await restarted.SendAsync([new OutgoingMessage(Destination.Topic(topic), sent)], default);
        var received = await ReceiveOneAsync(queue);
        Assert.Equal("""{"raw":true}""", Encoding.UTF8.GetString(received.Message.Body.Span)); // not an SNS envelope
        Assert.Equal("t-1", received.Message.Headers["tenant"]);
        await received.CompleteAsync(default);
        await using var verifier = new SqsTransport(Fauxqs.Options(o => o.ProvisioningMode = ProvisioningMode.VerifyOnly));
        await verifier.ProvisionAsync(topology, default);
    }

    [Fact]
    public async Task Publish_fans_out_raw_to_two_endpoint_queues_with_a_policy_for_the_topic()
    {
        var topic = "billing." + Fauxqs.UniqueName("closed");
        var a = Fauxqs.UniqueName("fan-a");
        var b = Fauxqs.UniqueName("fan-b");
        await _transport.ProvisionAsync(new TransportTopology(a, [], [topic]), default);
        await _transport.ProvisionAsync(new TransportTopology(b, [topic], [topic]), default);
        var sent = Message("""{"month":"2026-10"}""", ("tenant", "t-9"));

        await _transport.SendAsync([new OutgoingMessage(Destination.Topic(topic), sent)], default);

        foreach (var queue in new[] { a, b })
        {
            var received = await ReceiveOneAsync(queue);
            Assert.Equal("""{"month":"2026-10"}""", Encoding.UTF8.GetString(received.Message.Body.Span)); // raw, no SNS envelope
            Assert.Equal(sent.MessageId, received.Message.MessageId);
            Assert.Equal("t-9", received.Message.Headers["tenant"]);
            await received.CompleteAsync(default);

            var url = (await _raw.GetQueueUrlAsync("bt-" + queue, default))!;
            var policy = (await _raw.GetQueueAttributesAsync(url, ["Policy"], default))["Policy"];
            Assert.Contains("sns.amazonaws.com", policy);
            Assert.Contains(":bt-billing-", policy);
        }
    }

    [Fact]
    public async Task More_than_ten_headers_are_packed_into_one_attribute_and_unpacked_on_receive()
    {
        var queue = await NewQueueAsync("pack");
        var headers = Enumerable.Range(0, 14).Select(i => ($"h{i}", $"value {i}")).Append(("empty", string.Empty)).ToArray();
        var sent = Message("packed", headers);

        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);

        var url = (await _raw.GetQueueUrlAsync("bt-" + queue, default))!;
        var raw = Assert.Single(await _raw.ReceiveMessageAsync(url, 1, 5, 0, default)); // visibility 0: stays available
        Assert.Equal(["bus-headers"], raw.MessageAttributes!.Keys);
        var received = await ReceiveOneAsync(queue);
        Assert.Equal(sent.Headers.OrderBy(h => h.Key), received.Message.Headers.OrderBy(h => h.Key));
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Foreign_json_without_attributes_is_received_untouched_with_the_sqs_message_id()
    {
        var queue = await NewQueueAsync("foreign");
        var url = (await _raw.GetQueueUrlAsync("bt-" + queue, default))!;
        const string eventJson = """{"version":"0","id":"6a7e8feb","detail-type":"ECS Task State Change","source":"aws.ecs","detail":{"lastStatus":"STOPPED","containers":[{"exitCode":1}]}}""";
        var response = await _raw.SendMessageBatchAsync(url, [new SendMessageBatchRequestEntry { Id = "0", MessageBody = eventJson }], default);
        var sqsMessageId = Assert.Single(response.Successful!).MessageId;

        var received = await ReceiveOneAsync(queue);

        Assert.Equal(eventJson, Encoding.UTF8.GetString(received.Message.Body.Span));
        Assert.Equal(sqsMessageId, received.Message.MessageId);
        Assert.Equal([MessageHeaders.MessageId], received.Message.Headers.Keys);
        Assert.Equal(1, received.ReceiveCount);
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Binary_and_empty_bodies_round_trip()
    {
        var queue = await NewQueueAsync("binary");
        var binary = new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageId] = "bin" }, new byte[] { 0, 1, 0xFF, 0xFE, 7 });
        var empty = new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageId] = "empty" }, ReadOnlyMemory<byte>.Empty);

        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), binary), new OutgoingMessage(Destination.Queue(queue), empty)], default);

        var bodies = new Dictionary<string, byte[]>();
        for (var i = 0; i < 2; i++)
        {
            var received = await ReceiveOneAsync(queue);
            bodies[received.Message.MessageId!] = received.Message.Body.ToArray();
            Assert.DoesNotContain("bus-body-encoding", received.Message.Headers.Keys);
            await received.CompleteAsync(default);
        }

        Assert.Equal(binary.Body.ToArray(), bodies["bin"]);
        Assert.Empty(bodies["empty"]);
    }

    [Fact]
    public async Task Oversized_send_fails_naming_the_queues_maximum_message_size()
    {
        var queue = await NewQueueAsync("small");
        var url = (await _raw.GetQueueUrlAsync("bt-" + queue, default))!;
        await _raw.SetQueueAttributesAsync(url, new Dictionary<string, string> { ["MaximumMessageSize"] = "1024" }, default);
        await using var sender = new SqsTransport(Fauxqs.Options());
        await sender.ProvisionAsync(new TransportTopology(queue, [], []), default);

        var error = await Assert.ThrowsAsync<MessageTooLargeException>(() =>
            sender.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message(new string('x', 1100)))], default));

        Assert.Equal(1024, error.Limit);
        Assert.Contains((1024).ToString("N0", System.Globalization.CultureInfo.CurrentCulture), error.Message);
        Assert.Contains($"bt-{queue}", error.Message);
        Assert.Contains("MaximumMessageSize", error.Message);
        Assert.Equal(1024, sender.Capabilities.MaxMessageSize);

        await sender.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message(new string('x', 900)))], default);
        await (await ReceiveOneAsync(queue)).CompleteAsync(default);
    }

    [Fact]
    public async Task Topic_messages_are_limited_to_the_sns_maximum()
    {
        var topic = Fauxqs.UniqueName("bigevt");
        await _transport.ProvisionAsync(new TransportTopology(Fauxqs.UniqueName("pub"), [topic], []), default);

        var error = await Assert.ThrowsAsync<MessageTooLargeException>(() =>
            _transport.SendAsync([new OutgoingMessage(Destination.Topic(topic), Message(new string('x', 262_145)))], default));

        Assert.Equal(262_144, error.Limit);
    }

    [Fact]
    public async Task Release_keeps_the_receive_count_and_abandon_adds_to_it()
    {
        var queue = await NewQueueAsync("counts");
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("x"))], default);

        var first = await ReceiveOneAsync(queue);
        await first.AbandonAsync(TimeSpan.Zero, default);
        var second = await ReceiveOneAsync(queue);
        Assert.Equal(2, second.ReceiveCount);
        await second.ReleaseAsync(TimeSpan.Zero, default);
        var third = await ReceiveOneAsync(queue);

        Assert.Equal(2, third.ReceiveCount);
        await third.AbandonAsync(TimeSpan.Zero, default);
        var fourth = await ReceiveOneAsync(queue);
        Assert.Equal(3, fourth.ReceiveCount);
        await fourth.CompleteAsync(default);
    }

    [Fact]
    public async Task Renewal_past_twelve_hours_of_total_visibility_fails_clearly()
    {
        var queue = await NewQueueAsync("cap");
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("x"))], default);
        var received = await ReceiveOneAsync(queue);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => received.RenewLeaseAsync(TimeSpan.FromHours(12.1), default));

        Assert.Contains("12 hours", error.Message);
        Assert.Equal(TimeSpan.FromHours(12), _transport.Capabilities.MaxTotalLeaseTime);
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Dead_letter_with_many_headers_is_packed_and_redrive_restores_identity_and_count()
    {
        var queue = await NewQueueAsync("dlqpack");
        var sent = Message("poison", Enumerable.Range(0, 8).Select(i => ($"h{i}", $"v{i}")).ToArray());
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var first = await ReceiveOneAsync(queue);
        await first.AbandonAsync(TimeSpan.Zero, default);
        var second = await ReceiveOneAsync(queue);
        await second.ReleaseAsync(TimeSpan.Zero, default);
        var third = await ReceiveOneAsync(queue);
        Assert.Equal(2, third.ReceiveCount);

        await third.DeadLetterAsync(FailureDetails.From("Attempts exhausted (2 of 2)", new TimeoutException("slow"), 2, queue, DateTimeOffset.UtcNow), default);

        var dead = Assert.Single(await _transport.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.Equal("v7", dead.Message.Headers["h7"]);
        Assert.Equal("slow", dead.Failure.ExceptionMessage);
        Assert.Equal(1, await _transport.DeadLetters.RedriveAsync(queue, null, default));
        var back = await ReceiveOneAsync(queue);
        Assert.Equal(sent.MessageId, back.Message.MessageId);
        Assert.Equal(1, back.ReceiveCount);
        Assert.Equal(sent.Headers.OrderBy(h => h.Key), back.Message.Headers.OrderBy(h => h.Key));
        await back.CompleteAsync(default);
    }

    [Fact]
    public async Task A_message_received_more_than_max_receive_count_times_reaches_the_dead_letter_queue_natively()
    {
        await using var strict = new SqsTransport(Fauxqs.Options(o => o.MaxReceiveCount = 1));
        var queue = Fauxqs.UniqueName("native");
        await strict.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var sent = Message("crashes the process");
        await strict.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var received = (await strict.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default)).Single();

        await received.AbandonAsync(TimeSpan.Zero, default); // as if the process had died
        Assert.Empty(await strict.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default));

        var dead = Assert.Single(await strict.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.StartsWith("Moved by SQS after ", dead.Failure.Reason); // not by the bus: no failure headers, so the API says what happened
        Assert.Contains("MaxReceiveCount is 1", dead.Failure.Reason);
        Assert.Contains("crashed or stalled", dead.Failure.Reason);
        Assert.True(dead.Failure.Attempts >= 1, $"receives reported: {dead.Failure.Attempts}");
        Assert.Equal(1, await strict.DeadLetters.PurgeAsync(queue, null, default));
    }

    [Fact]
    public async Task Delayed_event_reaches_every_subscriber_after_the_delay()
    {
        var topic = Fauxqs.UniqueName("later");
        var a = Fauxqs.UniqueName("dly-a");
        var b = Fauxqs.UniqueName("dly-b");
        await _transport.ProvisionAsync(new TransportTopology(a, [], [topic]), default);
        await _transport.ProvisionAsync(new TransportTopology(b, [], [topic]), default);
        var sent = Message("reminder");

        await _transport.SendAsync([new OutgoingMessage(Destination.Topic(topic), sent, DateTimeOffset.UtcNow.AddSeconds(3))], default);

        Assert.Empty(await _transport.ReceiveAsync(a, 1, TimeSpan.FromSeconds(30), default));
        foreach (var queue in new[] { a, b })
        {
            var received = await ReceiveOneAsync(queue);
            Assert.Equal(sent.MessageId, received.Message.MessageId);
            await received.CompleteAsync(default);
        }
    }

    [Fact]
    public async Task A_cancelled_receive_releases_what_its_long_poll_still_took_without_counting_an_attempt()
    {
        var queue = await NewQueueAsync("abandon");
        using var cancel = new CancellationTokenSource();
        var abandoned = _transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(5), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        // The dropped long poll is still open at the broker and takes this message under a 5-minute lease.
        var sent = Message("late");
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var received = await ReceiveOneAsync(queue);

        Assert.Equal(sent.MessageId, received.Message.MessageId);
        Assert.Equal(1, received.ReceiveCount);
    }

    /// <summary>Turns off raw delivery of the queue's subscription to the topic, as infrastructure code might have
    /// created it; returns the subscription's ARN.</summary>
    private async Task<string> TurnOffRawDeliveryAsync(string queue, string topic)
    {
        var topicArn = (await _sns.FindTopicAsync("bt-" + topic, default))!;
        var queueUrl = (await _raw.GetQueueUrlAsync("bt-" + queue, default))!;
        var queueArn = (await _raw.GetQueueAttributesAsync(queueUrl, ["QueueArn"], default))["QueueArn"];
        var subscription = Assert.Single(await _sns.ListSubscriptionsAsync(topicArn, default), s => s.Endpoint == queueArn).SubscriptionArn;
        await _sns.SetSubscriptionAttributeAsync(subscription, "RawMessageDelivery", "false", default);
        return subscription;
    }

    private async Task<string> NewQueueAsync(string hint)
    {
        var queue = Fauxqs.UniqueName(hint);
        await _transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        return queue;
    }

    private Task<IReceivedMessage> ReceiveOneAsync(string queue) => Fauxqs.ReceiveOneAsync(_transport, queue);

    private static TransportMessage Message(string body, params (string Name, string Value)[] headers) => Fauxqs.Message(body, headers);
}
