namespace Bus;

/// <summary>The bus is configured in a way that cannot work; the message says what to change.</summary>
public sealed class BusConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BusConfigurationException(string message)
        : base(message)
    {
    }
}
