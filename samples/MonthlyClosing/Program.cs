// MonthlyClosing: a long-running job (ExecutionProfile.LongRunning) that closes a month's accounts one memoised step
// at a time, inside a daily time window, reporting progress. Press Ctrl+C mid-run: the job is released at its next
// checkpoint (without counting a failed attempt). Run the same command again: it resumes, skipping closed accounts.
//   dotnet run --project samples/MonthlyClosing [-- --accounts 40 --month 2026-10 --window 22:00-06:00 --db data/monthly-closing.db]
//   dotnet run --project samples/MonthlyClosing -- --transport sqs --sqs-endpoint http://127.0.0.1:4566
// The time window defaults to one that is open now (UTC); outside its window the job waits until it opens.
using System.Globalization;
using Bus;
using Bus.Hosting;
using Bus.Leases;
using Bus.Samples;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MonthlyClosing;

SampleOptions options;
int year, month, accounts;
TimeWindow window;
try
{
    options = SampleOptions.Parse(args, defaultDatabase: "data/monthly-closing.db");
    var period = DateOnly.ParseExact(options.Get("month", "2026-10"), "yyyy-MM", CultureInfo.InvariantCulture);
    (year, month) = (period.Year, period.Month);
    accounts = options.GetInt("accounts", 40);
    var now = TimeOnly.FromDateTime(DateTime.UtcNow);
    var windowText = options.Get("window", $"{now.AddHours(-1):HH\\:mm}-{now.AddHours(2):HH\\:mm}").Split('-');
    window = TimeWindow.Daily(windowText[0], windowText[1]);
}
catch (Exception e) when (e is ArgumentException or FormatException or IndexOutOfRangeException or BusConfigurationException)
{
    await Console.Error.WriteLineAsync($"{e.Message}{Environment.NewLine}Options: --accounts N --month yyyy-MM --window HH:mm-HH:mm --db PATH --transport sqlite|sqs --sqs-endpoint URL");
    return 2;
}

var timeline = new Timeline();
var pending = new PendingClosing(options.DatabasePath, year, month);
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton(timeline).AddSingleton(pending);
builder.Services.AddBus(bus =>
{
    bus.EndpointName = "month-end";
    options.Apply(bus);
    bus.MaxConcurrency = 1;
    bus.ShutdownTimeout = TimeSpan.FromSeconds(10);
    bus.AddHandler<CloseMonthHandler>();
    bus.AddHandler<MonthClosedHandler>();
    bus.ConfigureHandling<CloseMonth>(handling =>
    {
        handling.LongRunning(maxRuntime: TimeSpan.FromHours(2));   // lease 5 min, heartbeat every minute, up to 2 h
        handling.Window = window;
    });
});

using var host = builder.Build();
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
lifetime.ApplicationStopping.Register(() =>
{
    if (pending.JobId is not null)
    {
        timeline.Add("sample", "stopping: the job is released at its next checkpoint; run the same command again to resume");
    }
});

timeline.Add("sample", options.Describe());
timeline.Add("sample", $"time window {window} ({(window.IsOpen(DateTimeOffset.UtcNow) ? "open now" : $"closed: the job waits until {window.NextOpening(DateTimeOffset.UtcNow):u}")})");
await host.StartAsync();

if (pending.JobId is { } jobId)
{
    timeline.Add("sample", $"resuming the closing of {year:0000}-{month:00} (job {jobId[^8..]}), waiting in the queue");
}
else
{
    jobId = Guid.NewGuid().ToString();
    pending.Requested(jobId);
    await host.Services.GetRequiredService<IBus>().SendAsync(new CloseMonth(year, month, accounts), new DeliveryOptions { MessageId = jobId });
    timeline.Add("sample", $"CloseMonth {year:0000}-{month:00} sent: {accounts} accounts (job {jobId[^8..]}); press Ctrl+C to stop it mid-run");
}

await host.WaitForShutdownAsync();
return 0;
