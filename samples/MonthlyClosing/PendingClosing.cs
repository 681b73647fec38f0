namespace MonthlyClosing;

/// <summary>
/// Remembers, next to the database, that a closing was requested and not yet finished, so a restarted program resumes
/// the job waiting in the queue instead of requesting it again.
/// </summary>
public sealed class PendingClosing(string databasePath, int year, int month)
{
    private readonly string _path = $"{databasePath}.closing-{year:0000}-{month:00}.pending";

    /// <summary>The job (message) id of the pending closing, or null when none is pending.</summary>
    public string? JobId => File.Exists(_path) ? File.ReadAllText(_path).Trim() : null;

    /// <summary>Records that job <paramref name="jobId"/> was requested.</summary>
    public void Requested(string jobId) => File.WriteAllText(_path, jobId);

    /// <summary>Forgets the closing once it finished: the next run closes the month again, from scratch.</summary>
    public void Finished() => File.Delete(_path);
}
