using System.CommandLine;
using Bus.Cli.Connection;
using Bus.Cli.Output;
using Bus.Transports;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Commands;

/// <summary>The options every command takes: where to connect and how to print.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Settings { get; } = new("--settings") { Description = $"JSON settings file with a \"Bus\" section (default: {ConnectionSettings.DefaultFile} in the current folder, when present)", Recursive = true };

    public Option<string?> Transport { get; } = new("--transport", "-t") { Description = $"The transport: {TransportConnectors.Names} (Bus:Transport, BUS__TRANSPORT)", Recursive = true };

    public Option<string?> Sqlite { get; } = new("--sqlite") { Description = "SQLite database file (Bus:Sqlite:DatabasePath)", Recursive = true };

    public Option<string?> Postgres { get; } = new("--postgres") { Description = "PostgreSQL connection string (Bus:PostgreSql:ConnectionString)", Recursive = true };

    public Option<string?> PostgresSchema { get; } = new("--postgres-schema") { Description = "Schema of Bus's tables, default bus (Bus:PostgreSql:Schema)", Recursive = true };

    public Option<string?> SqsRegion { get; } = new("--sqs-region") { Description = "AWS region (Bus:Sqs:Region; else AWS_REGION)", Recursive = true };

    public Option<string?> SqsEndpoint { get; } = new("--sqs-endpoint") { Description = "SQS endpoint URL, e.g. an emulator (Bus:Sqs:ServiceUrl)", Recursive = true };

    public Option<string?> SqsPrefix { get; } = new("--sqs-prefix") { Description = "Queue name prefix (Bus:Sqs:QueueNamePrefix)", Recursive = true };

    public Option<string?> SqsProfile { get; } = new("--sqs-profile") { Description = "AWS profile (Bus:Sqs:Profile)", Recursive = true };

    public Option<string?> ServiceBusConnection { get; } = new("--servicebus-connection") { Description = "Service Bus connection string (Bus:ServiceBus:ConnectionString)", Recursive = true };

    public Option<string?> ServiceBusNamespace { get; } = new("--servicebus-namespace") { Description = "Service Bus namespace, with the default Azure credential (Bus:ServiceBus:FullyQualifiedNamespace)", Recursive = true };

    public Option<string?> ServiceBusPrefix { get; } = new("--servicebus-prefix") { Description = "Entity prefix (Bus:ServiceBus:EntityPrefix)", Recursive = true };

    public Option<string?> StoreSqlite { get; } = new("--store-sqlite") { Description = "SQLite file of the job status, workflow and schedule stores (Bus:Stores:Sqlite)", Recursive = true };

    public Option<string> Output { get; } = CreateOutput();

    public IEnumerable<Option> All => [Settings, Transport, Sqlite, Postgres, PostgresSchema, SqsRegion, SqsEndpoint, SqsPrefix, SqsProfile, ServiceBusConnection, ServiceBusNamespace, ServiceBusPrefix, StoreSqlite, Output];

    /// <summary>The connection settings: file, environment, then these flags.</summary>
    public IConfigurationSection Connection(ParseResult parse) => ConnectionSettings.Load(parse.GetValue(Settings),
    [
        new("Bus:Transport", parse.GetValue(Transport)),
        new("Bus:Sqlite:DatabasePath", parse.GetValue(Sqlite)),
        new("Bus:PostgreSql:ConnectionString", parse.GetValue(Postgres)),
        new("Bus:PostgreSql:Schema", parse.GetValue(PostgresSchema)),
        new("Bus:Sqs:Region", parse.GetValue(SqsRegion)),
        new("Bus:Sqs:ServiceUrl", parse.GetValue(SqsEndpoint)),
        new("Bus:Sqs:QueueNamePrefix", parse.GetValue(SqsPrefix)),
        new("Bus:Sqs:Profile", parse.GetValue(SqsProfile)),
        new("Bus:ServiceBus:ConnectionString", parse.GetValue(ServiceBusConnection)),
        new("Bus:ServiceBus:FullyQualifiedNamespace", parse.GetValue(ServiceBusNamespace)),
        new("Bus:ServiceBus:EntityPrefix", parse.GetValue(ServiceBusPrefix)),
        new("Bus:Stores:Sqlite", parse.GetValue(StoreSqlite)),
    ]);

    /// <summary>Opens the transport the settings name.</summary>
    public ITransport ConnectTransport(ParseResult parse) => TransportConnectors.Connect(Connection(parse));

    public Printer Printer(ParseResult parse) => new(parse.GetValue(Output) == "json");

    private static Option<string> CreateOutput()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "How to print results: table (for people) or json (for scripts)",
            DefaultValueFactory = _ => "table",
            Recursive = true,
        };
        output.AcceptOnlyFromAmong("table", "json");
        return output;
    }
}
