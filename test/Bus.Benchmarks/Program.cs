using System.Globalization;
using System.Runtime.InteropServices;
using Bus.Benchmarks;

// Bus vs MassTransit on their in-memory transports, then SQS request cost against fauxqs.
// Usage: dotnet run -c Release --project test/Bus.Benchmarks -- [--quick] [--skip-in-memory] [--skip-sqs] [--profile-allocations] [--isolated] [--sqlite] [--skip-sqlite] [--postgres] [--skip-postgres]
var options = BenchmarkOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: Bus.Benchmarks [--quick] [--skip-in-memory] [--skip-sqs] [--profile-allocations] [--isolated] [--sqlite] [--skip-sqlite] [--postgres] [--skip-postgres]");
    return 2;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"Bus.Benchmarks {(options.Quick ? "--quick" : "full")} | {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC | {RuntimeInformation.FrameworkDescription} | {RuntimeInformation.OSDescription} | {Environment.ProcessorCount} cores"));
var total = System.Diagnostics.Stopwatch.StartNew();
if (options.ProfileAllocations)
{
    Console.WriteLine(await AllocationProfile.RunAsync(options.ThroughputMessages, options.LatencyMessages * 10).ConfigureAwait(false));
    return 0;
}

if (options.Isolated)
{
    Console.WriteLine(await IsolatedCosts.RunAsync(options).ConfigureAwait(false));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {total.Elapsed.TotalSeconds:0} s"));
    return 0;
}

if (options.SqliteOnly)
{
    Console.WriteLine(await SqliteComparison.RunAsync(options).ConfigureAwait(false));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {total.Elapsed.TotalSeconds:0} s"));
    return 0;
}

if (options.PostgreSqlOnly)
{
    Console.WriteLine(await PostgreSqlComparison.RunAsync(options).ConfigureAwait(false));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {total.Elapsed.TotalSeconds:0} s"));
    return 0;
}

if (!options.SkipInMemory)
{
    var table = await InMemoryComparison.RunAsync(options).ConfigureAwait(false);
    Console.WriteLine();
    Console.WriteLine(table);
}

if (!options.SkipSqlite)
{
    Console.WriteLine();
    Console.WriteLine(await SqliteComparison.RunAsync(options).ConfigureAwait(false));
}

if (!options.SkipPostgreSql)
{
    Console.WriteLine();
    Console.WriteLine(await PostgreSqlComparison.RunAsync(options).ConfigureAwait(false));
}

if (!options.SkipSqs)
{
    Console.WriteLine();
    Console.WriteLine(await SqsRequestCost.RunAsync(options).ConfigureAwait(false));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {total.Elapsed.TotalSeconds:0} s"));
return 0;
