namespace Bus.Dashboard;

/// <summary>How the bus dashboard is secured and what it shows. Set with
/// <see cref="DashboardServiceCollectionExtensions.AddBusDashboard"/>; validated when the dashboard is mapped.</summary>
public sealed class BusDashboardOptions
{
    /// <summary>The largest <see cref="PageSize"/>.</summary>
    public const int MaxPageSize = 500;

    /// <summary>The name of the authorization policy every dashboard page and action requires (added with
    /// <c>services.AddAuthorization(o =&gt; o.AddPolicy(name, ...))</c>). Required unless <see cref="AllowAnonymous"/>.</summary>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>Serve the dashboard to anyone who can reach it, without authorization. Off by default: only for a
    /// host that is private by other means (a local tool, a network that only operators reach).</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>The title shown on every page. Default "Bus".</summary>
    public string Title { get; set; } = "Bus";

    /// <summary>Dead letters and jobs shown per page, 1 to <see cref="MaxPageSize"/>. Default 50.</summary>
    public int PageSize { get; set; } = 50;

    /// <summary>Checks the options; throws with what to change.</summary>
    /// <exception cref="InvalidOperationException">The options cannot work; the message says what to set.</exception>
    public void Validate()
    {
        if (AllowAnonymous && !string.IsNullOrWhiteSpace(AuthorizationPolicy))
        {
            throw new InvalidOperationException(
                $"The bus dashboard has both AuthorizationPolicy ('{AuthorizationPolicy}') and AllowAnonymous = true; set only one.");
        }

        if (!AllowAnonymous && string.IsNullOrWhiteSpace(AuthorizationPolicy))
        {
            throw new InvalidOperationException(
                "The bus dashboard needs an authorization policy: set options.AuthorizationPolicy to the name of a policy added with " +
                "services.AddAuthorization(o => o.AddPolicy(\"BusOperators\", p => ...)) in AddBusDashboard(options => ...), or set " +
                "options.AllowAnonymous = true to serve it to anyone who can reach the host.");
        }

        if (PageSize is < 1 or > MaxPageSize)
        {
            throw new InvalidOperationException($"BusDashboardOptions.PageSize must be 1 to {MaxPageSize}; it is {PageSize}.");
        }

        if (string.IsNullOrWhiteSpace(Title))
        {
            throw new InvalidOperationException("BusDashboardOptions.Title must not be empty.");
        }
    }
}
