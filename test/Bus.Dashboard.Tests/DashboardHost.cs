using System.Net;
using System.Threading.Channels;
using Bus.Hosting;
using Bus.Jobs;
using Bus.Pipeline;
using Bus.Transports;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Security.Claims;

namespace Bus.Dashboard.Tests;

[MessageName("shop.place-order")]
public sealed record PlaceOrder(string Item) : ICommand;

[MessageName("shop.build-report")]
public sealed record BuildReport(int Total) : ICommand;

[MessageName("shop.nightly-summary")]
public sealed record NightlySummary(DateTimeOffset Tick) : ICommand;

public sealed class NightlySummaryHandler : IHandleMessages<NightlySummary>
{
    public Task HandleAsync(NightlySummary message, IMessageContext context) => Task.CompletedTask;
}

/// <summary>Fails orders (dead-lettering them at once) while <see cref="Failing"/> is set; records the ones handled.</summary>
public sealed class OrderDesk
{
    private readonly Channel<string> _handled = Channel.CreateUnbounded<string>();

    public volatile bool Failing = true;

    public void Handled(string messageId) => _handled.Writer.TryWrite(messageId);

    public async Task WaitHandledAsync(string messageId)
    {
        await foreach (var id in _handled.Reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
        {
            if (id == messageId)
            {
                return;
            }
        }
    }
}

public sealed class PlaceOrderHandler(OrderDesk desk) : IHandleMessages<PlaceOrder>
{
    public async Task HandleAsync(PlaceOrder message, IMessageContext context)
    {
        if (desk.Failing)
        {
            await context.FailAsync("Refused order for " + message.Item);
            return;
        }

        desk.Handled(context.MessageId);
    }
}

/// <summary>A job that reports progress, then waits until the test lets it finish.</summary>
public sealed class ReportGate
{
    public TaskCompletionSource<string> Reported { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Finish { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public sealed class BuildReportHandler(ReportGate gate) : IHandleMessages<BuildReport>
{
    public async Task HandleAsync(BuildReport message, IMessageContext context)
    {
        await context.ReportProgressAsync(3, message.Total);
        gate.Reported.TrySetResult(context.MessageId);
        await gate.Finish.Task.WaitAsync(context.CancellationToken);
    }
}

/// <summary>Signals each settled delivery, so tests wait for a dead letter instead of sleeping.</summary>
public sealed class Settlements : IDeliveryObserver
{
    private readonly Channel<DeliveryReport> _reports = Channel.CreateUnbounded<DeliveryReport>();

    public Task OnSettledAsync(DeliveryReport report, CancellationToken cancellationToken)
    {
        _reports.Writer.TryWrite(report);
        return Task.CompletedTask;
    }

    public async Task WaitAsync(string messageId, OutcomeKind kind)
    {
        await foreach (var report in _reports.Reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
        {
            if (report.MessageId == messageId && report.Kind == kind)
            {
                return;
            }
        }
    }
}

/// <summary>
/// An ASP.NET Core host on Kestrel (127.0.0.1, a free port) with a bus endpoint "orders" on the in-memory transport
/// (two recurring schedules, nightly-summary and hourly-restock) and the dashboard at /bus. Cookie authentication: /test-login?role=operator signs in (the "BusOperators" policy
/// wants that role); an unauthenticated request gets 401 and a signed-in one without the role 403.
/// </summary>
public sealed class DashboardHost : IAsyncDisposable
{
    public const string Policy = "BusOperators";

    private DashboardHost(WebApplication app, string baseUrl)
    {
        App = app;
        BaseUrl = baseUrl;
    }

    public WebApplication App { get; }

    public string BaseUrl { get; }

    public OrderDesk Desk => App.Services.GetRequiredService<OrderDesk>();

    public ReportGate Reports => App.Services.GetRequiredService<ReportGate>();

    public Settlements Settled => App.Services.GetRequiredService<Settlements>();

    public IBus Bus => App.Services.GetRequiredService<IBus>();

    public IDeadLetterQueue DeadLetters => App.Services.GetRequiredService<IDeadLetterQueue>();

    public static WebApplication Build(Action<BusDashboardOptions> dashboard, bool addPolicy = true)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<OrderDesk>();
        builder.Services.AddSingleton<ReportGate>();
        builder.Services.AddSingleton<Settlements>();
        builder.Services.AddSingleton<IDeliveryObserver>(sp => sp.GetRequiredService<Settlements>());
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseInMemoryTransport();
            bus.AddHandler<PlaceOrderHandler>();
            bus.AddHandler<BuildReportHandler>();
            bus.AddHandler<NightlySummaryHandler>();
            bus.Schedule("0 2 * * *", TimeZoneInfo.FindSystemTimeZoneById("Europe/Oslo"), tick => new NightlySummary(tick), o => o.Name = "nightly-summary");
            bus.Schedule("15 * * * *", TimeZoneInfo.Utc, tick => new NightlySummary(tick), o => o.Name = "hourly-restock");
        });
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(cookies =>
        {
            cookies.Events.OnRedirectToLogin = context =>
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Task.CompletedTask;
            };
            cookies.Events.OnRedirectToAccessDenied = context =>
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return Task.CompletedTask;
            };
        });
        builder.Services.AddAuthorization(auth =>
        {
            if (addPolicy)
            {
                auth.AddPolicy(Policy, p => p.RequireRole("operator"));
            }
        });
        builder.Services.AddBusDashboard(dashboard);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/test-login", async (HttpContext http, string role) =>
        {
            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "ada"), new Claim(ClaimTypes.Role, role)], CookieAuthenticationDefaults.AuthenticationScheme);
            await http.SignInAsync(new ClaimsPrincipal(identity));
            return Results.Text("signed in as " + role);
        });
        app.MapGet("/test-logout", async (HttpContext http) =>
        {
            await http.SignOutAsync();
            return Results.Text("signed out");
        });
        return app;
    }

    public static async Task<DashboardHost> StartAsync(Action<BusDashboardOptions>? dashboard = null)
    {
        var app = Build(dashboard ?? (o => o.AuthorizationPolicy = Policy));
        app.MapBusDashboard("/bus");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new DashboardHost(app, address.TrimEnd('/'));
    }

    /// <summary>Sends an order while the desk fails orders and waits until it is dead-lettered; its message id.</summary>
    public async Task<string> DeadLetterOrderAsync(string item)
    {
        Desk.Failing = true;
        var id = Guid.NewGuid().ToString("N");
        await Bus.SendAsync(new PlaceOrder(item), new DeliveryOptions { MessageId = id });
        await Settled.WaitAsync(id, OutcomeKind.DeadLetter);
        return id;
    }

    /// <summary>Puts a message whose body is <paramref name="body"/> as it is (not JSON) on the queue; the bus cannot
    /// read it and dead-letters it. Its message id.</summary>
    public async Task<string> DeadLetterRawBodyAsync(string body)
    {
        var id = Guid.NewGuid().ToString("N");
        var headers = new Dictionary<string, string>
        {
            [MessageHeaders.MessageId] = id,
            [MessageHeaders.MessageType] = "shop.place-order",
            [MessageHeaders.ContentType] = "application/json",
        };
        var transport = App.Services.GetRequiredService<ITransport>();
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), new TransportMessage(headers, System.Text.Encoding.UTF8.GetBytes(body)))], default);
        await Settled.WaitAsync(id, OutcomeKind.DeadLetter);
        return id;
    }

    /// <summary>An HTTP client with its own cookies; signed in with <paramref name="role"/> when given.</summary>
    public async Task<HttpClient> ClientAsync(string? role)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = new Uri(BaseUrl),
        };
        if (role is not null)
        {
            (await client.GetAsync("/test-login?role=" + role)).EnsureSuccessStatusCode();
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Reports.Finish.TrySetResult();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
