using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Bus.Dashboard.Tests;

/// <summary>
/// Debian's headless chromium driven through chromedriver (both installed by build/install-chromium.sh), one per test
/// class. Screenshots go to TestResults/dashboard-screenshots at the repository root.
/// </summary>
public sealed class Browser : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string DriverDirectory = "/usr/bin";

    public Browser()
    {
        if (!File.Exists(ChromiumPath) || !File.Exists(Path.Combine(DriverDirectory, "chromedriver")))
        {
            throw new InvalidOperationException(
                $"The browser tests need {ChromiumPath} and {DriverDirectory}/chromedriver: run 'bash build/install-chromium.sh' (build/test.sh does).");
        }

        var service = ChromeDriverService.CreateDefaultService(DriverDirectory, "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,860", "--lang=en-US");
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        Driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        ScreenshotDirectory = Path.Combine(RepositoryRoot(), "TestResults", "dashboard-screenshots");
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public ChromeDriver Driver { get; }

    public string ScreenshotDirectory { get; }

    public void GoTo(string url) => Driver.Navigate().GoToUrl(url);

    public IWebElement Find(string css) => Driver.FindElement(By.CssSelector(css));

    public IReadOnlyCollection<IWebElement> FindAll(string css) => Driver.FindElements(By.CssSelector(css));

    /// <summary>Clicks and waits until the browser has left the current page and loaded the next.</summary>
    public void ClickAndWait(IWebElement element)
    {
        var before = Driver.FindElement(By.TagName("html"));
        element.Click();
        new WebDriverWait(Driver, TimeSpan.FromSeconds(30)).Until(driver =>
        {
            try
            {
                _ = before.TagName;
                return false;
            }
            catch (StaleElementReferenceException)
            {
                return ((IJavaScriptExecutor)driver).ExecuteScript("return document.readyState")?.ToString() == "complete";
            }
            catch (WebDriverException e) when (e is not WebDriverTimeoutException)
            {
                // chromedriver may answer a question about the old page with another error while the new one replaces
                // it (e.g. "Node with given id does not belong to the document"): the navigation is under way, ask again.
                return false;
            }
        });
    }

    /// <summary>Saves a PNG of the page as <paramref name="name"/>.png.</summary>
    public string Screenshot(string name)
    {
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Bus.sln")))
            {
                return dir.FullName;
            }
        }

        return AppContext.BaseDirectory;
    }
}
