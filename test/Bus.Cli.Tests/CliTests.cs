using System.Text.Json;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Cli.Tests;

/// <summary>
/// The <c>bus</c> tool run as a process against a live endpoint's transport: three messages are dead-lettered (a card
/// charge refused with FailAsync, a charge that timed out, a refund that threw); the tool lists, shows, redrives (the
/// endpoint then handles the message) and purges them, in tables and JSON, and refuses bad command lines with exit code 2.
/// A transport's test class supplies the endpoint's transport and the tool's connection arguments.
/// </summary>
public abstract class CliTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private TestEndpoint? _endpoint;

    protected ChargeDesk Desk { get; } = new();

    protected DeadLetterSignal DeadLettered { get; } = new();

    protected string Queue { get; } = $"cli-{Guid.NewGuid():N}"[..12];

    /// <summary>The tool's arguments that connect it to the endpoint's transport.</summary>
    protected abstract IReadOnlyList<string> Connection { get; }

    protected abstract void UseTransport(BusConfiguration bus);

    public async Task InitializeAsync()
    {
        _endpoint = await TestEndpoint.StartAsync(
            Queue,
            TimeProvider.System,
            s => s.AddSingleton(Desk).AddSingleton<IDeliveryObserver>(DeadLettered),
            bus =>
            {
                UseTransport(bus);
                bus.AddHandler<ChargeHandler>();
                bus.Retry.ImmediateRetries = 0;
                bus.Retry.MaxAttempts = 1;
                bus.AllowInMemoryStores = true;
            });
        await _endpoint.Bus.SendAsync(new Charge("c-card", "card"));
        await _endpoint.Bus.SendAsync(new Charge("c-timeout", "timeout"));
        await _endpoint.Bus.SendAsync(new Refund("r-1"));
        await DeadLettered.WhenAsync(3).WaitAsync(Patience);
    }

    public virtual async Task DisposeAsync()
    {
        if (_endpoint is not null)
        {
            await _endpoint.DisposeAsync();
        }
    }

    [Fact]
    public async Task Queues_shows_the_endpoint_queue_with_its_dead_letters_as_json_and_as_a_table()
    {
        var json = await RunOkAsync("queues", Queue, "-o", "json");
        var row = Assert.Single(json.Json().EnumerateArray());
        Assert.Equal(Queue, row.GetProperty("queue").GetString());
        Assert.Equal(3, row.GetProperty("deadLettered").GetInt64());
        Assert.Equal(0, row.GetProperty("ready").GetInt64());

        var table = await RunOkAsync("queues");
        Assert.Contains("Dead-lettered", table.Out);
        Assert.Contains(Queue, table.Out);
    }

    [Fact]
    public async Task Dlq_list_filters_by_type_reason_and_time()
    {
        var charges = (await RunOkAsync("dlq", "list", Queue, "--type", "cli-test.charge", "-o", "json")).Json();
        Assert.Equal(Queue, charges.GetProperty("queue").GetString());
        Assert.Equal(2, charges.GetProperty("items").GetArrayLength());
        Assert.All(charges.GetProperty("items").EnumerateArray(), i => Assert.Equal("cli-test.charge", i.GetProperty("type").GetString()));

        var declined = (await RunOkAsync("dlq", "list", Queue, "--reason", "CARD DECLINED", "-o", "json")).Json().GetProperty("items");
        var card = Assert.Single(declined.EnumerateArray());
        Assert.Equal("Card declined for c-card", card.GetProperty("reason").GetString());

        Assert.Equal(3, (await RunOkAsync("dlq", "list", Queue, "--since", "1h", "-o", "json")).Json().GetProperty("items").GetArrayLength());
        Assert.Equal(0, (await RunOkAsync("dlq", "list", Queue, "--until", "2000-01-01T00:00Z", "-o", "json")).Json().GetProperty("items").GetArrayLength());

        var page = (await RunOkAsync("dlq", "list", Queue, "--limit", "2", "-o", "json")).Json();
        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
        var token = page.GetProperty("continuationToken").GetString();
        Assert.NotNull(token);
        var rest = (await RunOkAsync("dlq", "list", Queue, "--limit", "2", "--continue", token, "-o", "json")).Json();
        Assert.Equal(1, rest.GetProperty("items").GetArrayLength());

        var table = await RunOkAsync("dlq", "list", Queue, "--type", "cli-test.refund");
        Assert.Contains("cli-test.refund", table.Out);
        Assert.DoesNotContain("cli-test.charge", table.Out);
    }

    [Fact]
    public async Task Dlq_show_prints_failure_headers_and_body_and_a_missing_id_exits_4()
    {
        var id = await IdOfAsync("--type", "cli-test.refund");

        var shown = (await RunOkAsync("dlq", "show", Queue, id, "-o", "json")).Json();

        Assert.Equal(id, shown.GetProperty("failure").GetProperty("messageId").GetString());
        Assert.Equal("System.InvalidOperationException", shown.GetProperty("failure").GetProperty("exceptionType").GetString());
        Assert.Equal("cli-test.refund", shown.GetProperty("headers").GetProperty("bus-message-type").GetString());
        Assert.Contains("r-1", shown.GetProperty("body").GetString());
        Assert.Equal("utf-8", shown.GetProperty("bodyEncoding").GetString());
        var table = await RunOkAsync("dlq", "show", Queue, id);
        Assert.Contains("Refund refused", table.Out);
        Assert.Contains("bus-message-type", table.Out);

        var missing = await RunAsync("dlq", "show", Queue, "no-such-id");
        Assert.Equal(4, missing.ExitCode);
        Assert.Contains("No dead letter with message id 'no-such-id'", missing.Error);
    }

    [Fact]
    public async Task Dlq_redrive_moves_a_dead_letter_back_and_the_endpoint_handles_it()
    {
        var id = await IdOfAsync("--reason", "card declined");
        Desk.Failing = false;

        var redrive = (await RunOkAsync("dlq", "redrive", Queue, "--id", id, "-o", "json")).Json();

        Assert.Equal(1, redrive.GetProperty("redriven").GetInt32());
        await Desk.Handled("c-card").WaitAsync(Patience);
        var left = (await RunOkAsync("dlq", "list", Queue, "-o", "json")).Json().GetProperty("items");
        Assert.Equal(2, left.GetArrayLength());
        Assert.DoesNotContain(left.EnumerateArray(), i => i.GetProperty("messageId").GetString() == id);
    }

    [Fact]
    public async Task Dlq_purge_asks_first_and_deletes_only_when_confirmed()
    {
        var refused = await RunAsync(["dlq", "purge", Queue, "--type", "cli-test.refund"], input: "n\n");
        Assert.Equal(5, refused.ExitCode);
        Assert.Contains("Delete 1 dead letter of", refused.Error);
        var noAnswer = await RunAsync(["dlq", "purge", Queue, "--all"], input: "");
        Assert.Equal(5, noAnswer.ExitCode);
        Assert.Contains("--yes", noAnswer.Error);
        Assert.Equal(3, await DeadLetterCountAsync());

        var confirmed = await RunAsync(["dlq", "purge", Queue, "--type", "cli-test.refund", "-o", "json"], input: "y\n");
        Assert.True(confirmed.ExitCode == 0, confirmed.ToString());
        Assert.Equal(1, confirmed.Json().GetProperty("purged").GetInt32());
        Assert.Equal(2, await DeadLetterCountAsync());

        var all = await RunOkAsync("dlq", "purge", Queue, "--all", "--yes");
        Assert.Contains("Purged 2 dead letters", all.Out);
        Assert.Equal(0, await DeadLetterCountAsync());
    }

    [Fact]
    public async Task Bad_command_lines_exit_2_and_say_what_is_wrong()
    {
        var missing = await RunAsync("dlq", "list");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("Required argument missing", missing.Error);
        Assert.Contains("bus dlq list --help", missing.Error);

        var format = await RunAsync("queues", "-o", "xml");
        Assert.Equal(2, format.ExitCode);
        Assert.Contains("'xml' not recognized", format.Error);

        var time = await RunAsync("dlq", "list", Queue, "--since", "last tuesday");
        Assert.Equal(2, time.ExitCode);
        Assert.Contains("--since 'last tuesday' is neither a time", time.Error);

        var unchosen = await RunAsync("dlq", "redrive", Queue);
        Assert.Equal(2, unchosen.ExitCode);
        Assert.Contains("Say which dead letters to redrive", unchosen.Error);

        var token = await RunAsync("dlq", "list", Queue, "--continue", "garbage");
        Assert.Equal(2, token.ExitCode);
        Assert.Contains("garbage", token.Error);

        var unknown = await BusTool.RunAsync(["queues", "--transport", "carrier-pigeon"]);
        Assert.Equal(3, unknown.ExitCode);
        Assert.Contains("Unknown transport 'carrier-pigeon'. Known transports: sqlite, postgresql, sqs, servicebus", unknown.Error);

        var none = await BusTool.RunAsync(["queues"], workingDirectory: Directory.CreateTempSubdirectory().FullName);
        Assert.Equal(3, none.ExitCode);
        Assert.Contains("No transport is configured", none.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("queues")]
    [InlineData("dlq")]
    [InlineData("dlq list")]
    [InlineData("dlq show")]
    [InlineData("dlq redrive")]
    [InlineData("dlq purge")]
    [InlineData("jobs")]
    [InlineData("jobs show")]
    [InlineData("workflows show")]
    [InlineData("workflows list")]
    [InlineData("schedules")]
    [InlineData("schedules list")]
    [InlineData("schedules pause")]
    [InlineData("schedules resume")]
    [InlineData("schedules remove")]
    public async Task Help_is_printed_for_every_command(string command)
    {
        var run = await BusTool.RunAsync([.. command.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"bus {command}".Trim(), run.Out);
        Assert.Contains("Usage:", run.Out);
    }

    protected Task<ToolRun> RunAsync(params string[] args) => RunAsync(args, input: null);

    protected virtual Task<ToolRun> RunAsync(string[] args, string? input) => BusTool.RunAsync([.. args, .. Connection], input);

    protected async Task<ToolRun> RunOkAsync(params string[] args)
    {
        var run = await RunAsync(args);
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    private async Task<string> IdOfAsync(params string[] filter)
    {
        var items = (await RunOkAsync(["dlq", "list", Queue, .. filter, "-o", "json"])).Json().GetProperty("items");
        return Assert.Single(items.EnumerateArray()).GetProperty("messageId").GetString()!;
    }

    private async Task<long> DeadLetterCountAsync() =>
        (await _endpoint!.Transport.Statistics!.GetAsync(Queue, default)).DeadLettered;
}
