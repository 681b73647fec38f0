using System.Net;
using Amazon.Runtime.CredentialManagement;
using System.Text;
using Bus.AmazonSqs.Http;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.Aws.Signing;
using Bus.AmazonSqs.Sns;
using Bus.AmazonSqs.Sqs;
using Bus.Transports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.AmazonSqs.Tests;

/// <summary>Retries, back-off and error mapping, with a scripted HTTP handler in place of the service (through the SDK's
/// HTTP client factory hook for SQS).</summary>
public sealed class ProtocolErrorTests
{
    private const string QueueUrl = "http://sqs.us-east-1.localhost:4566/000000000000/q";

    private static (IAmazonSQS Sqs, SnsQueryClient Sns) Clients(ScriptedHandler handler, int retries = 3, string? sessionToken = null)
    {
        var http = new HttpClient(handler);
        var retry = new RetrySettings(retries, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(10));
        var credentials = new StaticCredentialSource(new AwsCredentials("AKID", "secret", sessionToken));
        var endpoint = new Uri("http://127.0.0.1:9/");
        var transport = new SqsTransport(new SqsTransportOptions
        {
            Region = "eu-west-1",
            ServiceUrl = endpoint,
            AccessKeyId = "AKID",
            SecretAccessKey = "secret",
            MaxErrorRetry = retries,
            HttpClientFactory = new HandlerClientFactory(handler),
        });
        return (
            transport.SqsClient,
            new SnsQueryClient(new AwsHttpChannel("sns", endpoint, "eu-west-1", credentials, http, retry, TimeProvider.System, NullLogger.Instance)));
    }

    [Fact]
    public async Task Throttling_and_5xx_are_retried_until_success()
    {
        var handler = new ScriptedHandler((_, _, call) => call switch
        {
            1 => ScriptedHandler.Json(HttpStatusCode.InternalServerError, """{"__type":"com.amazonaws.sqs#InternalError","message":"oops"}"""),
            2 => ScriptedHandler.Json(HttpStatusCode.BadRequest, """{"__type":"com.amazonaws.sqs#RequestThrottled","message":"slow down"}"""),
            3 => ScriptedHandler.Json(HttpStatusCode.TooManyRequests, "{}"),
            _ => ScriptedHandler.Json(HttpStatusCode.OK, $$"""{"QueueUrl":"{{QueueUrl}}"}"""),
        });

        var url = (await Clients(handler).Sqs.GetQueueUrlAsync(new GetQueueUrlRequest { QueueName = "q" }, default)).QueueUrl;

        Assert.Equal(QueueUrl, url);
        Assert.Equal(4, handler.Requests.Count);
    }

    [Fact]
    public async Task Retries_are_bounded_and_the_last_error_surfaces()
    {
        var handler = new ScriptedHandler((_, _, _) =>
            ScriptedHandler.Json(HttpStatusCode.BadRequest, """{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}"""));

        var error = await Assert.ThrowsAsync<AmazonSQSException>(() => Clients(handler, retries: 2).Sqs.GetQueueAttributesAsync(
            new GetQueueAttributesRequest { QueueUrl = QueueUrl, AttributeNames = ["All"] }, default));

        Assert.Equal(3, handler.Requests.Count);
        Assert.Equal("ThrottlingException", error.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("Rate exceeded", error.Message);
    }

    [Fact]
    public async Task A_missing_queue_is_not_retried_and_is_recognised()
    {
        var handler = new ScriptedHandler((_, _, _) => ScriptedHandler.Json(HttpStatusCode.BadRequest,
            """{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}""",
            "AWS.SimpleQueueService.NonExistentQueue;Sender"));

        var error = await Assert.ThrowsAnyAsync<AmazonSQSException>(() => Clients(handler).Sqs.GetQueueAttributesAsync(
            new GetQueueAttributesRequest { QueueUrl = QueueUrl, AttributeNames = ["All"] }, default));

        Assert.Single(handler.Requests);
        Assert.True(SqsErrors.IsQueueMissing(error), $"{error.GetType().Name} {error.ErrorCode} is not recognised as a missing queue");
    }

    [Fact]
    public async Task Sns_xml_errors_are_parsed_and_throttling_retried()
    {
        var handler = new ScriptedHandler((_, _, call) => call == 1
            ? ScriptedHandler.Xml(HttpStatusCode.TooManyRequests, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttled</Code><Message>Rate exceeded</Message></Error></ErrorResponse>")
            : ScriptedHandler.Xml(HttpStatusCode.NotFound, "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error></ErrorResponse>"));

        var error = await Assert.ThrowsAsync<AmazonSqsException>(() => Clients(handler).Sns.PublishAsync("arn:aws:sns:eu-west-1:1:t", new SnsPublishEntry("0", "x", new Dictionary<string, string>()), default));

        Assert.Equal(2, handler.Requests.Count);
        Assert.Equal("NotFound", error.Code);
        Assert.Equal("sns", error.Service);
        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Sqs_and_sns_requests_are_signed_with_the_same_credentials()
    {
        var handler = new ScriptedHandler((operation, _, _) => operation == "CreateTopic"
            ? ScriptedHandler.Xml(HttpStatusCode.OK, "<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:eu-west-1:1:t</TopicArn></CreateTopicResult></CreateTopicResponse>")
            : ScriptedHandler.Json(HttpStatusCode.OK, $$"""{"QueueUrl":"{{QueueUrl}}"}"""));
        await using var transport = new SqsTransport(new SqsTransportOptions
        {
            Region = "eu-west-1",
            ServiceUrl = new Uri("http://127.0.0.1:9/"),
            Credentials = new SessionAWSCredentials("AKID", "secret", "token-1"),
            HttpClientFactory = new HandlerClientFactory(handler),
        });

        await transport.SqsClient.GetQueueUrlAsync(new GetQueueUrlRequest { QueueName = "q" }, default);
        await transport.SendAsync([new OutgoingMessage(Destination.Topic("t"), Message("event"))], default).ContinueWith(_ => { }, TaskScheduler.Default);

        var sqs = handler.Requests.First(r => r.Operation == "GetQueueUrl").Request;
        var sns = handler.Requests.First(r => r.Operation == "CreateTopic").Request;
        foreach (var (request, service) in new[] { (sqs, "sqs"), (sns, "sns") })
        {
            Assert.Equal("token-1", request.Headers.GetValues("X-Amz-Security-Token").Single());
            var authorization = request.Headers.GetValues("Authorization").Single();
            Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKID/", authorization);
            Assert.Contains($"/eu-west-1/{service}/aws4_request", authorization);
        }
    }

    [Fact]
    public async Task Batch_entries_rejected_with_http_200_surface_naming_their_message_ids()
    {
        var handler = new ScriptedHandler((operation, body, _) => operation switch
        {
            "GetQueueUrl" => ScriptedHandler.Json(HttpStatusCode.OK, $$"""{"QueueUrl":"{{QueueUrl}}"}"""),
            "GetQueueAttributes" => ScriptedHandler.Json(HttpStatusCode.OK, """{"Attributes":{"QueueArn":"arn:aws:sqs:us-east-1:0:q","MaximumMessageSize":"1048576"}}"""),
            "SendMessageBatch" => ScriptedHandler.Json(HttpStatusCode.OK,
                $$"""{"Successful":[{"Id":"0","MessageId":"m0",{{Md5sOfFirstEntry(body)}}}],"Failed":[{"Id":"1","SenderFault":true,"Code":"InvalidMessageContents","Message":"bad chars"}]}"""),
            _ => ScriptedHandler.Json(HttpStatusCode.BadRequest, """{"__type":"x#Unexpected","message":"unexpected"}"""),
        });
        await using var transport = new SqsTransport(Fauxqs.Options(o => o.HttpClientFactory = new HandlerClientFactory(handler)));
        var ok = Message("ok");
        var bad = Message("bad");

        var error = await Assert.ThrowsAsync<AmazonSqsException>(() => transport.SendAsync(
            [new OutgoingMessage(Destination.Queue("q"), ok), new OutgoingMessage(Destination.Queue("q"), bad)], default));

        Assert.Equal([bad.MessageId!], error.FailedMessageIds);
        Assert.Contains(bad.MessageId!, error.Message);
        Assert.Contains("InvalidMessageContents", error.Message);
        Assert.DoesNotContain(ok.MessageId!, error.Message);
    }

    [Theory]
    [InlineData("MessageNotInflight", "Message does not exist or is not available for visibility timeout change.", true)]
    [InlineData("ReceiptHandleIsInvalid", "The input receipt handle is invalid.", true)]
    [InlineData("InvalidParameterValue", "Value x for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", true)]
    [InlineData("InvalidParameterValue", "Message does not exist or is not available for visibility timeout change.", true)]
    [InlineData("InvalidParameterValue", "Value 50000 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", false)]
    [InlineData("QueueDoesNotExist", "The specified queue does not exist.", false)]
    public void Stale_receipt_handle_errors_mean_lease_lost(string code, string message, bool stale)
    {
        Assert.Equal(stale, SqsErrors.IsStaleHandle(code, message));
    }

    [Fact]
    public void The_region_comes_from_the_AWS_profile_when_it_is_neither_set_nor_in_the_environment()
    {
        var file = Path.Combine(Path.GetTempPath(), $"bus-aws-{Guid.NewGuid():N}");
        var profile = Environment.GetEnvironmentVariable("AWS_PROFILE") ?? "default";
        File.WriteAllText(file, $"[{profile}]\nregion = eu-north-1\n");
        try
        {
            var options = new SqsTransportOptions();
            var expected = Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "eu-north-1";

            Assert.Equal(expected, options.ResolveRegion(new CredentialProfileStoreChain(file)));
            Assert.Equal("ap-south-2", new SqsTransportOptions { Region = "ap-south-2" }.ResolveRegion(new CredentialProfileStoreChain(file)));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Options_are_validated_with_clear_errors()
    {
        Assert.Contains("WaitTime", Assert.Throws<ArgumentOutOfRangeException>(() => Fauxqs.Options(o => o.WaitTime = TimeSpan.FromSeconds(21)).Validate()).Message);
        Assert.Contains("MaxReceiveCount", Assert.Throws<ArgumentOutOfRangeException>(() => Fauxqs.Options(o => o.MaxReceiveCount = 0).Validate()).Message);
        Assert.Contains("QueueNamePrefix", Assert.Throws<ArgumentException>(() => Fauxqs.Options(o => o.QueueNamePrefix = "bad prefix!").Validate()).Message);
        Assert.Contains("SecretAccessKey", Assert.Throws<ArgumentException>(() => Fauxqs.Options(o => o.SecretAccessKey = null).Validate()).Message);
        Assert.Contains("MaxMessageSize", Assert.Throws<ArgumentOutOfRangeException>(() => Fauxqs.Options(o => o.MaxMessageSize = 10).Validate()).Message);
        Assert.Contains("ServiceUrl", Assert.Throws<ArgumentException>(() => Fauxqs.Options(o => o.ServiceUrl = new Uri("ftp://x/")).Validate()).Message);
        Assert.Contains("MaxErrorRetry", Assert.Throws<ArgumentOutOfRangeException>(() => Fauxqs.Options(o => o.MaxErrorRetry = 21).Validate()).Message);
        Assert.Contains("RetryMode", Assert.Throws<ArgumentOutOfRangeException>(() => Fauxqs.Options(o => o.RetryMode = (RequestRetryMode)42).Validate()).Message);
        Assert.Contains("Profile", Assert.Throws<ArgumentException>(() => Fauxqs.Options(o => o.Profile = "two words").Validate()).Message);
        Assert.Contains("region name", Assert.Throws<ArgumentException>(() => Fauxqs.Options(o => o.Region = "Mars 1").Validate()).Message);
    }

    [Fact]
    public void MaxReceiveCount_defaults_to_headroom_over_the_attempts_and_must_exceed_them()
    {
        Assert.Equal(26, new SqsTransportOptions().EffectiveMaxReceiveCount(5, new Recoverability.RetryPolicy().ReceiveCountCap));
        Assert.Equal(31, new SqsTransportOptions().EffectiveMaxReceiveCount(10, new Recoverability.RetryPolicy { MaxAttempts = 10 }.ReceiveCountCap));
        Assert.Equal(13, new SqsTransportOptions().EffectiveMaxReceiveCount(5, new Recoverability.RetryPolicy { MaxReceiveCount = 12 }.ReceiveCountCap));
        Assert.Equal(6, new SqsTransportOptions { MaxReceiveCount = 6 }.EffectiveMaxReceiveCount(5));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new SqsTransportOptions { MaxReceiveCount = 5 }.EffectiveMaxReceiveCount(5));
        Assert.Contains("must exceed the bus's Retry.MaxAttempts (5)", error.Message);
    }

    /// <summary>The MD5 digests SQS returns for the first entry of a SendMessageBatch request, which the SDK checks.</summary>
    private static string Md5sOfFirstEntry(string requestBody)
    {
        using var request = System.Text.Json.JsonDocument.Parse(requestBody);
        var entry = request.RootElement.GetProperty("Entries")[0];
        var attributes = entry.GetProperty("MessageAttributes").EnumerateObject().ToDictionary(
            a => a.Name,
            a => new MessageAttributeValue { DataType = a.Value.GetProperty("DataType").GetString(), StringValue = a.Value.GetProperty("StringValue").GetString() });
        var body = Amazon.SQS.Internal.ValidationResponseHandler.CalculateMD5(entry.GetProperty("MessageBody").GetString()!);
        return $"\"MD5OfMessageBody\":\"{body}\",\"MD5OfMessageAttributes\":\"{Amazon.SQS.Internal.ValidationResponseHandler.CalculateMD5(attributes)}\"";
    }

    private static TransportMessage Message(string body) =>
        new(new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() }, Encoding.UTF8.GetBytes(body));
}
