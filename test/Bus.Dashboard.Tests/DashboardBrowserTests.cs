using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;

namespace Bus.Dashboard.Tests;

/// <summary>The dashboard in a real headless chromium: clicking through redrive and purge, refusing an unauthorised
/// visitor, escaping a hostile body, and a screenshot of every page.</summary>
public sealed class DashboardBrowserTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task Redriving_a_dead_letter_by_clicking_gets_it_handled()
    {
        await using var host = await DashboardHost.StartAsync();
        var id = await host.DeadLetterOrderAsync("walnut desk");
        SignIn(host);

        browser.GoTo(host.BaseUrl + "/bus/queues");
        Assert.Equal("1", browser.Find("tr[data-queue='orders'] td:nth-child(5)").Text);
        browser.Screenshot("queues");
        browser.ClickAndWait(browser.Find("tr[data-queue='orders'] td:nth-child(5) a"));
        Assert.Equal("Dead letters of orders", browser.Find("h1").Text);
        browser.Screenshot("dead-letters");
        browser.ClickAndWait(browser.Find($"tr[data-id='{id}'] a"));
        Assert.Equal("Refused order for walnut desk", browser.Find("#reason").Text);
        Assert.Contains("\"item\":\"walnut desk\"", browser.Find("#body").Text, StringComparison.Ordinal);
        browser.Screenshot("dead-letter");

        host.Desk.Failing = false;
        browser.ClickAndWait(browser.Find("#redrive-one button"));
        Assert.Equal("Redrove 1 dead letter to the queue.", browser.Find("#notice").Text);
        await host.Desk.WaitHandledAsync(id);
        Assert.Empty(await host.DeadLetters.PeekAsync("orders", 10, default));
    }

    [Fact]
    public async Task Purging_asks_for_confirmation_and_deletes_after_it()
    {
        await using var host = await DashboardHost.StartAsync();
        await host.DeadLetterOrderAsync("book");
        await host.DeadLetterOrderAsync("lamp");
        SignIn(host);

        browser.GoTo(host.BaseUrl + "/bus/queues/orders/dead-letters");
        browser.ClickAndWait(browser.Find("#purge-shown"));
        Assert.Equal("Purge dead letters of orders", browser.Find("h1").Text);
        Assert.Equal(2, browser.FindAll("#to-purge tbody tr").Count);
        browser.Screenshot("purge-confirmation");
        Assert.Equal(2, (await host.DeadLetters.PeekAsync("orders", 10, default)).Count); // asking deleted nothing

        browser.ClickAndWait(browser.Find("#cancel-purge"));
        Assert.Equal(2, (await host.DeadLetters.PeekAsync("orders", 10, default)).Count);

        browser.ClickAndWait(browser.Find("#purge-shown"));
        browser.ClickAndWait(browser.Find("#confirm-purge-button"));
        Assert.Equal("Purged 2 dead letters for good.", browser.Find("#notice").Text);
        Assert.Empty(await host.DeadLetters.PeekAsync("orders", 10, default));
    }

    [Fact]
    public async Task An_unauthorised_visitor_is_refused()
    {
        await using var host = await DashboardHost.StartAsync();
        await host.DeadLetterOrderAsync("book");
        SignOut(host);

        browser.GoTo(host.BaseUrl + "/bus/queues");
        Assert.Empty(browser.FindAll("#queues"));
        browser.Screenshot("unauthorised");
        using var anonymous = await host.ClientAsync(role: null);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/bus/queues")).StatusCode);

        browser.GoTo(host.BaseUrl + "/test-login?role=clerk");
        browser.GoTo(host.BaseUrl + "/bus/queues/orders/dead-letters");
        Assert.Empty(browser.FindAll("#dead-letters"));
        using var clerk = await host.ClientAsync(role: "clerk");
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await clerk.GetAsync("/bus/queues/orders/dead-letters")).StatusCode);
    }

    [Fact]
    public async Task A_body_that_looks_like_a_script_is_shown_as_text()
    {
        await using var host = await DashboardHost.StartAsync();
        const string Evil = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";
        var rawId = await host.DeadLetterRawBodyAsync(Evil);
        var reasonId = await host.DeadLetterOrderAsync(Evil);
        SignIn(host);

        browser.GoTo(host.BaseUrl + "/bus/queues/orders/dead-letters/" + rawId);
        Assert.Equal(Evil, browser.Find("#body").Text);
        Assert.NotEqual("pwned", browser.Driver.Title);
        Assert.Empty(browser.FindAll("main script, main img"));
        browser.Screenshot("dead-letter-escaped");

        browser.GoTo(host.BaseUrl + "/bus/queues/orders/dead-letters/" + reasonId);
        Assert.Equal("Refused order for " + Evil, browser.Find("#reason").Text);
        Assert.NotEqual("pwned", browser.Driver.Title);
        Assert.Empty(browser.FindAll("main script, main img"));

        browser.GoTo(host.BaseUrl + "/bus/queues/orders/dead-letters");
        Assert.NotEqual("pwned", browser.Driver.Title);
        Assert.Equal("Refused order for " + Evil, browser.Find($"tr[data-id='{reasonId}'] td:nth-child(3)").Text);
        Assert.Empty(browser.FindAll("main script, main img"));
    }

    [Fact]
    public async Task Jobs_workflows_and_schedules_pages_render()
    {
        await using var host = await DashboardHost.StartAsync();
        await host.Bus.SendAsync(new BuildReport(10));
        var jobId = await host.Reports.Reported.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await DashboardHttpTests.SaveWorkflowAsync(host);
        SignIn(host);

        browser.GoTo(host.BaseUrl + "/bus/jobs");
        var bar = browser.Find($"tr[data-id='{jobId}'] progress");
        Assert.Equal("3", bar.GetAttribute("value"));
        Assert.Equal("10", bar.GetAttribute("max"));
        browser.Screenshot("jobs");

        browser.GoTo(host.BaseUrl + "/bus/workflows");
        browser.Find("#workflow").SendKeys("fulfilment");
        browser.Find("#id").SendKeys("order-7");
        browser.ClickAndWait(browser.Find("#find-workflow button"));
        Assert.Equal("Failed", browser.Find("#workflow-status").Text);
        Assert.Equal(3, browser.FindAll("#workflow-history tbody tr").Count);
        browser.Screenshot("workflows");

        browser.ClickAndWait(browser.Driver.FindElement(By.LinkText("Schedules")));
        Assert.Equal(2, browser.FindAll("#schedules tbody tr").Count);
        browser.Screenshot("schedules");
    }

    [Fact]
    public async Task Pausing_and_resuming_a_schedule_by_clicking_changes_it_in_the_store()
    {
        await using var host = await DashboardHost.StartAsync();
        var schedules = host.App.Services.GetRequiredService<Bus.Schedules.ISchedules>();
        SignIn(host);

        browser.GoTo(host.BaseUrl + "/bus/schedules");
        const string Row = "tr[data-name='nightly-summary']";
        Assert.Equal("Active", browser.Find(Row + " td.state").Text);
        Assert.Equal("Europe/Oslo", browser.Find(Row + " td:nth-child(4)").Text);
        Assert.NotEqual("–", browser.Find(Row + " td.next").Text);

        browser.ClickAndWait(browser.Find(Row + " button[name='pause']"));
        Assert.Equal("Paused nightly-summary.", browser.Find("#notice").Text);
        Assert.Equal("Paused", browser.Find(Row + " td.state").Text);
        Assert.Equal("–", browser.Find(Row + " td.next").Text);
        Assert.Equal("Active", browser.Find("tr[data-name='hourly-restock'] td.state").Text);
        Assert.True((await schedules.ListAsync()).Single(s => s.Name == "nightly-summary").Paused);
        browser.Screenshot("schedules-paused");

        browser.ClickAndWait(browser.Find(Row + " button[name='resume']"));
        Assert.Equal("Resumed nightly-summary.", browser.Find("#notice").Text);
        Assert.Equal("Active", browser.Find(Row + " td.state").Text);
        Assert.False((await schedules.ListAsync()).Single(s => s.Name == "nightly-summary").Paused);
    }

    [Fact]
    public async Task The_workflow_list_links_to_each_instance_with_its_history()
    {
        await using var host = await DashboardHost.StartAsync();
        await DashboardHttpTests.SaveWorkflowAsync(host);
        await DashboardHttpTests.SaveWorkflowsAsync(host);
        SignIn(host);

        browser.GoTo(host.BaseUrl + "/bus/workflows");
        browser.Find("#workflow").SendKeys("fulfilment");
        browser.ClickAndWait(browser.Find("#find-workflow button"));
        Assert.Equal(["order-9", "order-8", "order-7"], browser.FindAll("#workflow-instances tbody tr").Select(r => r.GetAttribute("data-id")));
        Assert.Equal("Out of stock", browser.Find("tr[data-id='order-9'] td:nth-child(7)").Text);
        browser.Screenshot("workflow-list");

        browser.Find("#status option[value='Failed']").Click();
        browser.ClickAndWait(browser.Find("#find-workflow button"));
        Assert.Equal(["order-9", "order-7"], browser.FindAll("#workflow-instances tbody tr").Select(r => r.GetAttribute("data-id")));

        browser.ClickAndWait(browser.Find("tr[data-id='order-7'] a"));
        Assert.Equal("Failed", browser.Find("#workflow-status").Text);
        Assert.Equal(3, browser.FindAll("#workflow-history tbody tr").Count);
        browser.ClickAndWait(browser.Find("#back-to-list"));
        Assert.Equal(3, browser.FindAll("#workflow-instances tbody tr").Count);
    }

    /// <summary>Signs out: cookies belong to 127.0.0.1 whatever the port, so an earlier test's sign-in would
    /// otherwise still count.</summary>
    private void SignOut(DashboardHost host)
    {
        browser.GoTo(host.BaseUrl + "/test-logout");
        Assert.Contains("signed out", browser.Find("body").Text, StringComparison.Ordinal);
    }

    private void SignIn(DashboardHost host)
    {
        browser.GoTo(host.BaseUrl + "/test-login?role=operator");
        Assert.Contains("signed in as operator", browser.Find("body").Text, StringComparison.Ordinal);
    }
}
