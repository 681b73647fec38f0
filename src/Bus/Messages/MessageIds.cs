namespace Bus;

/// <summary>
/// New message ids: version 7 GUIDs (a millisecond timestamp, then random bits), so ids sort by when they were made.
/// The random bits come from <see cref="Random.Shared"/>: an id has to be unique, not unguessable, and the operating
/// system's cryptographic generator behind <see cref="Guid.CreateVersion7(DateTimeOffset)"/> costs a system call per
/// message.
/// </summary>
internal static class MessageIds
{
    /// <summary>A new id made at <paramref name="now"/> (formatted "D" on the wire).</summary>
    public static Guid New(DateTimeOffset now)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes);
        var milliseconds = now.ToUnixTimeMilliseconds();
        bytes[0] = (byte)(milliseconds >> 40);
        bytes[1] = (byte)(milliseconds >> 32);
        bytes[2] = (byte)(milliseconds >> 24);
        bytes[3] = (byte)(milliseconds >> 16);
        bytes[4] = (byte)(milliseconds >> 8);
        bytes[5] = (byte)milliseconds;
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F)); // version 7
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }
}
