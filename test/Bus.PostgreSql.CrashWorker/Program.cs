// The worker process of the PostgreSQL crash tests (test/Bus.PostgreSql.Tests/CrashTests.cs), on the shared crash
// worker (test/Shared/CrashWorker):
//   enqueue --db <connection string> --schema <name> --jobs <n>   creates the execution log and sends n CrashJob commands
//   work    --db <connection string> --schema <name> --concurrency <n>   handles CrashJob until SIGTERM (or SIGKILL)
// Protocol on stdout, one line each: "ready", "step <job> <step>" when a step starts, "done <job>" when a job's
// handler returns. Logs go to stderr.
using Bus.CrashTesting;
using Bus.PostgreSql.CrashWorker;

return await CrashWorkerProgram.RunAsync(args, new PostgreSqlCrashStorage());
