namespace Bus.Transports;

/// <summary>The lease on a received message expired or was taken over; the message may be delivered elsewhere.</summary>
public sealed class LeaseLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LeaseLostException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
