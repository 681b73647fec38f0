namespace Bus.Sqlite.Tests;

/// <summary>A database file in a temp folder, deleted (with its WAL files) on dispose.</summary>
internal sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "bus-sqlite-tests");
        Directory.CreateDirectory(folder);
        Path = System.IO.Path.Combine(folder, $"{Guid.NewGuid():N}.db");
    }

    public string Path { get; }

    public string ConnectionString => $"Data Source={Path}";

    public void Dispose()
    {
        foreach (var file in new[] { Path, Path + "-wal", Path + "-shm", Path + "-journal" })
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // Still open elsewhere; the temp folder is cleaned by the OS.
            }
        }
    }
}
