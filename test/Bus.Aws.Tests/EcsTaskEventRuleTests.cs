using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Bus.Aws.EventBridge;

namespace Bus.Aws.Tests;

/// <summary>The EventBridge rule, its SQS target and the queue policy, against the documented request shapes:
/// PutRule (Name, EventPattern, State), PutTargets (Rule, Targets[].Id/Arn), SQS Get/SetQueueAttributes (QueueUrl,
/// AttributeNames / Attributes.Policy) with a statement for the service principal events.amazonaws.com and an
/// aws:SourceArn condition on the rule.</summary>
public sealed class EcsTaskEventRuleTests
{
    private const string QueueUrl = "https://sqs.eu-west-1.amazonaws.com/111122223333/bus-render";
    private const string QueueArn = "arn:aws:sqs:eu-west-1:111122223333:bus-render";
    private const string RuleArn = "arn:aws:events:eu-west-1:111122223333:rule/bus-render-tasks";
    private readonly FakeAws _aws = new();

    private EcsTaskEventRule Rule(bool verifyOnly = false) => new(new EcsTaskEventRuleOptions
    {
        Region = "eu-west-1",
        Credentials = new BasicAWSCredentials("AKIDEXAMPLE", "secret"),
        HttpHandler = _aws,
        RuleName = "bus-render-tasks",
        QueueUrl = QueueUrl,
        StartedByPrefix = "film-",
        GroupPrefix = "family:render",
        VerifyOnly = verifyOnly,
    });

    [Fact]
    public async Task Creates_the_rule_the_queue_target_and_the_policy_statement()
    {
        _aws.Answer("AmazonSQS.GetQueueAttributes", $$$"""{"Attributes":{"QueueArn":"{{{QueueArn}}}"}}""")
            .Answer("AWSEvents.DescribeRule", """{"__type":"ResourceNotFoundException","message":"Rule bus-render-tasks does not exist."}""", System.Net.HttpStatusCode.BadRequest)
            .Answer("AWSEvents.PutRule", $$"""{"RuleArn":"{{RuleArn}}"}""")
            .Answer("AWSEvents.PutTargets", """{"FailedEntryCount":0,"FailedEntries":[]}""")
            .Answer("AmazonSQS.SetQueueAttributes", "{}");

        var findings = await Rule().EnsureAsync();

        Assert.Equal(3, findings.Count);
        var get = Assert.Single(_aws.Calls("AmazonSQS.GetQueueAttributes"));
        Assert.Equal("application/x-amz-json-1.0", get.ContentType);
        Assert.Equal(QueueUrl, get.Body.GetProperty("QueueUrl").GetString());
        Assert.Contains("QueueArn", get.Body.GetProperty("AttributeNames").EnumerateArray().Select(a => a.GetString()));

        var put = Assert.Single(_aws.Calls("AWSEvents.PutRule"));
        Assert.Equal("application/x-amz-json-1.1", put.ContentType);
        Assert.Contains("/eu-west-1/events/aws4_request", put.Authorization, StringComparison.Ordinal);
        Assert.Equal("bus-render-tasks", put.Body.GetProperty("Name").GetString());
        Assert.Equal("ENABLED", put.Body.GetProperty("State").GetString());
        Assert.Equal("default", put.Body.GetProperty("EventBusName").GetString());
        var pattern = JsonNode.Parse(put.Body.GetProperty("EventPattern").GetString()!)!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"source":["aws.ecs"],"detail-type":["ECS Task State Change"],
             "detail":{"group":[{"prefix":"family:render"}],"startedBy":[{"prefix":"film-"}]}}
            """), pattern), pattern.ToJsonString());

        var targets = Assert.Single(_aws.Calls("AWSEvents.PutTargets"));
        Assert.Equal("bus-render-tasks", targets.Body.GetProperty("Rule").GetString());
        var target = Assert.Single(targets.Body.GetProperty("Targets").EnumerateArray());
        Assert.Equal(EcsTaskEventRule.TargetId, target.GetProperty("Id").GetString());
        Assert.Equal(QueueArn, target.GetProperty("Arn").GetString());

        var set = Assert.Single(_aws.Calls("AmazonSQS.SetQueueAttributes"));
        Assert.Equal(QueueUrl, set.Body.GetProperty("QueueUrl").GetString());
        var policy = JsonNode.Parse(set.Body.GetProperty("Attributes").GetProperty("Policy").GetString()!)!;
        Assert.Equal("2012-10-17", policy["Version"]!.GetValue<string>());
        var statement = Assert.Single(policy["Statement"]!.AsArray())!;
        Assert.Equal("Allow", statement["Effect"]!.GetValue<string>());
        Assert.Equal("events.amazonaws.com", statement["Principal"]!["Service"]!.GetValue<string>());
        Assert.Equal("sqs:SendMessage", statement["Action"]!.GetValue<string>());
        Assert.Equal(QueueArn, statement["Resource"]!.GetValue<string>());
        Assert.Equal(RuleArn, statement["Condition"]!["ArnEquals"]!["aws:SourceArn"]!.GetValue<string>());
    }

    [Fact]
    public async Task Verify_only_reports_what_is_missing_and_changes_nothing()
    {
        _aws.Answer("AmazonSQS.GetQueueAttributes", $$$"""{"Attributes":{"QueueArn":"{{{QueueArn}}}"}}""")
            .Answer("AWSEvents.DescribeRule", """{"__type":"ResourceNotFoundException","message":"no such rule"}""", System.Net.HttpStatusCode.BadRequest);

        var findings = await Rule(verifyOnly: true).EnsureAsync();

        Assert.Equal(
        [
            "EventBridge rule 'bus-render-tasks' on bus 'default' is missing",
            $"EventBridge rule 'bus-render-tasks' does not target queue {QueueArn}",
            $"the policy of queue {QueueArn} does not let EventBridge rule {RuleArn} send to it",
        ], findings);
        Assert.Empty(_aws.Calls("AWSEvents.PutRule"));
        Assert.Empty(_aws.Calls("AWSEvents.PutTargets"));
        Assert.Empty(_aws.Calls("AmazonSQS.SetQueueAttributes"));
    }

    [Fact]
    public async Task In_place_everything_is_found_and_nothing_is_written_and_other_policy_statements_are_kept()
    {
        var pattern = new EcsTaskEventRuleOptions { StartedByPrefix = "film-", GroupPrefix = "family:render" }.EventPattern();
        var existingPolicy = QueuePolicy.WithStatement(
            """{"Version":"2012-10-17","Statement":[{"Sid":"sns","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"x"}]}""",
            QueueArn, RuleArn, "bus-render-tasks");
        Assert.Equal(["sns", "bus-eventbridge-bus-render-tasks"], JsonNode.Parse(existingPolicy)!["Statement"]!.AsArray().Select(s => s!["Sid"]!.GetValue<string>()));
        _aws.Answer("AmazonSQS.GetQueueAttributes", JsonSerializer.Serialize(new { Attributes = new { QueueArn, Policy = existingPolicy } }))
            .Answer("AWSEvents.DescribeRule", JsonSerializer.Serialize(new { Name = "bus-render-tasks", Arn = RuleArn, EventPattern = pattern, State = "ENABLED" }))
            .Answer("AWSEvents.ListTargetsByRule", $$"""{"Targets":[{"Id":"bus-endpoint-queue","Arn":"{{QueueArn}}"}]}""");

        Assert.Empty(await Rule(verifyOnly: true).EnsureAsync());
        Assert.Equal(3, _aws.Requests.Count);
    }

    [Theory]
    [InlineData("", "RuleName")]
    [InlineData("has space", "RuleName")]
    public void Options_are_validated_with_what_to_do(string ruleName, string mentioned)
    {
        var error = Assert.Throws<BusConfigurationException>(() => new EcsTaskEventRule(new EcsTaskEventRuleOptions { Region = "eu-west-1", RuleName = ruleName, QueueUrl = QueueUrl }));
        Assert.Contains(mentioned, error.Message, StringComparison.Ordinal);
    }
}
