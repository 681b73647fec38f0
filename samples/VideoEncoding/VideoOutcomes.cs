using System.Collections.Concurrent;
using Bus;
using Bus.Samples;

namespace VideoEncoding;

/// <summary>What became of each video, as told by the published events; the program waits on it.</summary>
public sealed class VideoOutcomes
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _outcomes = new(StringComparer.Ordinal);

    /// <summary>Records the outcome of <paramref name="videoId"/>.</summary>
    public void Record(string videoId, string outcome) => Slot(videoId).TrySetResult(outcome);

    /// <summary>Waits until every video has an outcome, or throws <see cref="TimeoutException"/>.</summary>
    public Task WaitForAsync(IEnumerable<string> videoIds, TimeSpan timeout) =>
        Task.WhenAll(videoIds.Select(id => Slot(id).Task)).WaitAsync(timeout);

    private TaskCompletionSource<string> Slot(string videoId) =>
        _outcomes.GetOrAdd(videoId, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>A subscriber of the outcome events (it could live in another service: it only sees the events).</summary>
public sealed class VideoOutcomeHandler(VideoOutcomes outcomes, Timeline timeline) : IHandleMessages<VideoEncoded>, IHandleMessages<VideoEncodingFailed>
{
    public Task HandleAsync(VideoEncoded message, IMessageContext context)
    {
        timeline.Add("subscriber", $"VideoEncoded {message.VideoId} after {message.Runs} run(s)");
        outcomes.Record(message.VideoId, "encoded");
        return Task.CompletedTask;
    }

    public Task HandleAsync(VideoEncodingFailed message, IMessageContext context)
    {
        timeline.Add("subscriber", $"VideoEncodingFailed {message.VideoId}: {message.Reason}");
        outcomes.Record(message.VideoId, "failed");
        return Task.CompletedTask;
    }
}
