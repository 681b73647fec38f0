using Bus;

namespace VideoEncoding;

/// <summary>Encode one uploaded video (starts a workflow per video id).</summary>
[MessageName("media.encode-video")]
public sealed record EncodeVideo(string VideoId, string FileName) : ICommand;

/// <summary>The video was encoded.</summary>
[MessageName("media.video-encoded")]
public sealed record VideoEncoded(string VideoId, int Runs) : IEvent;

/// <summary>Every run of the encoder failed; the video was given up on.</summary>
[MessageName("media.video-encoding-failed")]
public sealed record VideoEncodingFailed(string VideoId, int Runs, string Reason) : IEvent;
