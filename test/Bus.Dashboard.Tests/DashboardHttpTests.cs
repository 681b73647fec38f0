using System.Net;
using System.Text.RegularExpressions;
using Bus.Hosting;
using Bus.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Dashboard.Tests;

/// <summary>The dashboard over HTTP on a real Kestrel: security, antiforgery, escaping and every page's content.</summary>
public sealed partial class DashboardHttpTests
{
    [Fact]
    public async Task Mapping_without_a_policy_or_AllowAnonymous_fails_at_start_up_saying_what_to_set()
    {
        await using var app = DashboardHost.Build(_ => { });
        var error = Assert.Throws<InvalidOperationException>(() => app.MapBusDashboard("/bus"));
        Assert.Contains("options.AuthorizationPolicy", error.Message, StringComparison.Ordinal);
        Assert.Contains("AllowAnonymous = true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mapping_with_a_policy_that_does_not_exist_fails_at_start_up()
    {
        await using var app = DashboardHost.Build(o => o.AuthorizationPolicy = "Nobody", addPolicy: false);
        var error = Assert.Throws<InvalidOperationException>(() => app.MapBusDashboard("/bus"));
        Assert.Contains("'Nobody', which does not exist", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(501)]
    public async Task Invalid_options_are_refused(int pageSize)
    {
        await using var app = DashboardHost.Build(o => { o.AllowAnonymous = true; o.PageSize = pageSize; });
        var error = Assert.Throws<InvalidOperationException>(() => app.MapBusDashboard("/bus"));
        Assert.Contains("PageSize must be 1 to 500", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mapping_without_AddBusDashboard_fails_at_start_up_saying_what_to_call()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = "orders";
            bus.UseInMemoryTransport();
        });
        await using var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.MapBusDashboard());
        Assert.Contains("AddBusDashboard", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_root_redirects_to_the_queues_and_a_purge_page_without_ids_is_refused()
    {
        await using var host = await DashboardHost.StartAsync();
        using var client = await host.ClientAsync("operator");
        var root = await client.GetAsync("/bus");
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/bus/queues", root.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/bus/queues/orders/dead-letters/purge")).StatusCode);
    }

    [Fact]
    public async Task A_policy_and_AllowAnonymous_together_are_refused()
    {
        await using var app = DashboardHost.Build(o => { o.AllowAnonymous = true; o.AuthorizationPolicy = DashboardHost.Policy; });
        var error = Assert.Throws<InvalidOperationException>(() => app.MapBusDashboard("/bus"));
        Assert.Contains("set only one", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bus")]
    [InlineData("/bus/")]
    public async Task A_bad_prefix_is_refused(string prefix)
    {
        await using var app = DashboardHost.Build(o => o.AllowAnonymous = true);
        Assert.Throws<InvalidOperationException>(() => app.MapBusDashboard(prefix));
    }

    [Theory]
    [InlineData("/bus/queues")]
    [InlineData("/bus/queues/orders/dead-letters")]
    [InlineData("/bus/workflows")]
    [InlineData("/bus/jobs")]
    [InlineData("/bus/schedules")]
    [InlineData("/bus/dashboard.css")]
    public async Task Every_page_refuses_anonymous_users_with_401_and_users_outside_the_policy_with_403(string path)
    {
        await using var host = await DashboardHost.StartAsync();
        using var anonymous = await host.ClientAsync(role: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path)).StatusCode);
        using var clerk = await host.ClientAsync(role: "clerk");
        Assert.Equal(HttpStatusCode.Forbidden, (await clerk.GetAsync(path)).StatusCode);
        using var operatorClient = await host.ClientAsync(role: "operator");
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task Actions_refuse_anonymous_users_and_change_nothing()
    {
        await using var host = await DashboardHost.StartAsync();
        var id = await host.DeadLetterOrderAsync("book");
        using var anonymous = await host.ClientAsync(role: null);
        var response = await anonymous.PostAsync("/bus/queues/orders/dead-letters/purge", Form(("id", id), ("confirm", "yes")));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Single(await host.DeadLetters.PeekAsync("orders", 10, default));
    }

    [Fact]
    public async Task AllowAnonymous_serves_the_dashboard_without_signing_in()
    {
        await using var host = await DashboardHost.StartAsync(o => o.AllowAnonymous = true);
        using var anonymous = await host.ClientAsync(role: null);
        var response = await anonymous.GetAsync("/bus/queues");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<table id=\"queues\">", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_send_a_content_security_policy_that_forbids_scripts()
    {
        await using var host = await DashboardHost.StartAsync();
        using var client = await host.ClientAsync("operator");
        var response = await client.GetAsync("/bus/queues");
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("script-src", csp, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_queues_page_shows_the_transports_counts()
    {
        await using var host = await DashboardHost.StartAsync();
        await host.DeadLetterOrderAsync("book");
        await host.DeadLetterOrderAsync("lamp");
        using var client = await host.ClientAsync("operator");
        var html = await client.GetStringAsync("/bus/queues");
        var row = Regex.Match(html, "<tr data-queue=\"orders\">(.*?)</tr>").Groups[1].Value;
        var cells = Regex.Matches(row, "<td[^>]*>(.*?)</td>").Select(m => Regex.Replace(m.Groups[1].Value, "<[^>]+>", string.Empty)).ToList();
        Assert.Equal(["orders", "0", "0", "0", "2", "–"], cells);
    }

    [Fact]
    public async Task Redrive_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        await using var host = await DashboardHost.StartAsync();
        var id = await host.DeadLetterOrderAsync("book");
        using var client = await host.ClientAsync("operator");
        var response = await client.PostAsync("/bus/queues/orders/dead-letters/redrive", Form(("id", id)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("antiforgery token is missing or invalid", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(await host.DeadLetters.PeekAsync("orders", 10, default));
    }

    [Fact]
    public async Task Redrive_with_the_token_moves_the_dead_letter_back_and_it_is_handled()
    {
        await using var host = await DashboardHost.StartAsync();
        var id = await host.DeadLetterOrderAsync("book");
        host.Desk.Failing = false;
        using var client = await host.ClientAsync("operator");
        var token = await TokenAsync(client, "/bus/queues/orders/dead-letters");
        var response = await client.PostAsync("/bus/queues/orders/dead-letters/redrive", Form(("id", id), ("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/bus/queues/orders/dead-letters?redriven=1", response.Headers.Location!.OriginalString);
        await host.Desk.WaitHandledAsync(id);
        Assert.Empty(await host.DeadLetters.PeekAsync("orders", 10, default));
    }

    [Fact]
    public async Task Purge_without_confirmation_is_refused_and_with_it_deletes_only_the_chosen_ids()
    {
        await using var host = await DashboardHost.StartAsync();
        var purged = await host.DeadLetterOrderAsync("book");
        var kept = await host.DeadLetterOrderAsync("lamp");
        using var client = await host.ClientAsync("operator");
        var token = await TokenAsync(client, "/bus/queues/orders/dead-letters/purge?id=" + purged);

        var unconfirmed = await client.PostAsync("/bus/queues/orders/dead-letters/purge", Form(("id", purged), ("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.BadRequest, unconfirmed.StatusCode);
        Assert.Equal(2, (await host.DeadLetters.PeekAsync("orders", 10, default)).Count);

        var confirmed = await client.PostAsync(
            "/bus/queues/orders/dead-letters/purge", Form(("id", purged), ("confirm", "yes"), ("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
        var left = Assert.Single(await host.DeadLetters.PeekAsync("orders", 10, default));
        Assert.Equal(kept, left.Message.MessageId);
    }

    [Fact]
    public async Task A_body_and_reason_with_markup_are_shown_escaped()
    {
        await using var host = await DashboardHost.StartAsync();
        const string Evil = "<script>alert('x')</script><img src=x onerror=alert(1)>";
        var id = await host.DeadLetterOrderAsync(Evil);
        var rawId = await host.DeadLetterRawBodyAsync(Evil);
        using var client = await host.ClientAsync("operator");
        var raw = await client.GetStringAsync("/bus/queues/orders/dead-letters/" + rawId);
        Assert.Contains("<pre id=\"body\">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</pre>", raw, StringComparison.Ordinal);
        foreach (var path in new[] { "/bus/queues/orders/dead-letters", "/bus/queues/orders/dead-letters/" + id, "/bus/queues/orders/dead-letters/" + rawId, "/bus/queues/orders/dead-letters/purge?id=" + id })
        {
            var html = await client.GetStringAsync(path);
            Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Dead_letters_are_filtered_by_type_and_reason()
    {
        await using var host = await DashboardHost.StartAsync();
        var book = await host.DeadLetterOrderAsync("book");
        var lamp = await host.DeadLetterOrderAsync("lamp");
        using var client = await host.ClientAsync("operator");
        var byReason = await client.GetStringAsync("/bus/queues/orders/dead-letters?reason=LAMP");
        Assert.Contains($"data-id=\"{lamp}\"", byReason, StringComparison.Ordinal);
        Assert.DoesNotContain($"data-id=\"{book}\"", byReason, StringComparison.Ordinal);
        var otherType = await client.GetStringAsync("/bus/queues/orders/dead-letters?type=shop.other");
        Assert.Contains("No dead letters match.", otherType, StringComparison.Ordinal);
        var badTime = await client.GetAsync("/bus/queues/orders/dead-letters?since=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badTime.StatusCode);
    }

    [Fact]
    public async Task Dead_letters_are_paged()
    {
        await using var host = await DashboardHost.StartAsync(o => { o.AuthorizationPolicy = DashboardHost.Policy; o.PageSize = 1; });
        var first = await host.DeadLetterOrderAsync("book");
        var second = await host.DeadLetterOrderAsync("lamp");
        using var client = await host.ClientAsync("operator");
        var page1 = await client.GetStringAsync("/bus/queues/orders/dead-letters");
        var next = WebUtility.HtmlDecode(NextPage().Match(page1).Groups[1].Value);
        Assert.NotEmpty(next);
        var page2 = await client.GetStringAsync(next);
        var ids = new[] { page1, page2 }.Select(p => Regex.Match(p, "<tr data-id=\"([^\"]+)\"").Groups[1].Value).ToHashSet();
        Assert.Equal(new HashSet<string> { first, second }, ids);
    }

    [Fact]
    public async Task The_dead_letter_page_shows_the_failure_headers_and_body()
    {
        await using var host = await DashboardHost.StartAsync();
        var id = await host.DeadLetterOrderAsync("book");
        using var client = await host.ClientAsync("operator");
        var html = await client.GetStringAsync("/bus/queues/orders/dead-letters/" + id);
        Assert.Contains("<dd id=\"reason\">Refused order for book</dd>", html, StringComparison.Ordinal);
        Assert.Contains("&quot;item&quot;:&quot;book&quot;", html, StringComparison.Ordinal);
        Assert.Contains("shop.place-order", html, StringComparison.Ordinal);
        var missing = await client.GetAsync("/bus/queues/orders/dead-letters/no-such-id");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task The_jobs_page_shows_a_running_jobs_progress()
    {
        await using var host = await DashboardHost.StartAsync();
        await host.Bus.SendAsync(new BuildReport(10));
        var id = await host.Reports.Reported.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using var client = await host.ClientAsync("operator");
        var html = await client.GetStringAsync("/bus/jobs");
        Assert.Contains($"<tr data-id=\"{id}\">", html, StringComparison.Ordinal);
        Assert.Contains("<progress max=\"10\" value=\"3\">30%</progress>", html, StringComparison.Ordinal);
        var one = await client.GetStringAsync("/bus/jobs?id=" + id);
        Assert.Contains("class=\"status-Running\">Running", one, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_workflows_page_shows_an_instance_with_its_history()
    {
        await using var host = await DashboardHost.StartAsync();
        await SaveWorkflowAsync(host);
        using var client = await host.ClientAsync("operator");
        var byId = await client.GetStringAsync("/bus/workflows?workflow=fulfilment&id=order-7");
        Assert.Contains("class=\"status-Failed\">Failed", byId, StringComparison.Ordinal);
        Assert.Contains("Card &lt;declined&gt;", byId, StringComparison.Ordinal);
        Assert.Contains("<td>shop.payment-declined</td>", byId, StringComparison.Ordinal);
        var byCorrelation = await client.GetStringAsync("/bus/workflows?workflow=fulfilment&correlation=C-7");
        Assert.Contains("order-7", byCorrelation, StringComparison.Ordinal);
        var missing = await client.GetAsync("/bus/workflows?workflow=fulfilment&id=nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task The_workflows_page_lists_a_workflows_instances_a_page_at_a_time_with_links_to_each()
    {
        await using var host = await DashboardHost.StartAsync(o =>
        {
            o.AuthorizationPolicy = DashboardHost.Policy;
            o.PageSize = 2;
        });
        await SaveWorkflowAsync(host);
        await SaveWorkflowsAsync(host);
        using var client = await host.ClientAsync("operator");

        var first = await client.GetStringAsync("/bus/workflows?workflow=fulfilment");
        Assert.Equal(["order-9", "order-8"], InstanceIds(first));
        Assert.Contains("href=\"/bus/workflows?workflow=fulfilment&amp;id=order-9\"", first, StringComparison.Ordinal);
        var next = NextPage().Match(first).Groups[1].Value.Replace("&amp;", "&", StringComparison.Ordinal);
        Assert.StartsWith("/bus/workflows?workflow=fulfilment&page=", next, StringComparison.Ordinal);
        var second = await client.GetStringAsync(next);
        Assert.Equal(["order-7"], InstanceIds(second));
        Assert.DoesNotContain("id=\"next-page\"", second, StringComparison.Ordinal);

        var failed = await client.GetStringAsync("/bus/workflows?workflow=fulfilment&status=Failed&order=id");
        Assert.Equal(["order-7", "order-9"], InstanceIds(failed));
        Assert.Contains("<option value=\"Failed\" selected>", failed, StringComparison.Ordinal);
        Assert.Contains("No instances of &#x27;nothing&#x27; match.", await client.GetStringAsync("/bus/workflows?workflow=nothing"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/bus/workflows?workflow=fulfilment&status=Sleeping")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/bus/workflows?workflow=fulfilment&page=garbage")).StatusCode);
    }

    [Fact]
    public async Task The_schedules_page_lists_schedules_and_pauses_and_resumes_them_by_antiforgery_checked_posts()
    {
        await using var host = await DashboardHost.StartAsync();
        var schedules = host.App.Services.GetRequiredService<Bus.Schedules.ISchedules>();
        using var client = await host.ClientAsync("operator");

        var html = await client.GetStringAsync("/bus/schedules");
        Assert.Contains("<tr data-name=\"nightly-summary\"><td>nightly-summary</td><td>shop.nightly-summary</td><td><code>0 2 * * *</code></td><td>Europe/Oslo</td>", html, StringComparison.Ordinal);
        Assert.Contains("data-name=\"hourly-restock\"", html, StringComparison.Ordinal);

        var forged = await client.PostAsync("/bus/schedules/nightly-summary/pause", Form());
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.False((await schedules.ListAsync()).Single(s => s.Name == "nightly-summary").Paused);

        var token = await TokenAsync(client, "/bus/schedules");
        var paused = await client.PostAsync("/bus/schedules/nightly-summary/pause", Form(("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.Redirect, paused.StatusCode);
        Assert.Equal("/bus/schedules?paused=nightly-summary", paused.Headers.Location?.OriginalString);
        var status = (await schedules.ListAsync()).Single(s => s.Name == "nightly-summary");
        Assert.True(status.Paused);
        Assert.Null(status.NextFiring);
        Assert.Contains("Paused nightly-summary.", await client.GetStringAsync("/bus/schedules?paused=nightly-summary"), StringComparison.Ordinal);

        var unknown = await client.PostAsync("/bus/schedules/no-such/pause", Form(("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("No schedule is named", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var resumed = await client.PostAsync("/bus/schedules/nightly-summary/resume", Form(("__RequestVerificationToken", token)));
        Assert.Equal(HttpStatusCode.Redirect, resumed.StatusCode);
        Assert.False((await schedules.ListAsync()).Single(s => s.Name == "nightly-summary").Paused);
    }

    private static List<string> InstanceIds(string html) => InstanceRow().Matches(html).Select(m => m.Groups[1].Value).ToList();

    [GeneratedRegex("<tr data-id=\"([^\"]+)\"><td><a href=\"/bus/workflows")]
    private static partial Regex InstanceRow();

    /// <summary>Two more instances of "fulfilment": order-8 (running, started after order-7) and order-9 (failed, newest).</summary>
    internal static async Task SaveWorkflowsAsync(DashboardHost host)
    {
        var store = host.App.Services.GetRequiredService<IWorkflowStore>();
        var at = new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await store.InsertAsync(new WorkflowInstance("fulfilment", "order-8", "C-8", 1, WorkflowStatus.Running, "{}", [new(at, "shop.order-placed", "m-8")], at, at), default);
        await store.InsertAsync(
            new WorkflowInstance("fulfilment", "order-9", "C-9", 1, WorkflowStatus.Failed, "{}", [new(at.AddHours(1), "shop.order-placed", "m-9")], at.AddHours(1), at.AddHours(1), "Out of stock"),
            default);
    }

    internal static async Task SaveWorkflowAsync(DashboardHost host)
    {
        var store = host.App.Services.GetRequiredService<IWorkflowStore>();
        var at = new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero);
        await store.InsertAsync(
            new WorkflowInstance(
                "fulfilment", "order-7", "C-7", 3, WorkflowStatus.Failed, "{\"orderId\":\"order-7\",\"step\":\"payment\"}",
                [new(at, "shop.order-placed", "m-1", "started"), new(at.AddMinutes(1), "shop.stock-reserved", "m-2"), new(at.AddMinutes(2), "shop.payment-declined", "m-3", "failed")],
                at, at.AddMinutes(2), "Card <declined>"),
            default);
    }

    internal static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    /// <summary>Reads a page (setting the antiforgery cookie) and returns the form token in it.</summary>
    private static async Task<string> TokenAsync(HttpClient client, string path)
    {
        var html = await client.GetStringAsync(path);
        var token = TokenField().Match(html).Groups[1].Value;
        Assert.NotEmpty(token);
        return token;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    [GeneratedRegex("<a href=\"([^\"]+)\" id=\"next-page\">")]
    private static partial Regex NextPage();
}
