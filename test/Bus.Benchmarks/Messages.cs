namespace Bus.Benchmarks;

/// <summary>The command both buses send: an int and a 32-character string.</summary>
public sealed record PingCommand(int Number, string Text) : ICommand;

/// <summary>The event both buses publish: the same shape as <see cref="PingCommand"/>.</summary>
public sealed record PingEvent(int Number, string Text) : IEvent;

/// <summary>The payload every benchmark message carries.</summary>
public static class Payload
{
    /// <summary>32 characters.</summary>
    public const string Text = "0123456789abcdefghijklmnopqrstuv";
}
