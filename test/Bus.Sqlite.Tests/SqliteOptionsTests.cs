using Bus.Transports;

namespace Bus.Sqlite.Tests;

public sealed class SqliteOptionsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Empty_database_path_or_connection_string_is_rejected(string value)
    {
        var options = new SqliteTransportOptions();

        Assert.Throws<ArgumentException>(() => options.DatabasePath = value);
        Assert.Throws<ArgumentException>(() => options.ConnectionString = value);
        Assert.Throws<ArgumentException>(() => new SqliteStepStore(value));
        Assert.Throws<ArgumentException>(() => new SqliteWorkflowStore(value));
        Assert.Throws<ArgumentException>(() => SqliteStepStore.ForFile(value));
        Assert.Throws<ArgumentException>(() => SqliteWorkflowStore.ForFile(value));
    }

    [Theory]
    [InlineData("Data Source=:memory:")]
    [InlineData("Data Source=bus;Mode=Memory;Cache=Shared")]
    [InlineData("Mode=ReadWriteCreate")]
    [InlineData("Data Source=bus.db;Mode=ReadOnly")]
    [InlineData("not a connection string")]
    public void Connection_strings_without_a_writable_file_are_rejected(string connectionString)
    {
        var error = Assert.Throws<ArgumentException>(() => new SqliteTransportOptions { ConnectionString = connectionString });

        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.Throws<ArgumentException>(() => new SqliteWorkflowStore(connectionString));
    }

    [Fact]
    public void Neither_or_both_of_path_and_connection_string_is_rejected()
    {
        var neither = Assert.Throws<ArgumentException>(() => new SqliteTransport(new SqliteTransportOptions()));
        Assert.Contains("DatabasePath", neither.Message);

        var both = Assert.Throws<ArgumentException>(() => new SqliteTransport(new SqliteTransportOptions
        {
            DatabasePath = "a.db",
            ConnectionString = "Data Source=b.db",
        }));
        Assert.Contains("only one", both.Message);
    }

    [Fact]
    public void Synchronous_is_full_unless_normal_is_chosen_and_other_values_are_rejected()
    {
        var options = new SqliteTransportOptions();
        Assert.Equal(SqliteSynchronous.Full, options.Synchronous);

        options.Synchronous = SqliteSynchronous.Normal;
        Assert.Equal(SqliteSynchronous.Normal, options.Synchronous);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => options.Synchronous = (SqliteSynchronous)3);
        Assert.Contains("SqliteSynchronous.Full", error.Message);
        Assert.Equal(SqliteSynchronous.Normal, options.Synchronous);
    }

    [Fact]
    public void Out_of_range_poll_interval_and_message_size_are_rejected()
    {
        var options = new SqliteTransportOptions();

        Assert.Throws<ArgumentOutOfRangeException>(() => options.PollInterval = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.PollInterval = TimeSpan.FromMinutes(6));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxMessageSize = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxMessageSize = SqliteTransportOptions.MaxMessageSizeLimit + 1);
    }

    [Fact]
    public async Task Defaults_and_capabilities()
    {
        using var database = new TempDatabase();
        var options = new SqliteTransportOptions { DatabasePath = database.Path };
        await using var transport = new SqliteTransport(options);

        Assert.Equal(TimeSpan.FromSeconds(1), options.PollInterval);
        Assert.Equal(1024 * 1024, transport.Capabilities.MaxMessageSize);
        Assert.Equal("sqlite", transport.Capabilities.Name);
        Assert.True(transport.Capabilities.CanRenewLease);
        Assert.True(transport.Capabilities.PublishSubscribe);
        Assert.True(transport.Capabilities.Redrive);
        Assert.True(transport.Capabilities.MaxLeaseDuration >= TimeSpan.FromDays(1));
        Assert.True(transport.Capabilities.MaxDelay >= TimeSpan.FromDays(30));
        Assert.Equal(Path.GetFullPath(database.Path), transport.DatabasePath);
        Assert.IsAssignableFrom<ITransport>(transport);
    }
}
