namespace Bus.Transports;

/// <summary>The entities an endpoint needs: its input queue, the topics it publishes to, its subscriptions.</summary>
/// <param name="InputQueue">The endpoint's own queue (logical name).</param>
/// <param name="PublishedTopics">Topics (event wire names) the endpoint may publish to.</param>
/// <param name="Subscriptions">Topics whose messages must reach <paramref name="InputQueue"/>.</param>
public sealed record TransportTopology(
    string InputQueue,
    IReadOnlyList<string> PublishedTopics,
    IReadOnlyList<string> Subscriptions);
