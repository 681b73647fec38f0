// The worker process of the SQLite crash tests (test/Bus.Sqlite.Tests/CrashTests.cs), on the shared crash worker
// (test/Shared/CrashWorker):
//   enqueue --db <bus.db> --log <executions.db> --jobs <n>   creates the execution log and sends n CrashJob commands
//   work    --db <bus.db> --log <executions.db> --concurrency <n>   handles CrashJob until SIGTERM (or SIGKILL)
// Protocol on stdout, one line each: "ready", "step <job> <step>" when a step starts, "done <job>" when a job's
// handler returns. Logs go to stderr.
using Bus.CrashTesting;
using Bus.Sqlite.CrashWorker;

return await CrashWorkerProgram.RunAsync(args, new SqliteCrashStorage());
